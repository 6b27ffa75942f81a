/** A character no field can store as sent, and what a client is told about it. */
const UNSTORABLE: readonly { find: RegExp; message: string }[] = [
  // PostgreSQL text cannot hold NUL.
  // eslint-disable-next-line no-control-regex -- matching the control character is the point
  { find: /\u0000/, message: 'must not contain NUL characters' },
  // A lone half of a UTF-16 surrogate pair (a `\uD800` escape in the JSON) has no UTF-8 form: it
  // would be stored as U+FFFD, so what was saved differs from what was sent, and two passwords
  // that differ only there would hash alike.
  { find: /\p{Cs}/u, message: 'must not contain unpaired UTF-16 surrogates (\\uD800–\\uDFFF escapes)' },
];

function unstorable(text: string): string | undefined {
  return UNSTORABLE.find(({ find }) => find.test(text))?.message;
}

/**
 * The path (`items.0.name`) of the first string or key holding a character no field can store
 * (NUL, an unpaired surrogate), with why; undefined when there is none.
 * Iterative: a 100 KB body can nest ~50 000 levels deep, too deep for recursion.
 */
export function findUnstorableText(root: unknown): { path: string; message: string } | undefined {
  const stack: [unknown, string][] = [[root, '']];
  for (let next = stack.pop(); next; next = stack.pop()) {
    const [value, path] = next;
    if (typeof value === 'string') {
      const message = unstorable(value);
      if (message) return { path, message };
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    for (const [key, child] of Object.entries(value)) {
      const childPath = path ? `${path}.${key}` : key;
      const message = unstorable(key);
      if (message) return { path: childPath, message };
      stack.push([child, childPath]);
    }
  }
  return undefined;
}
