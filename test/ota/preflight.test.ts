import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildAppImage } from '../../src/format/app-image-builder.js';
import { buildCombinedImage } from '../../src/format/flash-image-builder.js';
import { encodeOtadata, makeOtaSelectEntry, OtaImageState } from '../../src/format/otadata.js';
import { toHex } from '../../src/format/bytes.js';
import { interpretStatus, OtaError } from '../../src/ota/engine.js';
import { checkBoardTakes, prepareImage } from '../../src/ota/preflight.js';
import { OTA_TABLE, realFirmware } from '../helpers/testdata.js';

const ESP32_HEADER = toHex(buildAppImage({ chip: 'esp32' }).subarray(0, 32));

/** What the board's status program reports, for MicroPython's 4 MiB OTA table (0x180000-byte slots). */
function report(overrides: Record<string, unknown> = {}) {
  const otadata = encodeOtadata([makeOtaSelectEntry(1, OtaImageState.VALID), makeOtaSelectEntry(0xffffffff, 0xffffffff)]);
  return interpretStatus({
    version: '3.4.0; MicroPython v1.23.0 on 2024-06-02',
    machine: 'Generic ESP32 module with ESP32',
    platform: 'esp32',
    running: 'ota_0',
    boot: 'ota_0',
    nextUpdate: 'ota_1',
    nextUpdateError: null,
    vfs: 'vfs',
    table: OTA_TABLE.partitions.map((p) => [p.type, p.subtype, p.offset, p.size, p.label, false] as [number, number, number, number, string, boolean]),
    otadata: [toHex(otadata.subarray(0, 32)), toHex(otadata.subarray(0x1000, 0x1020))],
    runningHeader: ESP32_HEADER,
    ...overrides,
  });
}

const rejects = (run: () => unknown, pattern: RegExp) =>
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof OtaError, String(error));
    assert.match(error.message, pattern);
    return true;
  });

describe('update pre-flight: before a byte is written', () => {
  const app = buildAppImage({ size: 0x8000, version: 'v9.0.0' });

  it('accepts an app image that fits, and names the target partition', () => {
    const prepared = prepareImage(app);
    assert.equal(prepared.version, 'v9.0.0');
    assert.equal(checkBoardTakes(report(), prepared).label, 'ota_1');
  });

  it('refuses a combined image, offering extract-app, and takes its app with --extract', () => {
    const combined = buildCombinedImage({ chip: 'esp32', table: OTA_TABLE, apps: { ota_0: app } });
    rejects(() => prepareImage(combined, { name: 'fw.bin' }), /fw\.bin is a combined firmware image .* not an app image.*--extract.*esp32-ota image extract-app fw\.bin -o app\.bin/);
    const extracted = prepareImage(combined, { extract: true });
    assert.deepEqual(extracted.bytes, app);
    assert.match(extracted.extractedFrom ?? '', /partition 'ota_0'/);
  });

  it('refuses a corrupt image, an image for another chip, and a board without OTA', () => {
    const corrupt = app.slice();
    corrupt[0x4000]! ^= 1;
    rejects(() => prepareImage(corrupt), /not a valid app image: bad checksum/);
    rejects(() => checkBoardTakes(report(), prepareImage(buildAppImage({ chip: 'esp32s3', size: 0x8000 }))), /built for esp32s3, the board is an esp32/);
    rejects(() => checkBoardTakes(report({ otadata: null }), prepareImage(app)), /no otadata partition/);
    rejects(() => checkBoardTakes(report({ nextUpdate: null, nextUpdateError: 'OSError: [Errno 2] ENOENT' }), prepareImage(app)), /no OTA partition to update: OSError/);
  });

  it('refuses the real 1.6 MB v1.23.0 image for 0x180000-byte slots, with both sizes', (t) => {
    const firmware = realFirmware(t);
    if (!firmware) return;
    const prepared = prepareImage(firmware, { extract: true });
    assert.equal(prepared.bytes.length, 1_672_800);
    assert.equal(prepared.version, 'v1.23.0');
    rejects(() => checkBoardTakes(report(), prepared), /1,672,800 bytes \(0x198660\), larger than partition 'ota_1' \(1,572,864 bytes, 0x180000\)/);
  });
});
