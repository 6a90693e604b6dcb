import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NoBootableAppError, runBootloader, writeOtadataEntry, type BootloaderOptions } from '../../src/device/bootloader.js';
import { NorFlash, createSharedFlash } from '../../src/device/nor-flash.js';
import { buildAppImage } from '../../src/format/app-image-builder.js';
import { chipByName } from '../../src/format/chips.js';
import { buildFlashImage } from '../../src/format/flash-image-builder.js';
import { OtaImageState, parseOtadata, makeOtaSelectEntry, type OtaData } from '../../src/format/otadata.js';
import { planMarkValid, planSetBoot } from '../../src/format/ota-ops.js';
import { otadataPartition, otaAppPartitions } from '../../src/format/partition-table.js';
import { FACTORY_TABLE, OTA_TABLE } from '../helpers/testdata.js';

const OPTIONS: BootloaderOptions = { chip: chipByName('esp32')!, rollbackEnabled: true, resetReason: 'POWERON_RESET' };
const OTADATA = otadataPartition(OTA_TABLE)!;

function board(apps: Record<string, Uint8Array>, otadata?: OtaData, table = OTA_TABLE): NorFlash {
  const flash = new NorFlash(createSharedFlash(4 << 20));
  flash.bytes.set(buildFlashImage({ chip: 'esp32', flashSize: 4 << 20, table, apps, ...(otadata ? { otadata } : {}) }));
  return flash;
}

const readOtadata = (flash: NorFlash) => parseOtadata(flash.read(OTADATA.offset, OTADATA.size));
const oldApp = buildAppImage({ size: 0x3000, version: 'old', seed: 1 });
const newApp = buildAppImage({ size: 0x4000, version: 'new', seed: 2 });

/** What `esp32.Partition.set_boot()` does once the image is verified. */
function setBoot(flash: NorFlash, slot: number): void {
  writeOtadataEntry(flash, OTADATA, planSetBoot(readOtadata(flash), slot, otaAppPartitions(OTA_TABLE).length, true));
}

describe('bootloader model', () => {
  it('boots ota_0 from blank otadata, records it, and logs the partition like a real ESP32', () => {
    const flash = board({ ota_0: oldApp });
    const booted = runBootloader(flash, OPTIONS);
    assert.equal(booted.partition.label, 'ota_0');
    assert.equal(booted.image.description?.version, 'old');
    assert.deepEqual(readOtadata(flash)[0], makeOtaSelectEntry(1, OtaImageState.VALID));
    assert.match(booted.log, /^rst:0x1 \(POWERON_RESET\),boot:0x13 \(SPI_FAST_FLASH_BOOT\)\r\n/);
    assert.match(booted.log, /I \(\d+\) boot: Loaded app from partition at offset 0x10000\r\n$/);
    assert.match(booted.log, / 3 ota_0 +ota_0 app +00 10 00010000 00180000/);
  });

  it('boots factory on a non-OTA table', () => {
    const booted = runBootloader(board({ factory: oldApp }, undefined, FACTORY_TABLE), OPTIONS);
    assert.equal(booted.partition.label, 'factory');
  });

  it('boots a new image after set_boot, and rolls it back on the next reset unless it was confirmed', () => {
    const flash = board({ ota_0: oldApp, ota_1: newApp });
    runBootloader(flash, OPTIONS);
    setBoot(flash, 1);
    assert.equal(runBootloader(flash, { ...OPTIONS, resetReason: 'SW_CPU_RESET' }).partition.label, 'ota_1');
    assert.equal(readOtadata(flash)[1].state, OtaImageState.PENDING_VERIFY);
    const rolledBack = runBootloader(flash, { ...OPTIONS, resetReason: 'SW_CPU_RESET' });
    assert.equal(rolledBack.partition.label, 'ota_0');
    assert.match(rolledBack.log, /otadata\[1\] is marked ABORTED/);
  });

  it('keeps a confirmed image', () => {
    const flash = board({ ota_0: oldApp, ota_1: newApp });
    setBoot(flash, 1);
    runBootloader(flash, OPTIONS);
    writeOtadataEntry(flash, OTADATA, planMarkValid(readOtadata(flash), 2)!);
    assert.equal(runBootloader(flash, OPTIONS).partition.label, 'ota_1');
    assert.equal(runBootloader(flash, OPTIONS).partition.label, 'ota_1');
  });

  it('without rollback support the new image stays even unconfirmed', () => {
    const flash = board({ ota_0: oldApp, ota_1: newApp });
    setBoot(flash, 1);
    const options = { ...OPTIONS, rollbackEnabled: false };
    assert.equal(runBootloader(flash, options).partition.label, 'ota_1');
    assert.equal(runBootloader(flash, options).partition.label, 'ota_1');
  });

  it('falls back to a lower slot when the chosen image is corrupt, and says so', () => {
    const corrupt = newApp.slice();
    corrupt[0x1000]! ^= 0x40;
    const flash = board({ ota_0: oldApp, ota_1: corrupt });
    setBoot(flash, 1);
    const booted = runBootloader(flash, OPTIONS);
    assert.equal(booted.partition.label, 'ota_0');
    assert.match(booted.log, /E \(\d+\) esp_image: bad checksum/);
    assert.match(booted.log, /E \(\d+\) boot: OTA app partition slot 1 is not bootable/);
  });

  it('refuses an image built for another chip', () => {
    const flash = board({ ota_0: oldApp, ota_1: buildAppImage({ chip: 'esp32s3', size: 0x3000 }) });
    setBoot(flash, 1);
    const booted = runBootloader(flash, OPTIONS);
    assert.equal(booted.partition.label, 'ota_0');
    assert.match(booted.log, /chip/i);
  });

  it('with nothing bootable, fails the way a reset loop starts', () => {
    const flash = board({});
    assert.throws(() => runBootloader(flash, OPTIONS), (error: unknown) => {
      assert.ok(error instanceof NoBootableAppError);
      assert.match(error.log, /No bootable app partitions in the partition table/);
      return true;
    });
  });

  it('with a corrupt partition table, says so', () => {
    const flash = board({ ota_0: oldApp });
    flash.erase(0x8000, 0x1000);
    flash.program(0x8000, Uint8Array.of(0xaa, 0x50, 0x07));
    assert.throws(() => runBootloader(flash, OPTIONS), /no valid partition table/);
  });
});
