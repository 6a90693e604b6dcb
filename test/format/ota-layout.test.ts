import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { appDoesNotFitMessage, largestAppSlotSize, microPythonOtaTable, otaReadiness } from '../../src/format/ota-layout.js';
import { editPartitionTable, resizePartitions } from '../../src/format/table-edit.js';
import { decodeAppImageHeader, parseAppImage, withHeaderFlashSize } from '../../src/format/app-image.js';
import { encodePartitionTable, findPartition, type PartitionTable } from '../../src/format/partition-table.js';
import { FormatError } from '../../src/format/errors.js';
import { FACTORY_TABLE, OTA_TABLE, realFirmware } from '../helpers/testdata.js';

const fixtures = fileURLToPath(new URL('../../../test/fixtures/partitions/', import.meta.url));
const fixture = (name: string) => new Uint8Array(readFileSync(fixtures + name));
const MIB = 0x100000;

function rejects(run: () => unknown, pattern: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof FormatError, `expected a FormatError, got ${String(error)}`);
    assert.match(error.message, pattern);
    return true;
  });
}

const spans = (table: PartitionTable) => table.partitions.map((p) => `${p.label}@${p.offset.toString(16)}+${p.size.toString(16)}`).join(' ');

describe("MicroPython's OTA layouts, byte for byte as gen_esp32part.py writes them", () => {
  it('4 MiB: v1.23.0 partitions-4MiB-ota.csv (1.5 MiB slots, vfs from 0x310000)', () => {
    assert.deepEqual(encodePartitionTable(microPythonOtaTable(4 * MIB)), fixture('micropython-ota-4mib.bin'));
  });
  it('4 MiB with --app-size 0x1C0000', () => {
    assert.deepEqual(encodePartitionTable(microPythonOtaTable(4 * MIB, 0x1c0000)), fixture('make-ota-4mib-app-1c0000.bin'));
  });
  it('8 MiB: the slots of partitions-8MiBplus-ota.csv, vfs filling the rest', () => {
    assert.deepEqual(encodePartitionTable(microPythonOtaTable(8 * MIB)), fixture('make-ota-8mib.bin'));
  });
  it('16 MiB: v1.23.0 partitions-16MiB-ota.csv', () => {
    assert.deepEqual(encodePartitionTable(microPythonOtaTable(16 * MIB)), fixture('make-ota-16mib.bin'));
  });

  it('refuses slot sizes that break alignment or leave no filesystem, saying what would do', () => {
    rejects(() => microPythonOtaTable(4 * MIB, 0x1a8000), /not a multiple of 0x10000.*e\.g\. 0x1b0000/);
    rejects(() => microPythonOtaTable(4 * MIB, 0x200000), /too large for 4 MiB.*--app-size 0x1f0000 or less/);
    rejects(() => microPythonOtaTable(2 * MIB), /no OTA partition table for 2 MiB.*--app-size/);
    assert.equal(largestAppSlotSize(4 * MIB), 0x1f0000);
    assert.equal(findPartition(microPythonOtaTable(4 * MIB, 0x1f0000), 'vfs')?.size, 0x10000);
  });

  it('names the largest app that fits and the sizes that would take the v1.23.0 app', () => {
    const message = appDoesNotFitMessage(1_672_800, 0x180000, 4 * MIB, false);
    assert.match(message, /1,672,800 bytes \(0x198660\)/);
    assert.match(message, /largest app that fits them is 1,572,864 bytes/);
    assert.match(message, /--app-size 0x1a0000 \(up to 0x1f0000 on 4 MiB\) or --flash-size 8M/);
    assert.match(appDoesNotFitMessage(3 * MIB, 0x1f0000, 4 * MIB, true), /no slot size fits it.*larger --flash-size/);
  });

  it('otaReadiness: otadata and two ota slots', () => {
    assert.equal(otaReadiness(OTA_TABLE).ready, true);
    assert.deepEqual(otaReadiness(FACTORY_TABLE), { ready: false, reason: 'no otadata partition and no OTA app slots' });
  });
});

describe('bootloader header flash size', () => {
  it('sets the size nibble, keeps the checksum and recomputes the appended SHA-256 (v1.23.0 bootloader)', (t) => {
    const firmware = realFirmware(t);
    if (!firmware) return;
    const bootloader = firmware.subarray(0, 0x7000);
    const before = parseAppImage(bootloader);
    assert.equal(before.header.hashAppended, true);
    const changed = withHeaderFlashSize(bootloader, 8 * MIB);
    const after = parseAppImage(changed);
    assert.equal(decodeAppImageHeader(changed).flashSizeName, '8MB');
    assert.equal(changed[3]! & 0x0f, bootloader[3]! & 0x0f, 'frequency kept');
    assert.equal(after.storedChecksum, before.storedChecksum);
    const hashOffset = after.checksumOffset + 1;
    const digest = createHash('sha256').update(changed.subarray(0, hashOffset)).digest();
    assert.deepEqual(after.storedSha256, new Uint8Array(digest));
    assert.notDeepEqual(after.storedSha256, before.storedSha256);
    assert.deepEqual(changed.subarray(4, hashOffset), bootloader.subarray(4, hashOffset), 'only byte 3 and the hash differ');
  });

  it('refuses a bootloader whose SHA-256 was already wrong', (t) => {
    const firmware = realFirmware(t);
    if (!firmware) return;
    const damaged = firmware.slice(0, 0x7000);
    damaged[100]! ^= 1;
    rejects(() => withHeaderFlashSize(damaged, 8 * MIB), /SHA-256 does not match/);
  });
});

describe('resizePartitions', () => {
  it('--app-size: later partitions move along, the vfs absorbs the difference', () => {
    const sizes = new Map([['ota_0', 0x1c0000], ['ota_1', 0x1c0000]]);
    const resized = resizePartitions(OTA_TABLE, { sizes, flashSize: 4 * MIB });
    assert.equal(spans(resized), 'nvs@9000+4000 otadata@d000+2000 phy_init@f000+1000 ota_0@10000+1c0000 ota_1@1d0000+1c0000 vfs@390000+70000');
    assert.deepEqual(encodePartitionTable(resized), fixture('make-ota-4mib-app-1c0000.bin'));
  });

  it('--flash-size: the filler grows to the new end; nothing else moves', () => {
    const resized = resizePartitions(OTA_TABLE, { flashSize: 4 * MIB, newFlashSize: 8 * MIB });
    assert.equal(findPartition(resized, 'vfs')?.size, 8 * MIB - 0x310000);
    assert.deepEqual(resized.partitions.slice(0, 5), OTA_TABLE.partitions.slice(0, 5));
  });

  it('keeps apps on 64 KiB boundaries when a slot size is not a multiple of it', () => {
    const resized = resizePartitions(OTA_TABLE, { sizes: new Map([['ota_0', 0x181000]]), flashSize: 4 * MIB });
    assert.equal(findPartition(resized, 'ota_1')?.offset, 0x1a0000);
  });

  it('refuses what gen_esp32part.py refuses or what no longer fits', () => {
    rejects(() => resizePartitions(OTA_TABLE, { sizes: new Map([['nope', 0x1000]]), flashSize: 4 * MIB }), /no partition 'nope'/);
    rejects(() => resizePartitions(OTA_TABLE, { sizes: new Map([['ota_0', 0x1f8000], ['ota_1', 0x1f8000]]), flashSize: 4 * MIB }), /no room left for 'vfs'/);
    rejects(() => resizePartitions(OTA_TABLE, { sizes: new Map([['otadata', 0x3000]]), flashSize: 4 * MIB }), /otadata.*must have size 0x2000/);
    rejects(() => resizePartitions(OTA_TABLE, { sizes: new Map([['vfs', 0x200000]]), flashSize: 4 * MIB }), /beyond the 0x400000-byte flash/);
    rejects(() => resizePartitions(OTA_TABLE, { sizes: new Map([['ota_0', 0x180800]]), flashSize: 4 * MIB }), /size 0x180800 is not aligned to 0x1000/);
  });
});

describe('editPartitionTable', () => {
  const flashSize = 4 * MIB;

  it('adds a partition without offset at the end of the flash, taken from the vfs', () => {
    const edited = editPartitionTable(OTA_TABLE, { add: ['coredump, data, coredump, , 64K'] }, flashSize);
    assert.equal(spans(edited).split(' ').slice(-2).join(' '), 'vfs@310000+e0000 coredump@3f0000+10000');
  });

  it('adds at a given offset, deletes, renames, changes type and flags', () => {
    const edited = editPartitionTable(
      resizePartitions(OTA_TABLE, { sizes: new Map([['vfs', 0xe0000]]), flashSize }),
      {
        delete: ['phy_init'],
        rename: new Map([['vfs', 'files']]),
        type: new Map([['files', 'data:littlefs']]),
        flags: new Map([['nvs', 'readonly']]),
        add: ['extra, data, 0x40, 0x3f0000, 0x10000, readonly'],
      },
      flashSize,
    );
    assert.equal(findPartition(edited, 'phy_init'), undefined);
    assert.deepEqual(findPartition(edited, 'files'), { label: 'files', type: 1, subtype: 0x83, offset: 0x310000, size: 0xe0000, encrypted: false, readonly: false });
    assert.equal(findPartition(edited, 'nvs')?.readonly, true);
    assert.deepEqual(findPartition(edited, 'extra'), { label: 'extra', type: 1, subtype: 0x40, offset: 0x3f0000, size: 0x10000, encrypted: false, readonly: true });
  });

  it("refuses edits that break gen_esp32part.py's rules", () => {
    rejects(() => editPartitionTable(OTA_TABLE, { add: ['more, data, nvs, 0x300000, 0x10000'] }, flashSize), /overlaps/);
    rejects(() => editPartitionTable(OTA_TABLE, { add: ['ota_2, app, ota_2, 0x3a8000, 0x10000'] }, flashSize), /offset 0x3a8000 is not aligned to 0x10000/);
    rejects(() => editPartitionTable(OTA_TABLE, { add: ['od2, data, ota, , 0x2000'] }, flashSize), /more than one otadata/);
    rejects(() => editPartitionTable(OTA_TABLE, { rename: new Map([['ota_1', 'ota_0']]) }, flashSize), /names must be unique: "ota_0"/);
    rejects(() => editPartitionTable(OTA_TABLE, { type: new Map([['vfs', 'data:nope']]) }, flashSize), /subtype of data 'nope' is not valid/);
    rejects(() => editPartitionTable(OTA_TABLE, { flags: new Map([['otadata', 'readonly']]) }, flashSize), /always read-write/);
    rejects(() => editPartitionTable(OTA_TABLE, { delete: ['missing'] }, flashSize), /--delete: no partition 'missing'/);
    rejects(() => editPartitionTable(OTA_TABLE, { add: ['big, data, fat, , 0x100000'] }, flashSize), /do not fit in 'vfs'/);
    rejects(() => editPartitionTable(OTA_TABLE, { add: ['x, data'] }, flashSize), /expected a CSV row/);
  });
});
