import { signal } from '@preact/signals';
import type { User } from './types.js';

/** The signed-in user; null shows the sign-in page. */
export const currentUser = signal<User | null>(null);
/** Why the last session ended, shown on the sign-in page. */
export const sessionNotice = signal<string | null>(null);
/** Said while signed in when the server no longer gives the user the rights sign-in gave (demoted). */
export const rightsNotice = signal<string | null>(null);

interface Tokens {
  accessToken: string;
  refreshToken: string;
}
interface TokenAnswer extends Tokens {
  user?: User;
}

/** One sign-in: its tokens (replaced at each refresh) and the refresh on its way, if any. */
interface Session {
  tokens: Tokens;
  refreshing: Promise<boolean> | null;
}

// Tokens live in this module's memory only: never in a URL, cookie or Web Storage. A reload signs out.
let session: Session | null = null;

/** An API failure, in the words of the problem+json `detail` when the server sent one. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    readonly errors: readonly { path?: string; message?: string }[] = [],
  ) {
    super(message);
  }
}

async function problemOf(res: Response): Promise<ApiError> {
  const body = (await res.json().catch(() => null)) as { detail?: unknown; title?: unknown; code?: unknown; errors?: unknown } | null;
  const detail = typeof body?.detail === 'string' ? body.detail : typeof body?.title === 'string' ? body.title : `The server answered ${res.status}.`;
  const code = typeof body?.code === 'string' ? body.code : 'HTTP_' + res.status;
  return new ApiError(detail, res.status, code, Array.isArray(body?.errors) ? (body.errors as ApiError['errors']) : []);
}

/** A network failure, in plain words. */
function offline(error: unknown): never {
  if (error instanceof DOMException && error.name === 'AbortError') throw error;
  throw new ApiError('The server could not be reached. Check the connection and try again.', 0, 'NETWORK');
}

function endSession(notice: string | null): void {
  session = null;
  currentUser.value = null;
  sessionNotice.value = notice;
}

async function post<T>(path: string, body: unknown): Promise<T> {
  const res = await fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: JSON.stringify(body) }).catch(offline);
  if (!res.ok) throw await problemOf(res);
  return (res.status === 204 ? undefined : await res.json()) as T;
}

export async function signIn(email: string, password: string): Promise<void> {
  start(await post<TokenAnswer>('/api/auth/login', { email, password }));
}

/** Creates a customer account and signs it in. */
export async function register(email: string, password: string, name: string): Promise<void> {
  start(await post<TokenAnswer>('/api/auth/register', name ? { email, password, name } : { email, password }));
}

function start(answer: TokenAnswer): void {
  session = { tokens: { accessToken: answer.accessToken, refreshToken: answer.refreshToken }, refreshing: null };
  sessionNotice.value = null;
  rightsNotice.value = null;
  currentUser.value = answer.user ?? null;
}

/**
 * Changes the signed-in user's password. The server signs out every session of the account and
 * answers a new sign-in, which replaces this one's tokens: this page stays signed in.
 */
export async function changePassword(currentPassword: string, newPassword: string): Promise<void> {
  const mine = session;
  const answer = await api<TokenAnswer>('/api/auth/password', { method: 'POST', body: { currentPassword, newPassword } });
  if (session === mine && mine) mine.tokens = { accessToken: answer.accessToken, refreshToken: answer.refreshToken };
}

/** Revokes this sign-in's refresh-token family on the server, then forgets the tokens. */
export async function signOut(): Promise<void> {
  const refreshToken = session?.tokens.refreshToken;
  endSession('You have signed out.');
  if (refreshToken) await post('/api/auth/logout', { refreshToken }).catch(() => undefined);
}

/**
 * Rotates the session's refresh token once, however many requests ask at the same moment: true
 * when rotated, false when the server refused the token (the session is over). A server out of
 * reach or failing (network error, 5xx, 429) throws instead: the token may still be good, so
 * that is no reason to sign the user out.
 */
function refresh(mine: Session): Promise<boolean> {
  const current = mine.tokens;
  mine.refreshing ??= post<TokenAnswer>('/api/auth/refresh', { refreshToken: current.refreshToken })
    .then((answer) => {
      if (mine.tokens === current) mine.tokens = { accessToken: answer.accessToken, refreshToken: answer.refreshToken };
      return true;
    })
    .catch((error: unknown) => {
      if (error instanceof ApiError && error.status >= 400 && error.status < 500 && error.status !== 429) return false;
      throw new ApiError('The server could not renew your session just now. Try again in a moment.', error instanceof ApiError ? error.status : 0, 'NETWORK');
    })
    .finally(() => {
      mine.refreshing = null;
    });
  return mine.refreshing;
}

let recheckingRole: Promise<void> | null = null;

/**
 * A 403 to an admin may mean its rights ended (demoted while signed in), and so may a 404: another
 * customer's order, or its stream, is no longer the demoted admin's to see. The user as the server
 * now answers it replaces the one sign-in gave, so the header and the menu stop offering admin
 * pages that would only be refused. Once at a time; a failed read changes nothing.
 */
function recheckRole(mine: Session): void {
  if (currentUser.value?.role !== 'admin' || recheckingRole) return;
  recheckingRole = authorizedFetch('/api/auth/me')
    .then(async (res) => {
      if (!res.ok || session !== mine) return;
      const { user } = (await res.json()) as { user: User };
      if (user.role !== 'admin') rightsNotice.value = 'Your admin rights have ended: the admin pages are no longer available.';
      currentUser.value = user;
    })
    .catch(() => undefined)
    .finally(() => {
      recheckingRole = null;
    });
}

/**
 * fetch with the access token. A 401 refreshes the tokens once and retries; if the server
 * refuses the refresh the session ends and the sign-in page shows. A request that was sent with
 * tokens another request has refreshed meanwhile just retries with the new ones (a second
 * rotation would be wasted), and one of a session that has ended since touches nothing.
 */
export async function authorizedFetch(path: string, init: RequestInit = {}): Promise<Response> {
  const mine = session;
  const send = (tokens: Tokens | undefined) => {
    const headers = new Headers(init.headers);
    if (tokens) headers.set('Authorization', `Bearer ${tokens.accessToken}`);
    return fetch(path, { ...init, headers, cache: 'no-store' }).catch(offline);
  };
  const used = mine?.tokens;
  const res = await send(used);
  if ((res.status === 403 || res.status === 404) && mine && session === mine) recheckRole(mine);
  if (res.status !== 401 || !mine || session !== mine || (await refusedCredentials(res))) return res;
  if (mine.tokens === used && !(await refresh(mine))) {
    if (session === mine) endSession('Your session has ended. Please sign in again.');
    return res;
  }
  const retried = await send(mine.tokens);
  if (retried.status === 401 && session === mine) endSession('Your session has ended. Please sign in again.');
  return retried;
}

/** A 401 that refused a password in the body (a wrong current password), not the token: no reason to refresh or sign out. */
async function refusedCredentials(res: Response): Promise<boolean> {
  const body = (await res.clone().json().catch(() => null)) as { code?: unknown } | null;
  return body?.code === 'INVALID_CREDENTIALS';
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** A JSON call to the API; failures throw an ApiError whose message can be shown as is. */
export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json', ...options.headers };
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await authorizedFetch(path, {
    method: options.method ?? 'GET',
    headers,
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (!res.ok) throw await problemOf(res);
  return (res.status === 204 ? undefined : await res.json()) as T;
}

export { problemOf };

/** A message for anything a call threw. */
export function messageOf(error: unknown): string {
  if (error instanceof ApiError) {
    const field = error.errors.find((problem) => problem.message);
    return field && !error.message.includes(field.message ?? '') ? `${error.message} (${field.message})` : error.message;
  }
  return 'Something went wrong. Please try again.';
}

export const FIX_MARKED_FIELDS = 'Please correct the fields marked above.';

/** The field problems of a refused request by the body field they name (`sku`, `priceCents`), the first for each. */
export function fieldErrorsOf(error: unknown): Record<string, string> {
  const found: Record<string, string> = {};
  if (!(error instanceof ApiError)) return found;
  for (const problem of error.errors) if (problem.path && problem.message && !(problem.path in found)) found[problem.path] = problem.message;
  return found;
}

/** A form's message for a failure: when every problem is shown beside a field of the form, it points there. */
export function formMessageOf(error: unknown, fields: readonly string[]): string {
  const paths = error instanceof ApiError ? error.errors.map((problem) => problem.path ?? '') : [];
  if (paths.length > 0 && paths.every((path) => fields.includes(path))) return FIX_MARKED_FIELDS;
  return messageOf(error);
}
