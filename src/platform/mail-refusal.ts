/**
 * Whether an SMTP reply refuses one message for good. The email job stops trying such a message
 * (`undeliverable`), so this errs towards "retry": a 5xx is often about the shop's side, and
 * true of every message until someone fixes it — relaying refused until we authenticate
 * (`554 5.7.1 Relay access denied`), a sending quota (`550 5.4.5 Daily user sending quota
 * exceeded`), a full mailbox (`552 5.2.2`, which RFC 5321 says to treat as 452), policy blocks.
 *
 * Refused for good: a 5xx whose enhanced status code (RFC 3463) is about the recipient's
 * address (5.1.x: no such user or domain, bad address), the mailbox being disabled (5.2.1), the
 * message's size (5.3.4) or its content (5.6.x); without an enhanced code, the replies RFC 5321
 * gives for a recipient that does not exist (550, 551, 553 to RCPT TO).
 *
 * Not the sender's address, though it may answer RCPT TO: 5.1.7 and 5.1.8 are about the sender
 * (RFC 3463), and Postfix checks its sender restrictions at RCPT TO ("Sender address rejected",
 * under any code, 5.1.0 included). That is MAIL_FROM or its domain, true of every message.
 */
export function refusesForGood(reply: { code: number; text: string; command: string }): boolean {
  if (reply.code < 500 || reply.code > 599) return false;
  if (reply.command !== 'RCPT TO' && reply.command !== 'DATA') return false;
  if (/\bSender address rejected\b/i.test(reply.text)) return false;
  const enhanced = /^\d{3}[ -]5\.(\d{1,3})\.(\d{1,3})\b/.exec(reply.text);
  if (enhanced) {
    const [subject, detail] = [Number(enhanced[1]), Number(enhanced[2])];
    const aboutSender = subject === 1 && (detail === 7 || detail === 8);
    return (subject === 1 && !aboutSender) || subject === 6 || (subject === 2 && detail === 1) || (subject === 3 && detail === 4);
  }
  return reply.command === 'RCPT TO' && [550, 551, 553].includes(reply.code);
}
