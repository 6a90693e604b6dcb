/**
 * Flash dumps (a virtual board's flash file starts with 0xFF; so does a
 * combined image written at 0x1000 after 0x1000 erased bytes) are read as
 * dumps by every command that reads a partition table or otadata, and tables
 * are described as what they are.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_PARTITIONS_CSV } from '../../src/device/virtual-firmware.js';
import { freshFlash } from '../../src/node/virtual-board.js';
import { runCliInProcess } from '../helpers/run-cli.js';
import { realFirmware } from '../helpers/testdata.js';

let dir: string;
const at = (name: string) => join(dir, name);
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'esp32-ota-dumps-'));
  writeFileSync(at('board.bin'), new Uint8Array(freshFlash().memory));
  writeFileSync(at('table.csv'), DEFAULT_PARTITIONS_CSV);
  writeFileSync(at('one.csv'), 'nvs,data,nvs,0x9000,0x6000\n');
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('a virtual board flash file (first byte 0xFF) is a flash dump to every command', () => {
  for (const args of [['partitions'], ['partitions', '--json'], ['partitions', '--csv'], ['otadata'], ['image', 'info']]) {
    it(`esp32-ota ${args.join(' ')} board.bin`, async () => {
      const result = await runCliInProcess([...args, at('board.bin')]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /ota_1|"label": "ota_1"|otadata\[|Entry/);
    });
  }

  it('partitions convert board.bin out.csv gives the table as CSV', async () => {
    const result = await runCliInProcess(['partitions', 'convert', at('board.bin'), at('out.csv')]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /CSV partition table, 6 entries\./);
    assert.match(readFileSync(at('out.csv'), 'utf8'), /^ota_1,app,ota_1,0x1d0000,1792K,$/m);
  });

  it('a combined image after 0x1000 erased bytes (a dump from flash 0x0)', async (t) => {
    const firmware = realFirmware(t);
    if (!firmware) return;
    const dump = new Uint8Array(0x1000 + firmware.length).fill(0xff);
    dump.set(firmware, 0x1000);
    writeFileSync(at('padded.bin'), dump);
    const table = await runCliInProcess(['partitions', at('padded.bin')]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /factory\s+app\s+factory\s+0x10000/);
    const info = await runCliInProcess(['image', 'info', at('padded.bin')]);
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stdout, /App image in 'factory' \(flash 0x10000, file offset 0x10000\)/);
  });
});

describe('an app inside a combined image is described with offsets in the file', () => {
  it('segments and problems', async (t) => {
    const firmware = realFirmware(t);
    if (!firmware) return;
    const damaged = firmware.slice();
    damaged[0xf000 + 0x1000]! ^= 1;
    writeFileSync(at('damaged.bin'), damaged);
    const info = await runCliInProcess(['image', 'info', at('damaged.bin')]);
    assert.equal(info.code, 2, info.stderr);
    assert.match(info.stdout, /^\s+0 {2}0x3f400020\s+0xf020 /m);
    assert.match(info.stdout, /INVALID: bad checksum: stored 0x00, computed 0x01 at offset 0x1a763f/);
    const json = JSON.parse((await runCliInProcess(['image', 'info', '--json', at('damaged.bin')])).stdout);
    assert.equal(json.app.segments[0].fileOffset, 0xf020);
  });
});

describe('partition tables are described as what they are', () => {
  it('a CSV has no MD5 to check, and one entry is "1 entry"', async () => {
    const csv = await runCliInProcess(['partitions', at('one.csv')]);
    assert.equal(csv.code, 0, csv.stderr);
    assert.match(csv.stdout, /^Partition table \(1 entry\):/);
    const binary = at('one.bin');
    assert.equal((await runCliInProcess(['partitions', 'convert', at('one.csv'), binary])).code, 0);
    assert.match((await runCliInProcess(['partitions', binary])).stdout, /^Partition table \(1 entry, MD5 checked\):/);
    assert.match((await runCliInProcess(['partitions', at('table.csv')])).stdout, /^Partition table \(6 entries\):/);
  });
});
