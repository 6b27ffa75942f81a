/**
 * The path (`items.0.name`) of the first string or key holding a NUL character, or undefined.
 * Iterative: a 100 KB body can nest ~50 000 levels deep, too deep for recursion.
 */
export function findNul(root: unknown): string | undefined {
  const stack: [unknown, string][] = [[root, '']];
  for (let next = stack.pop(); next; next = stack.pop()) {
    const [value, path] = next;
    if (typeof value === 'string') {
      if (value.includes('\u0000')) return path;
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    for (const [key, child] of Object.entries(value)) {
      const childPath = path ? `${path}.${key}` : key;
      if (key.includes('\u0000')) return childPath;
      stack.push([child, childPath]);
    }
  }
  return undefined;
}
