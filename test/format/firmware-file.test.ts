import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildAppImage } from '../../src/format/app-image-builder.js';
import { FormatError } from '../../src/format/errors.js';
import { extractApp, identifyFirmware } from '../../src/format/firmware-file.js';
import { buildCombinedImage, buildFlashImage } from '../../src/format/flash-image-builder.js';
import { encodePartitionTable } from '../../src/format/partition-table.js';
import { OtaImageState, makeOtaSelectEntry, BLANK_ENTRY } from '../../src/format/otadata.js';
import { sha256 } from '../../src/format/hash.js';
import { equalBytes } from '../../src/format/bytes.js';
import { FACTORY_TABLE, OTA_TABLE, realFirmware } from '../helpers/testdata.js';

describe('identifyFirmware on the real MicroPython v1.23.0 firmware', () => {
  it('is a combined esp32 image at flash 0x1000 with its app in factory', (t) => {
    const bytes = realFirmware(t);
    if (!bytes) return;
    const file = identifyFirmware(bytes);
    assert.equal(file.kind, 'combined-image');
    if (file.kind !== 'combined-image') return;
    assert.equal(file.chip.name, 'esp32');
    assert.equal(file.flashBase, 0x1000);
    assert.equal(file.tableFileOffset, 0x7000);
    assert.deepEqual(
      file.apps.map((app) => [app.partition.label, app.fileOffset, app.appLength]),
      [['factory', 0xf000, 1_672_800]],
    );
  });

  it('extracts an app whose SHA-256 matches its appended hash', (t) => {
    const bytes = realFirmware(t);
    if (!bytes) return;
    const app = extractApp(bytes);
    assert.equal(app.bytes.length, 1_672_800);
    assert.equal(app.partition?.label, 'factory');
    assert.ok(equalBytes(sha256(app.bytes.subarray(0, app.bytes.length - 32)), app.bytes.subarray(app.bytes.length - 32)));
    // An extracted app is recognised as an app image, and extracting again is the identity.
    assert.equal(identifyFirmware(app.bytes).kind, 'app-image');
    assert.ok(equalBytes(extractApp(app.bytes).bytes, app.bytes));
  });
});

describe('identifyFirmware on built images', () => {
  const app = buildAppImage({ chip: 'esp32', size: 0x3000, version: 'v9.9.9' });

  for (const [chip, base] of [['esp32', 0x1000], ['esp32s2', 0x1000], ['esp32s3', 0], ['esp32c3', 0], ['esp32c5', 0x2000], ['esp32p4', 0x2000]] as const) {
    it(`finds a ${chip} combined image at flash ${base === 0 ? '0x0' : '0x' + base.toString(16)}`, () => {
      const chipApp = buildAppImage({ chip, size: 0x3000 });
      const combined = buildCombinedImage({ chip, table: OTA_TABLE, apps: { ota_0: chipApp } });
      const file = identifyFirmware(combined);
      assert.equal(file.kind, 'combined-image');
      if (file.kind !== 'combined-image') return;
      assert.equal(file.chip.name, chip);
      assert.equal(file.flashBase, base);
      assert.ok(equalBytes(extractApp(combined, file).bytes, chipApp));
    });

    it(`finds a ${chip} flash dump and its otadata`, () => {
      const chipApp = buildAppImage({ chip, size: 0x3000 });
      const dump = buildFlashImage({ chip, flashSize: 4 << 20, table: OTA_TABLE, apps: { ota_0: chipApp }, otadata: [BLANK_ENTRY, BLANK_ENTRY] });
      const file = identifyFirmware(dump);
      assert.equal(file.kind, 'flash-dump');
      if (file.kind !== 'flash-dump') return;
      assert.equal(file.chip.name, chip);
      assert.equal(file.flashBase, 0);
      assert.deepEqual(file.otadata, [BLANK_ENTRY, BLANK_ENTRY]);
    });
  }

  it('extracts the app the bootloader would boot next from a dump, or the one asked for', () => {
    const old = buildAppImage({ size: 0x3000, version: 'old', seed: 1 });
    const next = buildAppImage({ size: 0x5000, version: 'new', seed: 2 });
    const dump = buildFlashImage({
      chip: 'esp32',
      flashSize: 4 << 20,
      table: OTA_TABLE,
      apps: { ota_0: old, ota_1: next },
      otadata: [makeOtaSelectEntry(1, OtaImageState.VALID), makeOtaSelectEntry(2, OtaImageState.VALID)],
    });
    assert.ok(equalBytes(extractApp(dump).bytes, next));
    assert.equal(extractApp(dump).partition?.label, 'ota_1');
    assert.ok(equalBytes(extractApp(dump, undefined, 'ota_0').bytes, old));
    assert.throws(() => extractApp(dump, undefined, 'vfs'), /no app partition 'vfs' \(app partitions: ota_0, ota_1\)/);
  });

  it('says which partition is empty', () => {
    const dump = buildFlashImage({ chip: 'esp32', flashSize: 4 << 20, table: OTA_TABLE, apps: {} });
    assert.throws(() => extractApp(dump, undefined, 'ota_1'), /partition 'ota_1' is erased \(0xFF\): no app image at offset 0x190000/);
    assert.throws(() => extractApp(dump), /no app partition holds an app image: partition 'ota_0' is erased .*; partition 'ota_1' is erased/);
  });

  it('recognises an app image, and a binary partition table on its own', () => {
    assert.deepEqual(identifyFirmware(app), { kind: 'app-image', appLength: app.length });
    const table = identifyFirmware(encodePartitionTable(FACTORY_TABLE));
    assert.equal(table.kind, 'partition-table');
  });

  it('refuses files that are no firmware at all, naming what it looked for', () => {
    assert.throws(() => identifyFirmware(new TextEncoder().encode('hello world, not firmware')), (error: unknown) => {
      assert.ok(error instanceof FormatError);
      assert.match(error.message, /^not an ESP32 firmware file: .* \(first byte 0x68\) at offset 0x0$/);
      return true;
    });
    assert.throws(() => identifyFirmware(new Uint8Array(0)), /empty file/);
  });
});

describe('damaged combined images: the real reason, at file offsets', () => {
  const APP_AT = 0xf000;
  const APP_LENGTH = 1_672_800;
  const damaged = (bytes: Uint8Array, change: (copy: Uint8Array) => Uint8Array | void) => {
    const copy = bytes.slice();
    return change(copy) ?? copy;
  };
  const problem = (bytes: Uint8Array, pattern: RegExp, offset: number) =>
    assert.throws(
      () => extractApp(bytes),
      (error: unknown) => error instanceof FormatError && pattern.test(error.problem) && error.offset === offset,
    );

  it('an app cut by one byte, a flipped magic, a flipped segment length', (t) => {
    const bytes = realFirmware(t);
    if (!bytes) return;
    problem(damaged(bytes, (b) => b.subarray(0, APP_AT + APP_LENGTH - 1)), /^partition 'factory' holds a damaged app image: appended SHA-256 truncated/, APP_AT + APP_LENGTH - 32);
    problem(damaged(bytes, (b) => void (b[APP_AT] = 0x16)), /^partition 'factory' holds no app image: it starts with 0x16, not the image magic 0xE9/, APP_AT);
    problem(damaged(bytes, (b) => void (b[APP_AT + 24 + 4 + 2]! ^= 0x40)), /^partition 'factory' holds a damaged app image: segment 0 .* truncated/, APP_AT + 0x20);
  });

  it('a flipped chip id names the chip id, not a missing table', (t) => {
    const bytes = realFirmware(t);
    if (!bytes) return;
    assert.throws(() => identifyFirmware(damaged(bytes, (b) => void (b[12] = 0x5a))), /chip id 90 \(0x005a\), which is no known ESP32 chip .* table is at file offset 0x7000 at offset 0xc$/);
  });

  it('a file cut inside the partition table says where in the file', (t) => {
    const bytes = realFirmware(t);
    if (!bytes) return;
    assert.throws(() => identifyFirmware(bytes.subarray(0, 0x7010)), (error: unknown) => error instanceof FormatError && /truncated/.test(error.problem) && error.offset === 0x7000);
  });

  it('an unknown flash mode in the bootloader header is reported', (t) => {
    const bytes = realFirmware(t);
    if (!bytes) return;
    const file = identifyFirmware(damaged(bytes, (b) => void (b[2] = 9)));
    assert.ok(file.kind === 'combined-image');
    assert.match(file.bootloaderProblem?.message ?? '', /flash mode is 0x09, not one of QIO, QOUT, DIO, DOUT .* at offset 0x2$/);
    assert.equal((identifyFirmware(bytes) as { bootloaderProblem?: unknown }).bootloaderProblem, undefined);
  });
});
