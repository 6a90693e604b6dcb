/**
 * The page's USB serial path (web/src/web-serial.ts) end to end in Chromium:
 * the page's `navigator.serial` is a test double (fake-web-serial.ts) whose
 * ports carry the bytes to a board-faithful virtual ESP32 run by this test
 * (web-serial-bridge.ts: a UART at its real rate behind a USB-UART bridge
 * whose DTR/RTS drive EN and IO0).
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import type { VirtualEsp32 } from '../../src/device/virtual-esp32.js';
import { DEVICE_LOST_CODE, installFakeWebSerial } from '../helpers/fake-web-serial.js';
import { field, launchPageBrowser, shot, type PageBrowser } from '../helpers/chromium-page.js';
import { bootedBoard } from '../helpers/virtual-board.js';
import { serveSerialBridge, type SerialBridge } from '../helpers/web-serial-bridge.js';

let browser: PageBrowser;
const cleanups: (() => Promise<void>)[] = [];

before(async () => {
  browser = await launchPageBrowser();
});

after(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await browser?.close();
});

async function serialBoard(): Promise<{ board: VirtualEsp32; bridge: SerialBridge }> {
  const board = await bootedBoard({ strict: { console: 'uart', baud: 115_200 } });
  cleanups.push(() => board.stop());
  const bridge = await serveSerialBridge(board);
  cleanups.push(() => bridge.close());
  return { board, bridge };
}

async function openSerialPage(bridge: SerialBridge): Promise<{ page: Page; errors: string[] }> {
  await browser.context.addInitScript(installFakeWebSerial, { bridgeUrl: bridge.url, deviceLostCode: DEVICE_LOST_CODE });
  return browser.openPage();
}

describe('web page over Web Serial', () => {
  it('probe', async () => {
    const { board, bridge } = await serialBoard();
    const { page, errors } = await openSerialPage(bridge);
    await page.getByLabel('USB serial').check();
    await page.getByRole('button', { name: 'Connect' }).click();
    await field(page, 'running').waitFor({ timeout: 30_000 });
    console.log(await page.locator('#status-list').textContent(), bridge.lineChanges, bridge.resets, board.boots);
    await shot(page, 'serial-connected');
    assert.deepEqual(errors, []);
  });
});
