import { describe, expect, it } from 'vitest';
import { refusesForGood } from './mail-refusal.js';

const reply = (text: string, command = 'RCPT TO') => ({ code: Number(text.slice(0, 3)), text, command });

describe('refusesForGood: only replies about this recipient or this message', () => {
  it.each([
    '550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown',
    '550 5.1.2 Host unknown',
    '553 5.1.3 Bad recipient address syntax',
    '550 5.2.1 Mailbox disabled, not accepting messages',
    '550 No such user here',
    '551 User not local',
    '553 Requested action not taken: mailbox name not allowed',
  ])('%s, to RCPT TO: for good', (text) => {
    expect(refusesForGood(reply(text))).toBe(true);
  });

  it.each(['554 5.6.0 Message content rejected', '552 5.3.4 Message size exceeds fixed limit'])('%s, to DATA: for good', (text) => {
    expect(refusesForGood(reply(text, 'DATA'))).toBe(true);
  });

  it.each([
    ['554 5.7.1 <buyer@example.com>: Relay access denied', 'RCPT TO'],
    ['552 5.2.2 Mailbox full', 'RCPT TO'],
    ['552 Requested mail action aborted: exceeded storage allocation', 'RCPT TO'],
    ['550 5.4.5 Daily user sending quota exceeded. - gsmtp', 'DATA'],
    ['550 5.7.1 Service unavailable; client host blocked', 'RCPT TO'],
    ['554 Transaction failed', 'DATA'],
    ['530 5.7.0 Authentication required', 'RCPT TO'],
    ['550 5.1.1 looks permanent but answers MAIL FROM', 'MAIL FROM'],
    // About the shop's sender address, answered at RCPT TO (Postfix checks its sender restrictions there).
    ['550 5.1.8 <shop@example.com>: Sender address rejected: Domain not found', 'RCPT TO'],
    ['553 5.1.7 The sender address is not a valid address', 'RCPT TO'],
    ['550 5.1.0 <shop@example.com>: Sender address rejected: User unknown in virtual mailbox table', 'RCPT TO'],
    ['535 5.7.8 Authentication credentials invalid', 'AUTH PLAIN'],
    ['450 4.2.1 Mailbox busy', 'RCPT TO'],
    ['421 4.7.0 Try again later', 'DATA'],
  ])('%s, to %s: retried', (text, command) => {
    expect(refusesForGood(reply(text, command))).toBe(false);
  });
});
