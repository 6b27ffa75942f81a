import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';

// Chromium's old headless shell (Debian's chromium-headless-shell; Playwright's own default for
// headless runs) is the same Blink and V8 without the full browser around them: the render files
// cost ~15 s of a run's CPU with it against ~32 s with `chromium --headless`. The full browser is
// the fallback, so a machine with only that still runs every case, just slower.
const CHROMIUM = process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium-headless-shell', '/usr/bin/chromium'].find((candidate) => existsSync(candidate)) ?? '/usr/bin/chromium-headless-shell';
// Without the background-networking flags Chromium keeps calling out to Google's hosts, which
// this closed network refuses.
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let launched: Promise<Browser> | undefined;

function chromiumOfThisProcess(): Promise<Browser> {
  // A missing browser must fail the run: a skipped check would pass CI with the page untested.
  if (!existsSync(CHROMIUM)) {
    return Promise.reject(new Error(`Chromium not found at ${CHROMIUM}. Install it (Debian: apt-get install -y chromium-headless-shell) or set CHROMIUM_PATH.`));
  }
  launched ??= chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  return launched;
}

export interface TestBrowser {
  newContext(options?: BrowserContextOptions): Promise<BrowserContext>;
  newPage(options?: BrowserContextOptions): Promise<Page>;
  /** Closes the contexts (and so the pages) this file opened; the browser stays for the next file. */
  close(): Promise<void>;
}

/**
 * A handle on this test process's one headless Chromium. Vitest runs all the files of a worker
 * in one process (`isolate: false`), so a launch (~2 s of CPU) is paid once per worker instead
 * of once per file. Every page lives in a context of its own, so no cookies or storage pass
 * between files; Playwright ends the browser when the process exits.
 */
export async function openBrowser(): Promise<TestBrowser> {
  const browser = await chromiumOfThisProcess();
  const contexts: BrowserContext[] = [];
  const newContext = async (options?: BrowserContextOptions) => {
    const context = await browser.newContext(options);
    contexts.push(context);
    return context;
  };
  return {
    newContext,
    newPage: async (options) => (await newContext(options)).newPage(),
    async close() {
      await Promise.all(contexts.splice(0).map((context) => context.close()));
    },
  };
}
