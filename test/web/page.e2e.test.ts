/**
 * The browser page end to end, in Debian's Chromium driven by playwright-core:
 * a virtual ESP32 served over WebREPL by this test (the project's sim API),
 * and the virtual board inside the page. Screenshots of the main states go to
 * test-artifacts/web/ (not committed).
 */
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import type { VirtualEsp32 } from '../../src/device/virtual-esp32.js';
import { buildGeneratedFirmware } from '../../src/device/virtual-firmware.js';
import { serveWebRepl } from '../../src/node/sim-servers.js';
import { freshFlash, virtualBoard } from '../../src/node/virtual-board.js';
import type { WebReplServer } from '../../src/webrepl/node.js';
import { field, launchPageBrowser, otadataState, shot, type PageBrowser } from '../helpers/chromium-page.js';
import { REAL_FIRMWARE_PATH } from '../helpers/testdata.js';

const PASSWORD = 'page-pw';
const OTA_1 = 0x1d0000;
/** The real image over WebREPL (base64 frames) and the board's boot of it. */
const UPDATE_TIMEOUT_MS = 60_000;

let browser: PageBrowser;
const boards: { board: VirtualEsp32; webrepl: WebReplServer }[] = [];

before(async () => {
  assert.ok(existsSync(REAL_FIRMWARE_PATH), `the real firmware is missing: ${REAL_FIRMWARE_PATH}`);
  browser = await launchPageBrowser();
});

after(async () => {
  await browser?.close();
  for (const { board, webrepl } of boards.splice(0)) {
    await webrepl.close();
    await board.stop();
  }
});

/** A virtual ESP32 (default layout: 1.75 MiB slots) behind a WebREPL endpoint on a free port. */
async function webReplBoard(): Promise<{ board: VirtualEsp32; url: string }> {
  const board = virtualBoard(freshFlash());
  await board.powerOn();
  await board.idle();
  const webrepl = await serveWebRepl(board, { password: PASSWORD, port: 0 });
  boards.push({ board, webrepl });
  return { board, url: webrepl.url };
}

async function connectWebRepl(page: Page, url: string): Promise<void> {
  await page.getByLabel('Address').fill(url);
  await page.getByLabel('Password').fill(PASSWORD);
  // From the keyboard: Enter in the password field submits the form.
  await page.getByLabel('Password').press('Enter');
  await field(page, 'running').waitFor();
}

/** Update with the real firmware and wait for the verdict (keep or roll back). */
async function updateToRealFirmware(page: Page, name: string): Promise<void> {
  await page.setInputFiles('#file-input', REAL_FIRMWARE_PATH);
  await page.getByText('A combined firmware image: the app is taken from').waitFor();
  assert.equal(await page.locator('.checks li.bad').count(), 0, 'every pre-flight check passes');
  await shot(page, `${name}-file-checked`);
  await page.getByRole('button', { name: 'Update' }).click();
  await page.waitForFunction("document.getElementById('progress').value > 0", undefined, { timeout: UPDATE_TIMEOUT_MS });
  await shot(page, `${name}-updating`);
  await page.locator('#verdict').waitFor({ state: 'visible', timeout: UPDATE_TIMEOUT_MS });
  assert.equal(await field(page, 'version').textContent(), 'MicroPython v1.23.0');
  assert.equal(await field(page, 'running').textContent(), 'ota_1');
  assert.match((await field(page, 'next-boot').textContent()) ?? '', /ota_0 \(rolls back/, 'unconfirmed: the next reset would roll back');
  await shot(page, `${name}-updated`);
}

describe('web page over WebREPL (virtual ESP32 served by the test)', () => {
  it('connects, shows status and flash, updates to the real v1.23.0 and confirms it', async () => {
    const { board, url } = await webReplBoard();
    const { page, errors } = await browser.openPage();
    await shot(page, 'start');
    await connectWebRepl(page, url);
    assert.match((await field(page, 'version').textContent()) ?? '', /^MicroPython v1\.27\.0/);
    assert.equal(await field(page, 'running').textContent(), 'ota_0');
    assert.equal(await field(page, 'next-update').textContent(), 'ota_1');
    assert.equal(await page.evaluate('document.activeElement.id'), 'status-heading', 'focus moves to the board once connected');
    // The flash picture: one segment per partition, to scale, running and next update marked.
    const running = page.locator('.flash-bar .segment.running');
    const next = page.locator('.flash-bar .segment.next-update');
    assert.match((await running.getAttribute('title')) ?? '', /^ota_0: 1\.8 MiB \(0x1c0000\)/);
    assert.match((await next.getAttribute('title')) ?? '', /^ota_1: 1\.8 MiB \(0x1c0000\)/);
    const barWidth = (await page.locator('.flash-bar').boundingBox())!.width;
    const slotWidth = (await running.boundingBox())!.width;
    assert.ok(Math.abs(slotWidth / barWidth - 0x1c0000 / 0x400000) < 0.01, `ota_0 is drawn to scale (${slotWidth} of ${barWidth} px)`);
    await shot(page, 'webrepl-connected');

    await updateToRealFirmware(page, 'webrepl');
    assert.equal(board.booted?.partition.label, 'ota_1');
    await page.getByRole('button', { name: 'Keep this firmware' }).click();
    await page.locator('#verdict').waitFor({ state: 'hidden' });
    assert.match((await field(page, 'otadata').textContent()) ?? '', /VALID \(active\)/);
    assert.equal(await field(page, 'next-boot').textContent(), 'ota_1');
    assert.match(otadataState(board), /VALID/);
    await shot(page, 'webrepl-confirmed');
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('refuses firmware for another chip and writes nothing; a cancelled update leaves the old firmware running', async () => {
    const { board, url } = await webReplBoard();
    const { page, errors } = await browser.openPage();
    await connectWebRepl(page, url);
    const stateBefore = otadataState(board);

    const dir = mkdtempSync(join(tmpdir(), 'esp32-ota-page-'));
    const wrongChip = join(dir, 'esp32s3-app.bin');
    writeFileSync(wrongChip, buildGeneratedFirmware({ version: 'v1.24.0', buildDate: '2024-10-01', chip: 'esp32s3' }));
    await page.setInputFiles('#file-input', wrongChip);
    await page.locator('.checks li.bad').waitFor();
    assert.match((await page.locator('.checks li.bad').textContent()) ?? '', /Refused: the image is built for esp32s3, the board is an esp32/);
    assert.ok(await page.getByRole('button', { name: 'Update' }).isDisabled());
    await shot(page, 'refused-wrong-chip');
    rmSync(dir, { recursive: true, force: true });
    assert.ok(board.flash.read(OTA_1, 0x1c0000).every((byte) => byte === 0xff), 'nothing was written to ota_1');

    await page.setInputFiles('#file-input', REAL_FIRMWARE_PATH);
    await page.getByRole('button', { name: 'Update' }).click();
    await page.waitForFunction("(bar => bar.max > 1 && bar.value > bar.max * 0.1)(document.getElementById('progress'))", undefined, {
      timeout: UPDATE_TIMEOUT_MS,
    });
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.getByText(/^Cancelled: nothing was set to boot/).waitFor({ timeout: 30_000 });
    assert.match((await field(page, 'version').textContent()) ?? '', /^MicroPython v1\.27\.0/);
    assert.equal(await field(page, 'running').textContent(), 'ota_0');
    assert.equal(await field(page, 'next-boot').textContent(), 'ota_0');
    assert.equal(otadataState(board), stateBefore, 'otadata unchanged');
    await shot(page, 'cancelled');
    await board.reset();
    await board.idle();
    assert.equal(board.booted?.partition.label, 'ota_0', 'after a reset the board still boots its old firmware');
    assert.deepEqual(errors, []);
    await page.close();
  });
});

describe('web page with the virtual board in the page (Web Worker)', () => {
  it('boots it, updates to the real v1.23.0, and confirms it', async () => {
    const { page, errors } = await browser.openPage();
    assert.equal(await page.evaluate('crossOriginIsolated'), true, 'esp32-ota web serves the page cross-origin isolated');
    await page.getByLabel('Virtual ESP32 in this page').check();
    await page.getByRole('button', { name: 'Connect' }).click();
    await field(page, 'running').waitFor({ timeout: 30_000 });
    assert.equal(await field(page, 'running').textContent(), 'ota_0');
    await shot(page, 'virtual-connected');
    await updateToRealFirmware(page, 'virtual');
    await page.getByRole('button', { name: 'Keep this firmware' }).click();
    await page.locator('#verdict').waitFor({ state: 'hidden' });
    assert.equal(await field(page, 'version').textContent(), 'MicroPython v1.23.0');
    assert.match((await field(page, 'otadata').textContent()) ?? '', /VALID \(active\)/);
    await page.setViewportSize({ width: 380, height: 800 });
    await shot(page, 'virtual-confirmed-narrow');
    assert.deepEqual(errors, []);
    await page.close();
  });
});
