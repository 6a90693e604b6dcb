import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { buildFlashImage } from '../../src/format/flash-image-builder.js';
import { extractApp, identifyFirmware } from '../../src/format/firmware-file.js';
import { decodeAppImageHeader, inspectAppImage } from '../../src/format/app-image.js';
import { PARTITION_TABLE_MAX_LENGTH, PARTITION_TABLE_OFFSET, findPartition, parsePartitionTable } from '../../src/format/partition-table.js';
import { buildLittleFsImage, readLittleFsTree, type LittleFsTreeEntry } from '../../src/format/littlefs/index.js';
import { buildGeneratedFirmware } from '../../src/device/virtual-firmware.js';
import { ReplClient } from '../../src/repl/index.js';
import { runCli, type CliResult } from '../helpers/run-cli.js';
import { bootedBoard } from '../helpers/virtual-board.js';
import { FACTORY_TABLE, REAL_FIRMWARE_PATH, realFirmware } from '../helpers/testdata.js';

const fixtures = new URL('../../../test/fixtures/partitions/', import.meta.url);
const fixture = (name: string) => new Uint8Array(readFileSync(new URL(name, fixtures)));
const MIB = 0x100000;

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'esp32-ota-layout-'));
});

/** make-ota of the real firmware with 0x1C0000 slots, made once and copied for each test that changes it. */
let ota4m: { result: CliResult; path: string } | undefined;
function otaFourMiB(): { result: CliResult; path: string } {
  if (!ota4m) {
    const out = path('ota-4m.bin');
    ota4m = { result: runCli(['image', 'make-ota', REAL_FIRMWARE_PATH, '-o', out, '--app-size', '0x1C0000']), path: out };
  }
  return ota4m;
}
function copyOf(file: string, name: string): string {
  writeFileSync(path(name), readFileSync(file));
  return path(name);
}
after(() => rmSync(dir, { recursive: true, force: true }));

const path = (name: string) => join(dir, name);
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const tableOf = (image: Uint8Array) => parsePartitionTable(image.subarray(PARTITION_TABLE_OFFSET, PARTITION_TABLE_OFFSET + PARTITION_TABLE_MAX_LENGTH));

/** Exit 1, one line naming the problem, no output file, the input unchanged. */
function assertRefused(args: string[], input: string, output: string, pattern: RegExp): CliResult {
  const before = sha(input);
  const result = runCli(args);
  assert.equal(result.code, 1, `expected exit 1, got ${result.code}: ${result.stdout}${result.stderr}`);
  assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr);
  assert.match(result.stderr, /^esp32-ota: error: /);
  assert.match(result.stderr, pattern);
  assert.equal(existsSync(output), false, 'no output file');
  assert.deepEqual(readdirSync(dir).filter((name) => name.endsWith('.tmp')), [], 'no temporary file left');
  assert.equal(sha(input), before, 'input unchanged');
  return result;
}

/** A 4 MiB dump of a board running the stock (factory) layout with these files in its littlefs vfs. */
function stockBoardDump(firmware: Uint8Array, entries: LittleFsTreeEntry[]): Uint8Array {
  const flash = buildFlashImage({
    chip: 'esp32',
    flashSize: 4 * MIB,
    table: FACTORY_TABLE,
    apps: { factory: extractApp(firmware).bytes },
    bootloader: firmware.subarray(0, 0x7000),
  });
  const vfs = findPartition(FACTORY_TABLE, 'vfs')!;
  flash.set(buildLittleFsImage(vfs.size, entries), vfs.offset);
  flash.set(new TextEncoder().encode('nvs data stand-in'), 0x9000);
  return flash;
}

const byPath = (entries: LittleFsTreeEntry[]) => [...entries].sort((a, b) => a.path.localeCompare(b.path));

function files(count: number, size: (index: number) => number): LittleFsTreeEntry[] {
  const entries: LittleFsTreeEntry[] = [{ path: '/lib', type: 'dir' }];
  for (let i = 0; i < count; i++) {
    const data = new Uint8Array(size(i)).map((_, j) => (i * 131 + j * 7 + (j >> 9)) & 0xff);
    entries.push({ path: i % 3 === 0 ? `/lib/module${i}.py` : `/data${i}.bin`, type: 'file', data, mtimeNs: BigInt(1_700_000_000 + i) * 1_000_000_000n });
  }
  return entries;
}

describe('image make-ota on the real v1.23.0 firmware', () => {
  it('4 MiB: refused, naming the largest app the slots take and the sizes that would do', (t) => {
    if (!realFirmware(t)) return;
    const out = path('refused.bin');
    assertRefused(['image', 'make-ota', REAL_FIRMWARE_PATH, '-o', out], REAL_FIRMWARE_PATH, out, /1,672,800 bytes.*largest app that fits them is 1,572,864 bytes.*--app-size 0x1a0000.*--flash-size 8M/);
    assertRefused(['image', 'make-ota', REAL_FIRMWARE_PATH, '-o', out, '--app-size', '0x200000'], REAL_FIRMWARE_PATH, out, /too large for 4 MiB.*0x1f0000/);
    assertRefused(['image', 'make-ota', REAL_FIRMWARE_PATH, '-o', REAL_FIRMWARE_PATH, '--flash-size', '8M'], REAL_FIRMWARE_PATH, out, /is the input file/);
  });

  it("--app-size 0x1C0000: gen_esp32part.py's table, the app in ota_0, blank otadata, OTA-ready", (t) => {
    const firmware = realFirmware(t);
    if (!firmware) return;
    const { result, path: out } = otaFourMiB();
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /OTA:\s+ready/);
    assert.match(result.stdout, /esptool\.py --chip esp32 write_flash 0x0 /);
    const image = new Uint8Array(readFileSync(out));
    assert.equal(image.length, 4 * MIB);
    assert.deepEqual(image.subarray(PARTITION_TABLE_OFFSET, PARTITION_TABLE_OFFSET + PARTITION_TABLE_MAX_LENGTH), fixture('make-ota-4mib-app-1c0000.bin'));
    const file = identifyFirmware(image);
    assert.equal(file.kind, 'flash-dump');
    const app = extractApp(image, file, 'ota_0').bytes;
    assert.deepEqual(app, extractApp(firmware).bytes);
    const otadata = findPartition(tableOf(image), 'otadata')!;
    assert.ok(image.subarray(otadata.offset, otadata.offset + otadata.size).every((byte) => byte === 0xff), 'otadata blank');
    assert.ok(image.subarray(0x390000).every((byte) => byte === 0xff), 'vfs erased, so MicroPython formats it at first boot');
    assert.deepEqual(image.subarray(0x1000, 0x7000), firmware.subarray(0, 0x6000), 'the bootloader, header size unchanged at 4 MiB');

    const csv = runCli(['partitions', out, '--csv']);
    assert.equal(csv.stdout, readFileSync(new URL('make-ota-4mib-app-1c0000.gen.csv', fixtures), 'utf8'), "gen_esp32part.py's CSV of its own binary");

    const info = runCli(['image', 'info', out]);
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stdout, /OTA:\s+ready: otadata at 0xd000 and 2 OTA app slots \(ota_0 0x1c0000, ota_1 0x1c0000\)/);
    assert.match(info.stdout, /App image in 'ota_0'/);
    const stock = runCli(['image', 'info', REAL_FIRMWARE_PATH]);
    assert.match(stock.stdout, /OTA:\s+not OTA-capable: no otadata partition and no OTA app slots/);
  });

  it('--flash-size 8M: the 8 MiB table, and the bootloader header says 8 MiB with a valid SHA-256', (t) => {
    const firmware = realFirmware(t);
    if (!firmware) return;
    const out = path('ota-8m.bin');
    const result = runCli(['image', 'make-ota', REAL_FIRMWARE_PATH, '-o', out, '--flash-size', '8M']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /flash size 4 MiB → 8 MiB \(its appended SHA-256 recomputed/);
    const image = new Uint8Array(readFileSync(out));
    assert.equal(image.length, 8 * MIB);
    assert.deepEqual(image.subarray(PARTITION_TABLE_OFFSET, PARTITION_TABLE_OFFSET + PARTITION_TABLE_MAX_LENGTH), fixture('make-ota-8mib.bin'));
    const bootloader = image.subarray(0x1000, 0x8000);
    assert.equal(decodeAppImageHeader(bootloader).flashSizeName, '8MB');
    const checked = inspectAppImage(bootloader);
    assert.deepEqual(checked.image?.storedSha256, checked.image?.computedSha256);
  });

  it('the virtual board boots it from ota_0 and takes a host-driven update into ota_1', (t) => {
    if (!realFirmware(t)) return;
    assert.equal(otaFourMiB().result.code, 0);
    const board = copyOf(otaFourMiB().path, 'board.bin');
    const first = runCli(['status', '-d', `sim:${board}`, '--json']);
    assert.equal(first.code, 0, first.stderr);
    const status = JSON.parse(first.stdout);
    assert.equal(status.running, 'ota_0');
    assert.equal(status.version, 'v1.23.0');
    assert.equal(status.nextUpdate, 'ota_1');

    const update = path('update.app-bin');
    writeFileSync(update, buildGeneratedFirmware({ version: 'v1.24.0', buildDate: '2024-10-25' }));
    const updated = runCli(['update', update, '-d', `sim:${board}`, '--confirm']);
    assert.equal(updated.code, 0, updated.stderr);
    assert.match(updated.stdout, /MicroPython v1\.24\.0 runs from 'ota_1' and is confirmed/);
  });
});

describe('make-ota of a board dump with files in /', () => {
  it('carries every file, byte for byte with its mtime, into the smaller vfs; NVS that moved is reported', (t) => {
    const firmware = realFirmware(t);
    if (!firmware) return;
    const entries = files(24, (i) => 500 + i * 700);
    const input = path('dump-files.bin');
    writeFileSync(input, stockBoardDump(firmware, entries));
    const out = path('dump-files-ota.bin');
    const result = runCli(['image', 'make-ota', input, '-o', out, '--app-size', '0x1C0000']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /vfs\s+24 files \(\d[\d,]* bytes\) in 1 folder carried from 'vfs' \(was 0x200000, 0x200000\) into a new 448 KiB littlefs/);
    assert.match(result.stdout, /nvs\s+moved or resized \(was 0x9000, 0x6000\): its NVS keys and values are not carried over/);
    const image = new Uint8Array(readFileSync(out));
    const vfs = findPartition(tableOf(image), 'vfs')!;
    assert.equal(vfs.size, 0x70000);
    const carried = readLittleFsTree(image.subarray(vfs.offset, vfs.offset + vfs.size));
    assert.deepEqual(byPath(carried), byPath(entries));
  });

  it('too many files for the new vfs: refused with the shortfall, which is exact', (t) => {
    const firmware = realFirmware(t);
    if (!firmware) return;
    const entries = files(40, (i) => 20_000 + i * 300);
    const input = path('dump-full.bin');
    writeFileSync(input, stockBoardDump(firmware, entries));
    const out = path('dump-full-ota.bin');
    const result = assertRefused(['image', 'make-ota', input, '-o', out, '--app-size', '0x1C0000'], input, out, /the 40 files \([\d,]+ bytes\) in 'vfs'.* need a filesystem of at least 0x[0-9a-f]+ bytes .*; the new one has 0x70000 \(448 KiB\): [\d.]+ KiB short/);
    const needed = Number(/at least (0x[0-9a-f]+) bytes/.exec(result.stderr)![1]);
    assert.doesNotThrow(() => buildLittleFsImage(needed, entries));
    assert.throws(() => buildLittleFsImage(needed - 0x1000, entries), /ENOSPC/);
  });

  it("a virtual board's own flash, files written by MicroPython: the same files in the new vfs, and the board boots it", async () => {
    const board = await bootedBoard({ table: FACTORY_TABLE, firmware: buildGeneratedFirmware({ version: 'v1.23.0', buildDate: '2024-06-02' }) });
    try {
      const client = new ReplClient(board.connect());
      await client.enterRawRepl();
      await client.exec(`
import os
os.mkdir('lib')
with open('lib/app.py', 'w') as f:
    f.write('print("hello from app")\\n' * 50)
with open('data.bin', 'wb') as f:
    for i in range(40):
        f.write(bytes((i + j) & 0xff for j in range(1000)))
`);
    } finally {
      await board.stop();
    }
    const vfs = findPartition(FACTORY_TABLE, 'vfs')!;
    const dump = board.flash.read(0, board.flash.size);
    const written = readLittleFsTree(dump.subarray(vfs.offset, vfs.offset + vfs.size));
    assert.deepEqual(written.map((entry) => entry.path).sort(), ['/boot.py', '/data.bin', '/lib', '/lib/app.py']);
    const input = path('virtual-board-dump.bin');
    writeFileSync(input, dump);
    const out = path('virtual-board-ota.bin');
    const result = runCli(['image', 'make-ota', input, '-o', out]);
    assert.equal(result.code, 0, result.stderr);
    const image = new Uint8Array(readFileSync(out));
    const newVfs = findPartition(tableOf(image), 'vfs')!;
    assert.ok(newVfs.size < vfs.size, 'the OTA layout leaves a smaller vfs');
    assert.deepEqual(byPath(readLittleFsTree(image.subarray(newVfs.offset, newVfs.offset + newVfs.size))), byPath(written));
    const booted = runCli(['status', '-d', `sim:${out}`, '--json']);
    assert.equal(booted.code, 0, booted.stderr);
    assert.equal(JSON.parse(booted.stdout).running, 'ota_0');
  });

  it('--erase-fs starts the vfs empty; data that is no littlefs is refused without it', (t) => {
    const firmware = realFirmware(t);
    if (!firmware) return;
    const dump = stockBoardDump(firmware, []);
    dump.fill(0x42, 0x200000, 0x202000); // both blocks of the superblock pair
    const input = path('dump-garbage.bin');
    writeFileSync(input, dump);
    const out = path('dump-garbage-ota.bin');
    assertRefused(['image', 'make-ota', input, '-o', out, '--app-size', '0x1C0000'], input, out, /'vfs'.*holds data but no littlefs.*--erase-fs/);
    const result = runCli(['image', 'make-ota', input, '-o', out, '--app-size', '0x1C0000', '--erase-fs']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /vfs\s+erased \(--erase-fs\)/);
    assert.ok(new Uint8Array(readFileSync(out)).subarray(0x390000).every((byte) => byte === 0xff));
  });
});

describe('image resize and edit', () => {
  it('resize --flash-size 8M of an OTA dump keeps nvs and otadata in place, grows the vfs with its files', (t) => {
    const firmware = realFirmware(t);
    if (!firmware) return;
    const entries = files(6, (i) => 1000 + i * 100);
    const input = path('resize-in.bin');
    writeFileSync(input, stockBoardDump(firmware, entries));
    const ota = path('resize-ota.bin');
    assert.equal(runCli(['image', 'make-ota', input, '-o', ota, '--app-size', '0x1C0000']).code, 0);
    const otaImage = new Uint8Array(readFileSync(ota));
    otaImage.set([1, 2, 3, 4], 0x9000);
    writeFileSync(ota, otaImage);
    const out = path('resize-out.bin');
    const result = runCli(['image', 'resize', ota, '-o', out, '--flash-size', '8M']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /nvs\s+kept as it was \(same place and size\)/);
    const image = new Uint8Array(readFileSync(out));
    assert.equal(image.length, 8 * MIB);
    assert.deepEqual(image.subarray(0x9000, 0x9004), new Uint8Array([1, 2, 3, 4]));
    const vfs = findPartition(tableOf(image), 'vfs')!;
    assert.deepEqual([vfs.offset, vfs.size], [0x390000, 8 * MIB - 0x390000]);
    assert.deepEqual(byPath(readLittleFsTree(image.subarray(vfs.offset))), byPath(entries));
    assert.equal(decodeAppImageHeader(image.subarray(0x1000)).flashSizeName, '8MB');

    const shrink = path('resize-bad.bin');
    assertRefused(['image', 'resize', ota, '-o', shrink, '--resize', 'ota_0=0x1f8000,ota_1=0x1f8000'], ota, shrink, /no room left for 'vfs'/);
    assertRefused(['image', 'resize', ota, '-o', shrink, '--app-size', '0x190000'], ota, shrink, /the app from 'ota_0' is 1,672,800 bytes \(0x198660\), more than the 0x190000 bytes of 'ota_0'/);
    assertRefused(['image', 'resize', ota, '-o', shrink], ota, shrink, /give --flash-size, --app-size or --resize/);
  });

  it('edit adds, renames and deletes partitions with gen_esp32part.py checks', (t) => {
    if (!realFirmware(t)) return;
    assert.equal(otaFourMiB().result.code, 0);
    const ota = otaFourMiB().path;
    const out = path('edit-out.bin');
    const result = runCli(['image', 'edit', ota, '-o', out, '--add', 'coredump, data, coredump, , 64K', '--rename', 'phy_init=phy', '--flags', 'nvs=']);
    assert.equal(result.code, 0, result.stderr);
    const table = tableOf(new Uint8Array(readFileSync(out)));
    assert.deepEqual(findPartition(table, 'coredump'), { label: 'coredump', type: 1, subtype: 3, offset: 0x3f0000, size: 0x10000, encrypted: false, readonly: false });
    assert.equal(findPartition(table, 'vfs')?.size, 0x60000);
    assert.ok(findPartition(table, 'phy'));

    const bad = path('edit-bad.bin');
    assertRefused(['image', 'make-ota', ota, '-o', bad], ota, bad, /already OTA-capable.*image resize/);
    assertRefused(['image', 'edit', ota, '-o', bad, '--add', 'x, app, ota_2, 0x3a8000, 64K'], ota, bad, /offset 0x3a8000 is not aligned to 0x10000/);
    assertRefused(['image', 'edit', ota, '-o', bad, '--add', 'x, data, nvs, 0x380000, 64K'], ota, bad, /overlaps/);
    assertRefused(['image', 'edit', ota, '-o', bad, '--delete', 'ota_0'], ota, bad, /no place for the app in 'ota_0', the one the board boots/);
  });
});
