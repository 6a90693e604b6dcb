/**
 * The page's USB serial path (web/src/web-serial.ts) end to end in Chromium:
 * the page's `navigator.serial` is a test double (fake-web-serial.ts) whose
 * ports carry the bytes to a board-faithful virtual ESP32 run by this test
 * (web-serial-bridge.ts: a UART at its real rate behind a USB-UART bridge
 * whose DTR/RTS drive EN and IO0).
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import type { VirtualEsp32 } from '../../src/device/virtual-esp32.js';
import { buildGeneratedFirmware } from '../../src/device/virtual-firmware.js';
import { HARD_RESET_SEQUENCE, RUN_LINES, autoResetPins, type ControlLines } from '../../src/transport/reset-lines.js';
import { field, launchPageBrowser, otadataState, shot, type PageBrowser } from '../helpers/chromium-page.js';
import { DEVICE_LOST_CODE, installFakeWebSerial } from '../helpers/fake-web-serial.js';
import { REAL_FIRMWARE_PATH } from '../helpers/testdata.js';
import { bootedBoard } from '../helpers/virtual-board.js';
import { serveSerialBridge, type LineChange, type SerialBridge } from '../helpers/web-serial-bridge.js';

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
  return browser.openPage((page) => page.addInitScript(installFakeWebSerial, { bridgeUrl: bridge.url, deviceLostCode: DEVICE_LOST_CODE }));
}

const OTA_1 = 0x1d0000;
const UPDATE_TIMEOUT_MS = 60_000;
/** A generated app of 192 KiB that deflates as a real one (the real 1.6 MB image took ~100 s through the page at 921,600 baud on this loaded machine). */
const APP_BYTES = 0x30000;

async function connectSerial(page: Page, transferRate: string): Promise<void> {
  await page.getByLabel('USB serial').check();
  await page.getByLabel('Transfer rate').selectOption(transferRate);
  await page.getByRole('button', { name: 'Connect' }).click();
  await field(page, 'running').waitFor({ timeout: 30_000 });
}

/** The reset pulses the board saw: runs of line states that held EN low, as [dtr, rts] lists. */
function enPulses(changes: readonly LineChange[]): ControlLines[][] {
  const pulses: ControlLines[][] = [];
  let pulse: ControlLines[] | undefined;
  for (const { dtr, rts } of changes) {
    if (autoResetPins({ dtr, rts }).en === 'low') (pulse ??= []).push({ dtr, rts });
    else if (pulse) {
      pulses.push([...pulse, { dtr, rts }]);
      pulse = undefined;
    }
  }
  return pulses;
}

describe('web page over Web Serial (board-faithful UART at 115,200 baud behind a USB-UART bridge)', () => {
  it('connects without resetting the board, refuses a broken file, updates at 921,600 baud, resets through EN as esptool does, keeps it', async () => {
    const { board, bridge } = await serialBoard();
    const { page, errors } = await openSerialPage(bridge);
    await connectSerial(page, '921600');
    assert.match((await field(page, 'version').textContent()) ?? '', /^MicroPython v1\.27\.0/);
    assert.equal(await field(page, 'running').textContent(), 'ota_0');
    assert.match((await page.locator('#connection').textContent()) ?? '', /Connected to USB serial \(115200 baud\)/);
    assert.deepEqual(bridge.openedAt, [115_200], 'the port is opened at the REPL rate, whatever the transfer rate');
    assert.equal(board.boots, 1, 'connecting did not reset the board');
    assert.deepEqual(bridge.lineChanges, [
      { dtr: true, rts: true, by: 'open' },
      { ...RUN_LINES, by: 'setSignals' },
    ]);
    await shot(page, 'serial-connected');

    // A firmware file cut short: refused before anything is written.
    const dir = mkdtempSync(join(tmpdir(), 'esp32-ota-serial-page-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const truncated = join(dir, 'ESP32_GENERIC-truncated.bin');
    writeFileSync(truncated, readFileSync(REAL_FIRMWARE_PATH).subarray(0, 0x80000));
    await page.setInputFiles('#file-input', truncated);
    await page.locator('.checks li.bad').waitFor();
    assert.match((await page.locator('.checks li.bad').textContent()) ?? '', /damaged app image: .*truncated/);
    assert.ok(await page.getByRole('button', { name: 'Update' }).isDisabled());
    await shot(page, 'serial-refused-truncated');

    const app = join(dir, 'micropython-v1.24.0.app-bin');
    writeFileSync(app, buildGeneratedFirmware({ version: 'v1.24.0', buildDate: '2024-10-01', size: APP_BYTES, content: 'app-like' }));
    await page.setInputFiles('#file-input', app);
    await page.getByText('An app image.').waitFor();
    assert.equal(await page.locator('.checks li.bad').count(), 0, 'every pre-flight check passes');
    assert.ok(board.flash.read(OTA_1, 0x1c0000).every((byte) => byte === 0xff), 'nothing was written to ota_1 before Update');
    await page.getByRole('button', { name: 'Update' }).click();
    await page.waitForFunction("document.getElementById('progress').value > 0", undefined, { timeout: UPDATE_TIMEOUT_MS });
    assert.match((await page.locator('#progress-text').textContent()) ?? '', /^[\d,]+ of 196,608 bytes written at 921,600 baud, [\d.]+ KiB\/s, about \d+ s left$/);
    await shot(page, 'serial-updating');
    await page.locator('#verdict').waitFor({ state: 'visible', timeout: UPDATE_TIMEOUT_MS });
    assert.equal(await field(page, 'version').textContent(), 'MicroPython v1.24.0');
    assert.equal(await field(page, 'running').textContent(), 'ota_1');
    assert.match((await field(page, 'next-boot').textContent()) ?? '', /ota_0 \(rolls back/, 'unconfirmed: the next reset would roll back');
    assert.equal(board.booted?.partition.label, 'ota_1');
    // Web Serial cannot change an open port's rate: closed and opened again at 921,600, and back.
    assert.deepEqual(bridge.openedAt, [115_200, 921_600, 115_200]);
    // One reboot, through EN, with the lines of esptool's HardReset; IO0 never low, so never the ROM downloader.
    assert.deepEqual(bridge.resets, { run: 1, download: 0 });
    assert.equal(board.boots, 2);
    assert.deepEqual(enPulses(bridge.lineChanges), [HARD_RESET_SEQUENCE.map((step) => step.lines)]);
    assert.ok(bridge.lineChanges.every((lines) => autoResetPins(lines).io0 === 'high'));
    await shot(page, 'serial-updated');

    await page.getByRole('button', { name: 'Keep this firmware' }).click();
    await page.locator('#verdict').waitFor({ state: 'hidden' });
    assert.match(otadataState(board), /VALID/);
    await page.getByRole('button', { name: 'Disconnect' }).click();
    await page.getByText('Disconnected.').waitFor();
    assert.deepEqual(bridge.lineChanges.at(-1), { ...RUN_LINES, by: 'close' }, 'the port is closed, the lines released');
    assert.equal(board.boots, 2, 'disconnecting did not reset the board');
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('says so when the board is unplugged mid-transfer; plugged in again it runs its old firmware', async () => {
    const { board, bridge } = await serialBoard();
    const { page, errors } = await openSerialPage(bridge);
    await connectSerial(page, '');
    const otadataBefore = otadataState(board);
    await page.setInputFiles('#file-input', REAL_FIRMWARE_PATH);
    await page.getByText('A combined firmware image: the app is taken from').waitFor();
    await page.getByRole('button', { name: 'Update' }).click();
    await page.waitForFunction("document.getElementById('progress').value >= 32768", undefined, { timeout: UPDATE_TIMEOUT_MS });
    await bridge.unplug();
    const alert = page.getByRole('alert');
    await alert.waitFor({ timeout: 30_000 });
    const message = (await alert.textContent()) ?? '';
    assert.match(message, /^Updating failed: the USB serial port went away \(The device has been lost; was the board unplugged\?\) after [\d,]+ of 1,672,800 bytes were written\. Nothing was set to boot/);
    assert.ok(await page.getByRole('button', { name: 'Connect' }).isVisible(), 'the page offers to connect again');
    await shot(page, 'serial-unplugged');

    await bridge.plugIn();
    await board.idle();
    assert.equal(board.booted?.partition.label, 'ota_0', 'the board boots its old firmware');
    assert.equal(otadataState(board), otadataBefore, 'otadata unchanged: nothing was set to boot');
    await page.getByRole('button', { name: 'Connect' }).click();
    await field(page, 'running').waitFor({ timeout: 30_000 });
    assert.equal(await field(page, 'running').textContent(), 'ota_0');
    assert.equal(await field(page, 'next-boot').textContent(), 'ota_0');
    assert.ok(await alert.isHidden(), 'the error is gone once connected again');

    // Unplugged while nothing runs: the page says so at once and offers Connect.
    await bridge.unplug();
    await page.getByText(/^The connection was lost: the USB serial port went away \(The device has been lost; was the board unplugged\?\)\. Plug the board in/).waitFor();
    assert.ok(await page.getByRole('button', { name: 'Connect' }).isVisible());
    await shot(page, 'serial-unplugged-idle');
    assert.deepEqual(errors, []);
    await page.close();
  });
});
