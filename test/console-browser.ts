import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page, Route } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { buildConsole } from '../scripts/build-console.js';
import { createApp, type AppDeps } from '../src/app.js';
import { openBrowser, type TestBrowser } from './browser.js';
import { startTestApp, type TestApp, type TestAppOptions } from './harness.js';
import type { TestUser } from './users.js';

export const WAIT = { timeout: 20_000 };

export interface ConsoleServer {
  baseUrl: string;
  browser: TestBrowser;
  close(): Promise<void>;
}

let consoleBuilt: Promise<string> | undefined;

/** The console built from its current sources, once per test process. */
function consoleAssets(): Promise<string> {
  consoleBuilt ??= (async () => {
    const assets = mkdtempSync(path.join(tmpdir(), 'console-assets-'));
    process.once('exit', () => rmSync(assets, { recursive: true, force: true }));
    await buildConsole(assets);
    return assets;
  })();
  return consoleBuilt;
}

/** A freshly built console served by the test app's wiring (some of it replaced by `overrides`), and a headless Chromium to drive it. */
async function startConsole(app: TestApp, overrides: Partial<AppDeps> = {}): Promise<ConsoleServer> {
  const server: Server = createServer(createApp({ ...app.deps, ...overrides, consoleAssetsDir: await consoleAssets() }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const browser = await openBrowser();
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    browser,
    async close() {
      await browser.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** The test app and the console over it, for the tests of one `describe`. */
export interface ConsoleApp {
  readonly app: TestApp;
  readonly console: ConsoleServer;
}

/**
 * Starts a test app (`options`) and the console served by its wiring (some of it replaced by what
 * `overrides` makes of the started app) before the tests of the `describe` that calls this, and
 * closes both after them. Hooks the caller registers after this one run once both have started,
 * and their `afterAll` before both close.
 */
export function useConsoleApp(options: TestAppOptions, { overrides }: { overrides?: (app: TestApp) => Partial<AppDeps> } = {}): ConsoleApp {
  let app: TestApp | undefined;
  let consoleServer: ConsoleServer | undefined;
  beforeAll(async () => {
    app = await startTestApp(options);
    consoleServer = await startConsole(app, overrides?.(app));
  }, 120_000);
  afterAll(async () => {
    await consoleServer?.close();
    await app?.close();
  });
  return {
    get app() {
      if (!app) throw new Error('the test app is used before it started');
      return app;
    },
    get console() {
      if (!consoleServer) throw new Error('the console is used before it started');
      return consoleServer;
    },
  };
}

/** Every console error or warning, page error, error answer, failed or foreign request a page produces. */
export function watchProblems(page: Page, origin: string, options: { allowStatuses?: number[] } = {}): string[] {
  const problems: string[] = [];
  const allowed = new Set(options.allowStatuses ?? []);
  page.on('console', (message) => {
    if (message.type() !== 'error' && message.type() !== 'warning') return;
    // Chromium logs every 4xx/5xx answer as a console error; those are judged below by status.
    if (message.text().startsWith('Failed to load resource: the server responded with a status of')) return;
    problems.push(`console ${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('request', (request) => {
    if (!request.url().startsWith(origin)) problems.push(`foreign request: ${request.url()}`);
  });
  page.on('response', (response) => {
    if (response.status() >= 400 && !allowed.has(response.status())) problems.push(`answered ${response.status()}: ${response.request().method()} ${response.url()}`);
  });
  page.on('requestfailed', (request) => {
    // Streams are aborted on purpose when a page closes them.
    if (!request.url().includes('/events')) problems.push(`request failed: ${request.url()} ${request.failure()?.errorText}`);
  });
  return problems;
}

export async function signIn(page: Page, user: Pick<TestUser, 'email' | 'password'>): Promise<void> {
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/**
 * The first request to `url` goes to the API at once, but its answer reaches the page only when
 * the test calls `release` (`read` settles once the API has answered). With `drop`, the request
 * never reaches the API (`read` settles as it is asked) and at `release` its connection drops.
 */
export async function holdAnswer(page: Page, url: RegExp, { drop = false }: { drop?: boolean } = {}): Promise<{ read: Promise<void>; release: () => void }> {
  let release = () => {};
  let wasRead = () => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  const read = new Promise<void>((resolve) => (wasRead = resolve));
  await page.route(url, async (route: Route) => {
    const response = drop ? null : await route.fetch();
    wasRead();
    await released;
    await (response ? route.fulfill({ response }) : route.abort('connectionreset'));
  }, { times: 1 });
  return { read, release };
}
