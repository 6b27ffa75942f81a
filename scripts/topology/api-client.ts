/**
 * The fault run's HTTP client: calls through haproxy that never throw (a network error is
 * status 0), and signed-in sessions that sign in again when their access token runs out, so a
 * run longer than the token's lifetime (15 min by default) keeps going.
 */
import { randomUUID } from 'node:crypto';
import { API_URL } from './services.js';

/** The few fields of API answers the fault run reads. */
export interface Reply {
  id?: string;
  accessToken?: string;
  user?: { id: string };
}

export async function call(method: string, url: string, token: string | undefined, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Reply }> {
  try {
    const res = await fetch(`${API_URL}${url}`, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(20_000),
    });
    const text = await res.text();
    let reply: Reply = {};
    try {
      reply = (text ? JSON.parse(text) : {}) as Reply;
    } catch {
      // haproxy's own error pages are HTML; the status says enough
    }
    return { status: res.status, body: reply };
  } catch {
    return { status: 0, body: {} };
  }
}

type Answer = Awaited<ReturnType<typeof call>>;

export class Session {
  /** Sign-ins after a token ran out, over all sessions (for the run's report). */
  static renewals = 0;
  private renewing: Promise<Answer> | undefined;

  private constructor(
    private readonly email: string,
    private readonly password: string,
    public token: string,
    public readonly userId: string,
  ) {}

  static async login(email: string, password: string): Promise<Session> {
    const res = await call('POST', '/api/auth/login', undefined, { email, password });
    if (res.status !== 200) throw new Error(`login failed: ${res.status} ${JSON.stringify(res.body)}`);
    return new Session(email, password, res.body.accessToken!, res.body.user!.id);
  }

  static async register(): Promise<Session> {
    const email = `topology-${randomUUID().slice(0, 8)}@example.com`;
    const password = 'topology-user-pw';
    const res = await call('POST', '/api/auth/register', undefined, { email, password, name: 'load' });
    if (res.status !== 201) throw new Error(`register failed: ${res.status}`);
    return new Session(email, password, res.body.accessToken!, res.body.user!.id);
  }

  /**
   * A call with this session's token. A 401 signs in again and repeats the call once; a sign-in
   * that fails (a 503 during a failover) is answered instead, for the caller to retry as it
   * retries any failure.
   */
  async call(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
    const sentWith = this.token;
    const res = await call(method, url, sentWith, body, headers);
    if (res.status !== 401) return res;
    const signIn = await this.renew(sentWith);
    return signIn.status === 200 ? call(method, url, this.token, body, headers) : signIn;
  }

  /**
   * Signs in again unless the token was replaced since `rejected` was sent; callers that find
   * it rejected at the same time share one sign-in.
   */
  async renew(rejected: string): Promise<Answer> {
    if (this.token !== rejected) return { status: 200, body: {} };
    this.renewing ??= call('POST', '/api/auth/login', undefined, { email: this.email, password: this.password }).then((res) => {
      if (res.status === 200) {
        this.token = res.body.accessToken!;
        Session.renewals++;
      }
      this.renewing = undefined;
      return res;
    });
    return this.renewing;
  }
}
