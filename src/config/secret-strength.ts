/** What a random secret of 256 bits needs; HS256 keys should be at least that strong. */
const MIN_BITS = 256;
const MIN_DISTINCT_CHARACTERS = 16;

/** The alphabet a secret seems drawn from, by the character classes it uses. */
function alphabetSize(secret: string): number {
  const onlyHex = /^[0-9a-f]+$/i.test(secret);
  if (onlyHex) return 16;
  let size = 0;
  if (/[0-9]/.test(secret)) size += 10;
  if (/[a-z]/.test(secret)) size += 26;
  if (/[A-Z]/.test(secret)) size += 26;
  if (/[^0-9a-zA-Z]/.test(secret)) size += 33;
  return size;
}

/**
 * Why a secret looks guessable, or undefined. The estimate is generous (length × log2 of the
 * alphabet its character classes suggest), so it catches repeated letters, words and short hex
 * while `openssl rand -base64 48` or `-hex 32` pass.
 */
export function secretWeakness(secret: string): string | undefined {
  const alphabet = alphabetSize(secret);
  // A random hex secret can miss a digit or two (64 random digits lack one 2.5 % of the time),
  // so a small alphabet asks for three quarters of its characters, not all sixteen.
  const needed = Math.min(MIN_DISTINCT_CHARACTERS, Math.ceil(alphabet * 0.75));
  const distinct = new Set(secret).size;
  if (distinct < needed) return `has only ${distinct} distinct characters (at least ${needed} needed)`;
  const bits = Math.floor(secret.length * Math.log2(alphabet));
  if (bits < MIN_BITS) return `is too weak (about ${bits} bits estimated, at least ${MIN_BITS} needed)`;
  return undefined;
}
