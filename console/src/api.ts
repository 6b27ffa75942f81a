import { signal } from '@preact/signals';
import type { User } from './types.js';

/** The signed-in user; null shows the sign-in page. */
export const currentUser = signal<User | null>(null);
/** Why the last session ended, shown on the sign-in page. */
export const sessionNotice = signal<string | null>(null);

interface Tokens {
  accessToken: string;
  refreshToken: string;
}
interface TokenAnswer extends Tokens {
  user?: User;
}

// Tokens live in this module's memory only: never in a URL, cookie or Web Storage. A reload signs out.
let tokens: Tokens | null = null;
let refreshing: Promise<boolean> | null = null;

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
  tokens = null;
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
  tokens = { accessToken: answer.accessToken, refreshToken: answer.refreshToken };
  sessionNotice.value = null;
  currentUser.value = answer.user ?? null;
}

/** Revokes this sign-in's refresh-token family on the server, then forgets the tokens. */
export async function signOut(): Promise<void> {
  const refreshToken = tokens?.refreshToken;
  endSession('You have signed out.');
  if (refreshToken) await post('/api/auth/logout', { refreshToken }).catch(() => undefined);
}

/** Rotates the refresh token once, however many requests ask at the same moment. */
function refresh(): Promise<boolean> {
  const current = tokens;
  if (!current) return Promise.resolve(false);
  refreshing ??= post<TokenAnswer>('/api/auth/refresh', { refreshToken: current.refreshToken })
    .then((answer) => {
      if (tokens === current) tokens = { accessToken: answer.accessToken, refreshToken: answer.refreshToken };
      return true;
    })
    .catch(() => false)
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

/**
 * fetch with the access token. A 401 refreshes the tokens once and retries; if that fails too
 * the session ends and the sign-in page shows.
 */
export async function authorizedFetch(path: string, init: RequestInit = {}): Promise<Response> {
  const send = () => {
    const headers = new Headers(init.headers);
    if (tokens) headers.set('Authorization', `Bearer ${tokens.accessToken}`);
    return fetch(path, { ...init, headers, cache: 'no-store' }).catch(offline);
  };
  let res = await send();
  if (res.status === 401 && tokens) {
    if (await refresh()) res = await send();
    if (res.status === 401) endSession('Your session has ended. Please sign in again.');
  }
  return res;
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
