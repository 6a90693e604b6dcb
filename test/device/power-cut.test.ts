/**
 * A power cut at any erase or program operation of an update must leave a
 * board that boots a valid image: the old one, or the new one when the cut
 * came after set_boot finished.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { EspIdfApi } from '../../src/device/board/esp-idf-api.js';
import { runBootloader } from '../../src/device/bootloader.js';
import { NorFlash, PowerCutError, createSharedFlash, type SharedFlash } from '../../src/device/nor-flash.js';
import { buildGeneratedFirmware, defaultPartitionTable } from '../../src/device/virtual-firmware.js';
import type { VirtualEsp32 } from '../../src/device/virtual-esp32.js';
import { chipByName } from '../../src/format/chips.js';
import { equalBytes } from '../../src/format/bytes.js';
import { findPartition } from '../../src/format/partition-table.js';
import { freshFlash, virtualBoard } from '../../src/node/virtual-board.js';
import { nativeSha256 } from '../../src/node/native-hash.js';
import { ReplClient } from '../../src/repl/index.js';
import { poweredOff } from '../helpers/virtual-board.js';

const ESP32 = chipByName('esp32')!;
const TABLE = defaultPartitionTable();
const OTA_1 = findPartition(TABLE, 'ota_1')!;
const NEW_FIRMWARE = buildGeneratedFirmware({ version: 'v1.99.0', buildDate: '2026-01-02', size: 0x14000, seed: 11 });
const bootOptions = { chip: ESP32, rollbackEnabled: true, resetReason: 'POWERON_RESET' as const, sha256: nativeSha256 };

/** A board that has booted its first firmware once (otadata initialised), as a flash snapshot. */
function firstBootedFlash(): Uint8Array {
  const flash = new NorFlash(freshFlash({ firmware: buildGeneratedFirmware({ version: 'v1.0.0', buildDate: '2025-01-01' }) }));
  runBootloader(flash, bootOptions);
  return flash.bytes.slice();
}

function flashFrom(snapshot: Uint8Array): NorFlash {
  const shared: SharedFlash = createSharedFlash(snapshot.length);
  new Uint8Array(shared.memory).set(snapshot);
  return new NorFlash(shared);
}

/**
 * What esp32.Partition does for an OTA writer, then set_boot: writeblocks (erase + program)
 * per 4 KiB block as the OTA script does, or per 64 KiB group (one block erase) as the
 * transfer agent does where the partition allows.
 */
function update(flash: NorFlash, eraseUnit: 0x1000 | 0x10000): void {
  const api = new EspIdfApi({ flash, table: TABLE, chipId: ESP32.id, rollbackEnabled: true, running: findPartition(TABLE, 'ota_0')!, sha256: nativeSha256 });
  for (let offset = 0; offset < NEW_FIRMWARE.length; offset += eraseUnit) {
    const unit = new Uint8Array(eraseUnit).fill(0xff);
    unit.set(NEW_FIRMWARE.subarray(offset, offset + eraseUnit));
    assert.equal(api.erase(OTA_1, offset, eraseUnit), 0);
    assert.equal(api.write(OTA_1, offset, unit), 0);
  }
  assert.equal(api.setBootPartition(OTA_1), 0);
}

describe('power cut during an update', () => {
  const snapshot = firstBootedFlash();

  for (const [name, eraseUnit] of [
    ['4 KiB sector erases', 0x1000],
    ['64 KiB block erases', 0x10000],
  ] as const) {
    it(`at every single erase/program operation (${name}), the board still boots a valid image`, () => {
      const probe = flashFrom(snapshot);
      const start = probe.stats().operations;
      update(probe, eraseUnit);
      const operations = probe.stats().operations - start;
      assert.ok(operations > 300, `an update of ${NEW_FIRMWARE.length} bytes takes ${operations} flash operations`);
      if (eraseUnit === 0x10000) assert.ok(probe.stats().blockErases >= 2, 'the update erased 64 KiB blocks');
      const booted = { old: 0, new: 0 };
      for (let cut = 0; cut < operations; cut++) {
        const flash = flashFrom(snapshot);
        flash.cutPowerAfter(cut);
        assert.throws(() => update(flash, eraseUnit), PowerCutError, `cut after ${cut} operations`);
        flash.restorePower();
        const result = runBootloader(flash, bootOptions);
        if (result.partition.label === 'ota_1') {
          assert.ok(equalBytes(flash.read(OTA_1.offset, NEW_FIRMWARE.length), NEW_FIRMWARE), `cut ${cut}: booted a partial ota_1`);
          booted.new++;
        } else {
          assert.equal(result.partition.label, 'ota_0', `cut ${cut}`);
          booted.old++;
        }
        // And it keeps booting: the next reset (rollback of the unconfirmed image included) works too.
        assert.ok(['ota_0', 'ota_1'].includes(runBootloader(flash, bootOptions).partition.label));
      }
      // Every cut falls before set_boot's otadata write completed (a torn entry fails its CRC), so all boot the old image.
      assert.deepEqual(booted, { old: operations, new: 0 });
    });
  }
});

describe('power cut during an update run by MicroPython on the virtual board', () => {
  const script = readFileSync(new URL('../../../test/fixtures/device/ota_from_file.py', import.meta.url), 'utf8');
  const boards: VirtualEsp32[] = [];
  after(async () => {
    for (const board of boards) await board.stop();
  });

  // 20 blocks x (1 erase + 16 page programs) = 340 operations, then set_boot's otadata erase (#341) and write (#342).
  for (const cut of [0, 120, 339, 340, 341]) {
    it(`a cut after ${cut} flash operations leaves a board that boots`, async () => {
      const board = virtualBoard(freshFlash({ firmware: buildGeneratedFirmware({ version: 'v1.0.0', buildDate: '2025-01-01' }) }));
      boards.push(board);
      await board.powerOn();
      board.writeFile('firmware.bin', NEW_FIRMWARE);
      const client = new ReplClient(board.connect());
      await client.enterRawRepl();
      board.flash.cutPowerAfter(cut);
      await client.startProgram(script);
      await poweredOff(board, 10_000);
      await board.powerOn();
      await board.idle();
      assert.equal(board.state, 'running');
      assert.equal(board.booted?.partition.label, 'ota_0');
    });
  }
});
