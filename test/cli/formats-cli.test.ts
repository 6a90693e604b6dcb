import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { buildAppImage } from '../../src/format/app-image-builder.js';
import { buildFlashImage } from '../../src/format/flash-image-builder.js';
import { encodeOtadata, makeOtaSelectEntry, OtaImageState } from '../../src/format/otadata.js';
import { encodePartitionTable } from '../../src/format/partition-table.js';
import { runCli, type CliResult } from '../helpers/run-cli.js';
import { OTA_TABLE, REAL_FIRMWARE_PATH, realFirmware } from '../helpers/testdata.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'esp32-ota-cli-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const write = (name: string, data: Uint8Array | string) => {
  const path = join(dir, name);
  writeFileSync(path, data);
  return path;
};

/** One line on stderr naming the problem, exit code non-zero, no stack trace. */
function assertOneLineError(result: CliResult, pattern: RegExp): void {
  assert.notEqual(result.code, 0, `expected failure, got exit 0 with ${result.stdout}`);
  assert.equal(result.stderr.trimEnd().split('\n').length, 1, `expected one line, got:\n${result.stderr}`);
  assert.match(result.stderr, /^esp32-ota: error: /);
  assert.match(result.stderr, pattern);
  assert.doesNotMatch(result.stderr, /\n\s+at /);
}

describe('esp32-ota image info / extract-app on the real firmware', () => {
  it('shows kind, chip, app length, version, project and a valid image', (t) => {
    if (!realFirmware(t)) return;
    const result = runCli(['image', 'info', REAL_FIRMWARE_PATH]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Kind:\s+combined firmware image/);
    assert.match(result.stdout, /Chip:\s+esp32 /);
    assert.match(result.stdout, /Length:\s+1,672,800 bytes \(0x198660, 1\.6 MiB\)/);
    assert.match(result.stdout, /Version:\s+v1\.23\.0/);
    assert.match(result.stdout, /Project:\s+micropython/);
    assert.match(result.stdout, /factory\s+app\s+factory\s+0x10000\s+0x1f0000\s+2,031,616\s+1\.9 MiB/);
    assert.match(result.stdout, /Validation:\s+valid/);
  });

  it('--json gives the same facts to scripts', (t) => {
    if (!realFirmware(t)) return;
    const result = runCli(['image', 'info', '--json', REAL_FIRMWARE_PATH]);
    assert.equal(result.code, 0, result.stderr);
    const info = JSON.parse(result.stdout);
    assert.equal(info.kind, 'combined-image');
    assert.equal(info.chip, 'esp32');
    assert.equal(info.app.length, 1_672_800);
    assert.equal(info.app.version, 'v1.23.0');
    assert.equal(info.app.project, 'micropython');
    assert.equal(info.app.micropython.machine, 'Generic ESP32 module with ESP32');
    assert.equal(info.app.valid, true);
    assert.equal(info.partitionTable.partitions.length, 4);
  });

  it('extract-app writes the exact app, whose SHA-256 matches the appended hash', (t) => {
    if (!realFirmware(t)) return;
    const out = join(dir, 'micropython.app-bin');
    const result = runCli(['image', 'extract-app', REAL_FIRMWARE_PATH, '-o', out]);
    assert.equal(result.code, 0, result.stderr);
    const app = readFileSync(out);
    assert.equal(app.length, 1_672_800);
    const body = createHash('sha256').update(app.subarray(0, app.length - 32)).digest();
    assert.deepEqual(body, app.subarray(app.length - 32));
    assert.match(result.stdout, new RegExp(`SHA-256 ${createHash('sha256').update(app).digest('hex')}`));
    const info = JSON.parse(runCli(['image', 'info', '--json', out]).stdout);
    assert.equal(info.kind, 'app-image');
    assert.equal(info.app.valid, true);
  });
});

describe('esp32-ota partitions', () => {
  it('prints the table of a combined image, as CSV and as JSON', (t) => {
    if (!realFirmware(t)) return;
    const csv = runCli(['partitions', REAL_FIRMWARE_PATH, '--csv']);
    assert.equal(csv.code, 0, csv.stderr);
    assert.match(csv.stdout, /^factory,\s*app,\s*factory,\s*0x10000,\s*(0x1f0000|1984K),/im);
    const json = JSON.parse(runCli(['partitions', '--json', REAL_FIRMWARE_PATH]).stdout);
    assert.deepEqual(json.partitions.map((p: { label: string }) => p.label), ['nvs', 'phy_init', 'factory', 'vfs']);
  });

  it('converts CSV to binary and back', () => {
    const csvPath = write('ota.csv', 'nvs, data, nvs, 0x9000, 0x4000,\notadata, data, ota, , 0x2000,\nota_0, app, ota_0, , 1536K,\nota_1, app, ota_1, , 1536K,\nvfs, data, fat, , 960K,\n');
    const binPath = join(dir, 'ota.bin');
    const toBinary = runCli(['partitions', 'convert', csvPath, binPath]);
    assert.equal(toBinary.code, 0, toBinary.stderr);
    const binary = readFileSync(binPath);
    assert.equal(binary.length, 0xc00);
    const back = join(dir, 'back.csv');
    assert.equal(runCli(['partitions', 'convert', binPath, back]).code, 0);
    const again = join(dir, 'again.bin');
    assert.equal(runCli(['partitions', 'convert', back, again]).code, 0);
    assert.deepEqual(readFileSync(again), binary);
    const shown = runCli(['partitions', binPath]);
    assert.match(shown.stdout, /otadata\s+data\s+ota\s+0xd000\s+0x2000\s+8,192\s+8 KiB/);
  });

  it('refuses overlapping partitions with the line and names', () => {
    const csvPath = write('overlap.csv', 'nvs, data, nvs, 0x9000, 0x6000,\nphy, data, phy, 0xa000, 0x1000,\n');
    assertOneLineError(runCli(['partitions', 'convert', csvPath, join(dir, 'x.bin')]), /overlap/i);
  });

  it('refuses a table with a corrupted MD5, naming the offset', () => {
    const table = encodePartitionTable(OTA_TABLE);
    const md5At = OTA_TABLE.partitions.length * 32;
    table[md5At + 20]! ^= 0xff;
    assertOneLineError(runCli(['partitions', write('bad-md5.bin', table)]), /MD5.*offset 0x/i);
  });
});

describe('esp32-ota otadata', () => {
  const otadata = encodeOtadata([makeOtaSelectEntry(1, OtaImageState.VALID), makeOtaSelectEntry(2, OtaImageState.PENDING_VERIFY)]);

  it('explains an otadata dump', () => {
    const result = runCli(['otadata', write('otadata.bin', otadata)]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /1\s+0x1000\s+2\s+PENDING_VERIFY\s+0x55f63774\s+yes\s+<- active/);
  });

  it('on a flash dump names the partition the next boot picks, and the rollback', () => {
    const dump = buildFlashImage({
      chip: 'esp32',
      flashSize: 4 << 20,
      table: OTA_TABLE,
      apps: { ota_0: buildAppImage({ size: 0x2000 }), ota_1: buildAppImage({ size: 0x2000, seed: 5 }) },
      otadata: [makeOtaSelectEntry(1, OtaImageState.VALID), makeOtaSelectEntry(2, OtaImageState.PENDING_VERIFY)],
    });
    const path = write('dump.bin', dump);
    const result = runCli(['otadata', path]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Next boot: 'ota_0'/);
    assert.match(result.stdout, /rolls back/);
    const json = JSON.parse(runCli(['otadata', '--json', path]).stdout);
    assert.deepEqual(json.nextBoot, { partition: 'ota_0', reason: json.nextBoot.reason, rollsBack: true });
    assert.equal(json.activeEntry, 1);
    const info = runCli(['image', 'info', path]);
    assert.match(info.stdout, /Kind:\s+flash dump/);
    assert.match(info.stdout, /otadata:/);
  });
});

describe('bad input: one line naming the problem, non-zero exit, no stack trace', () => {
  const app = buildAppImage({ size: 0x2000 });

  it('a missing file', () => assertOneLineError(runCli(['image', 'info', join(dir, 'nope.bin')]), /nope\.bin: no such file/));
  it('an empty file', () => assertOneLineError(runCli(['image', 'info', write('empty.bin', new Uint8Array(0))]), /empty file/));
  it('a file that is no firmware', () =>
    assertOneLineError(runCli(['image', 'info', write('text.bin', 'just some text\n')]), /not an ESP32 firmware file.*offset 0x0/));
  it('a truncated app image', () =>
    assertOneLineError(runCli(['image', 'extract-app', write('cut.bin', app.subarray(0, 0x900)), '-o', join(dir, 'o.bin')]), /offset 0x/));
  it('an app image with a bad checksum shows the image and fails validation', () => {
    const broken = app.slice();
    broken[0x200]! ^= 0x01;
    const result = runCli(['image', 'info', write('badsum.bin', broken)]);
    assert.equal(result.code, 2);
    assert.match(result.stdout, /Validation:\s+INVALID: .*checksum/i);
  });
  it('a truncated otadata dump', () => assertOneLineError(runCli(['otadata', write('short-otadata.bin', new Uint8Array(0x1010))]), /not an ESP32 firmware file|otadata truncated/));
  it('an unknown command', () => {
    const result = runCli(['imgae', 'info']);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /unknown command 'imgae'/);
  });
});
