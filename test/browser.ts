import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// Without the background-networking flags Chromium keeps calling out to Google's hosts, which
// this closed network refuses.
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let launched: Promise<Browser> | undefined;

function chromiumOfThisProcess(): Promise<Browser> {
  // A missing browser must fail the run: a skipped check would pass CI with the page untested.
  if (!existsSync(CHROMIUM)) {
    return Promise.reject(new Error(`Chromium not found at ${CHROMIUM}. Install it (Debian: apt-get install -y chromium) or set CHROMIUM_PATH.`));
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
