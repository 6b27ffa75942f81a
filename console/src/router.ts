import { signal } from '@preact/signals';

/** The page is chosen by the URL fragment (`#/orders/…`): bookmarkable, and nothing secret is ever in it. */
export const route = signal(readRoute());

function readRoute(): string {
  return location.hash.replace(/^#/, '') || '/';
}

addEventListener('hashchange', () => {
  route.value = readRoute();
});

export function navigate(path: string): void {
  if (readRoute() === path) return;
  location.hash = path;
}

/** `/orders/:id` style matching; returns the named parts or null. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const names: string[] = [];
  const regex = new RegExp('^' + pattern.replace(/:([a-z]+)/g, (_, name: string) => (names.push(name), '([^/]+)')) + '/?$');
  const found = regex.exec(path.split('?')[0] ?? '');
  if (!found) return null;
  return Object.fromEntries(names.map((name, index) => [name, decodePart(found[index + 1] ?? '')]));
}

/** A hand-edited or cut-off link may hold a broken `%` escape: decoding it would throw while rendering and blank the page. */
function decodePart(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}
