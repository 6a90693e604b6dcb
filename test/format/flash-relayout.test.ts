import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildAppImage } from '../../src/format/app-image-builder.js';
import { buildFlashImage } from '../../src/format/flash-image-builder.js';
import { identifyFirmware } from '../../src/format/firmware-file.js';
import { relayoutFlash, type FlashFile } from '../../src/format/flash-relayout.js';
import { editPartitionTable, resizePartitions } from '../../src/format/table-edit.js';
import { BLANK_ENTRY, makeOtaSelectEntry, OtaImageState } from '../../src/format/otadata.js';
import { findPartition, type PartitionTable } from '../../src/format/partition-table.js';
import { decodeAppImageHeader } from '../../src/format/app-image.js';
import { FormatError } from '../../src/format/errors.js';
import { OTA_TABLE } from '../helpers/testdata.js';

const MIB = 0x100000;
const app = buildAppImage({ chip: 'esp32', size: 0x8000, seed: 7 });

function board(table: PartitionTable = OTA_TABLE): { bytes: Uint8Array; file: FlashFile } {
  const bytes = buildFlashImage({
    chip: 'esp32',
    flashSize: 4 * MIB,
    table,
    apps: { ota_0: app },
    otadata: [makeOtaSelectEntry(1, OtaImageState.VALID), BLANK_ENTRY],
  });
  const file = identifyFirmware(bytes);
  assert.equal(file.kind, 'flash-dump');
  return { bytes, file: file as FlashFile };
}

const region = (bytes: Uint8Array, label: string, table: PartitionTable) => {
  const p = findPartition(table, label)!;
  return bytes.subarray(p.offset, p.offset + p.size);
};

describe('relayoutFlash', () => {
  it('moves apps and otadata with their partitions, keeps unchanged data, and sets the flash size', () => {
    const { bytes, file } = board();
    bytes.set([9, 8, 7], 0x9000);
    const table = resizePartitions(OTA_TABLE, { sizes: new Map([['phy_init', 0x1000]]), flashSize: 4 * MIB, newFlashSize: 8 * MIB });
    const moved = editPartitionTable(table, { delete: ['otadata'], add: ['otadata, data, ota, , 0x2000'] }, 8 * MIB);
    const result = relayoutFlash(bytes, file, { table: moved, flashSize: 8 * MIB });
    assert.equal(result.image.length, 8 * MIB);
    assert.deepEqual(region(result.image, 'nvs', moved), region(bytes, 'nvs', OTA_TABLE));
    assert.deepEqual(region(result.image, 'otadata', moved), region(bytes, 'otadata', OTA_TABLE), 'entries carried to the new place');
    assert.deepEqual(result.image.subarray(0x10000, 0x10000 + app.length), app);
    assert.equal(decodeAppImageHeader(result.image.subarray(0x1000)).flashSizeName, '8MB');
    assert.deepEqual(
      result.outcomes.map((o) => [o.partition.label, o.content]),
      [['nvs', 'kept'], ['phy_init', 'blank'], ['ota_0', 'app'], ['ota_1', 'blank'], ['vfs', 'blank'], ['otadata', 'kept']],
    );
  });

  it('a renamed partition keeps its contents; a deleted one with data is reported', () => {
    const { bytes, file } = board();
    bytes.set([1, 2, 3], 0xf000);
    const edited = editPartitionTable(OTA_TABLE, { rename: new Map([['nvs', 'settings']]), delete: ['phy_init'] }, 4 * MIB);
    bytes.set([5, 5], 0x9000);
    const result = relayoutFlash(bytes, file, { table: edited, flashSize: 4 * MIB, renamed: new Map([['settings', 'nvs']]) });
    assert.deepEqual(result.image.subarray(0x9000, 0x9002), new Uint8Array([5, 5]));
    assert.deepEqual(result.dropped, ['phy_init']);
    assert.ok(result.image.subarray(0xf000, 0x10000).every((byte) => byte === 0xff));
  });

  it('NVS that moves is not carried, and the outcome says so', () => {
    const { bytes, file } = board();
    bytes.set([5, 5], 0x9000);
    const table = resizePartitions(OTA_TABLE, { sizes: new Map([['nvs', 0x3000]]), flashSize: 4 * MIB });
    const nvs = relayoutFlash(bytes, file, { table, flashSize: 4 * MIB }).outcomes.find((o) => o.partition.label === 'nvs')!;
    assert.equal(nvs.lost, true);
    assert.match(nvs.detail, /moved or resized \(was 0x9000, 0x4000\): its NVS keys and values are not carried over/);
  });

  it('refuses to move an encrypted partition or to lose the booted app', () => {
    const encrypted = editPartitionTable(OTA_TABLE, { flags: new Map([['nvs', 'encrypted']]) }, 4 * MIB);
    const { bytes, file } = board(encrypted);
    const resized = resizePartitions(encrypted, { sizes: new Map([['nvs', 0x3000]]), flashSize: 4 * MIB });
    assert.throws(() => relayoutFlash(bytes, file, { table: resized, flashSize: 4 * MIB }), (error: unknown) => error instanceof FormatError && /'nvs' is encrypted/.test(error.message));
    const plain = board();
    const noOta0 = editPartitionTable(OTA_TABLE, { delete: ['ota_0'] }, 4 * MIB);
    assert.throws(() => relayoutFlash(plain.bytes, plain.file, { table: noOta0, flashSize: 4 * MIB }), /no place for the app in 'ota_0'/);
  });
});
