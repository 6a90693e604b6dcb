/**
 * The web page in Debian's Chromium, driven by playwright-core, for the
 * page's end-to-end tests (test/web/): the page served by `esp32-ota web`,
 * a fresh browser profile, screenshots to test-artifacts/web/ (not committed).
 */
import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { VirtualEsp32 } from '../../src/device/virtual-esp32.js';
import { activeEntryIndex, otaStateName, parseOtadata } from '../../src/format/otadata.js';
import { serveWebPage, type WebPageServer } from '../../src/node/web-server.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/web/', import.meta.url));
const OTADATA = 0xd000;

export interface PageBrowser {
  readonly context: BrowserContext;
  /** A new tab on the page (`beforeLoad` runs before it is loaded, e.g. to add init scripts); `errors` collects uncaught page errors. */
  openPage(beforeLoad?: (page: Page) => Promise<unknown>): Promise<{ page: Page; errors: string[] }>;
  close(): Promise<void>;
}

export async function launchPageBrowser(): Promise<PageBrowser> {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium; .ci/run does)`);
  mkdirSync(ARTIFACTS, { recursive: true });
  const server: WebPageServer = await serveWebPage({ port: 0 });
  const profile = mkdtempSync(join(tmpdir(), 'esp32-ota-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1000, height: 900 },
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  } catch (error) {
    await server.close();
    rmSync(profile, { recursive: true, force: true });
    throw error;
  }
  return {
    context,
    async openPage(beforeLoad) {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await beforeLoad?.(page);
      await page.goto(server.url);
      return { page, errors };
    },
    async close() {
      await context.close();
      await server.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** A fact in the page's board status (`data-field`). */
export const field = (page: Page, name: string) => page.locator(`[data-field="${name}"]`);

export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** The active otadata entry of a board, e.g. 'seq 1 VALID', or 'none'. */
export function otadataState(board: VirtualEsp32): string {
  const otadata = parseOtadata(board.flash.read(OTADATA, 0x2000));
  const active = activeEntryIndex(otadata);
  return active === undefined ? 'none' : `seq ${otadata[active].seq} ${otaStateName(otadata[active].state)}`;
}
