import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EspErr, EspIdfApi } from '../../src/device/board/esp-idf-api.js';
import { runBootloader } from '../../src/device/bootloader.js';
import { NorFlash, createSharedFlash } from '../../src/device/nor-flash.js';
import { buildAppImage } from '../../src/format/app-image-builder.js';
import { chipByName } from '../../src/format/chips.js';
import { buildFlashImage } from '../../src/format/flash-image-builder.js';
import { OtaImageState, parseOtadata } from '../../src/format/otadata.js';
import { findPartition, otadataPartition, type PartitionTable } from '../../src/format/partition-table.js';
import { parsePartitionCsv } from '../../src/format/partition-csv.js';
import { OTA_TABLE } from '../helpers/testdata.js';

const ESP32 = chipByName('esp32')!;
const part = (table: PartitionTable, label: string) => findPartition(table, label)!;

/** A board that has booted once, and the API its app would see. */
function bootedBoard(apps: Record<string, Uint8Array>, table = OTA_TABLE) {
  const flash = new NorFlash(createSharedFlash(4 << 20));
  flash.bytes.set(buildFlashImage({ chip: 'esp32', flashSize: 4 << 20, table, apps }));
  const booted = runBootloader(flash, { chip: ESP32, rollbackEnabled: true, resetReason: 'POWERON_RESET' });
  const api = new EspIdfApi({ flash, table, chipId: ESP32.id, rollbackEnabled: true, running: booted.partition });
  const otadata = () => parseOtadata(flash.read(otadataPartition(table)!.offset, 0x2000));
  return { flash, api, otadata };
}

const app = buildAppImage({ size: 0x3000, seed: 3 });

describe('esp_partition read/write/erase_range', () => {
  it('checks bounds and alignment with ESP-IDF error codes', () => {
    const { api } = bootedBoard({ ota_0: app });
    const vfs = part(OTA_TABLE, 'vfs');
    assert.equal(api.read(vfs, vfs.size + 1, new Uint8Array(1)), EspErr.INVALID_ARG);
    assert.equal(api.read(vfs, vfs.size - 2, new Uint8Array(4)), EspErr.INVALID_SIZE);
    assert.equal(api.erase(vfs, 0x800, 0x1000), EspErr.INVALID_ARG);
    assert.equal(api.erase(vfs, 0, 0x800), EspErr.INVALID_SIZE);
    assert.equal(api.erase(vfs, 0x1000, 0x1000), EspErr.OK);
  });

  it('writes without erasing (AND), as flash does', () => {
    const { api } = bootedBoard({ ota_0: app });
    const vfs = part(OTA_TABLE, 'vfs');
    api.erase(vfs, 0, 0x1000);
    api.write(vfs, 10, Uint8Array.of(0x0f));
    api.write(vfs, 10, Uint8Array.of(0xf1));
    const back = new Uint8Array(1);
    assert.equal(api.read(vfs, 10, back), EspErr.OK);
    assert.equal(back[0], 0x01);
  });
});

describe('esp_ota calls', () => {
  it('next update partition: the slot after, wrapping; ota_0 from a non-OTA app', () => {
    const { api } = bootedBoard({ ota_0: app });
    assert.equal(api.nextUpdatePartition(part(OTA_TABLE, 'ota_0'))?.label, 'ota_1');
    assert.equal(api.nextUpdatePartition(part(OTA_TABLE, 'ota_1'))?.label, 'ota_0');
    const withFactory = parsePartitionCsv('nvs,data,nvs,0x9000,0x4000,\notadata,data,ota,0xd000,0x2000,\nfactory,app,factory,0x10000,0x100000,\nota_0,app,ota_0,,0x100000,\nota_1,app,ota_1,,0x100000,\n');
    const board = bootedBoard({ factory: app }, withFactory);
    assert.equal(board.api.running.label, 'factory');
    assert.equal(board.api.nextUpdatePartition(part(withFactory, 'factory'))?.label, 'ota_0');
  });

  it('set_boot refuses a corrupt image with ESP_ERR_OTA_VALIDATE_FAILED and leaves otadata alone', () => {
    const { api, otadata, flash } = bootedBoard({ ota_0: app });
    const ota1 = part(OTA_TABLE, 'ota_1');
    const broken = buildAppImage({ size: 0x3000, seed: 9 });
    broken[0x900]! ^= 0xff;
    flash.erase(ota1.offset, 0x3000);
    flash.program(ota1.offset, broken);
    const before = otadata();
    assert.equal(api.setBootPartition(ota1), EspErr.OTA_VALIDATE_FAILED);
    assert.deepEqual(otadata(), before);
    assert.equal(api.bootPartition()?.label, 'ota_0');
  });

  it('set_boot of a valid image writes a NEW entry that selects it', () => {
    const { api, otadata, flash } = bootedBoard({ ota_0: app });
    const ota1 = part(OTA_TABLE, 'ota_1');
    flash.erase(ota1.offset, 0x3000);
    flash.program(ota1.offset, buildAppImage({ size: 0x3000, seed: 4 }));
    assert.equal(api.setBootPartition(ota1), EspErr.OK);
    assert.equal(api.bootPartition()?.label, 'ota_1');
    assert.equal(otadata()[1].seq, 2);
    assert.equal(otadata()[1].state, OtaImageState.NEW);
  });

  it('mark valid: ESP_FAIL from a factory app, VALID in place from an OTA app', () => {
    const withFactory = parsePartitionCsv('otadata,data,ota,0xd000,0x2000,\nfactory,app,factory,0x10000,0x100000,\nota_0,app,ota_0,,0x100000,\n');
    assert.equal(bootedBoard({ factory: app }, withFactory).api.markAppValidCancelRollback(), EspErr.FAIL);
    const { api, otadata } = bootedBoard({ ota_0: app });
    assert.equal(api.markAppValidCancelRollback(), EspErr.OK);
    assert.equal(otadata()[0].state, OtaImageState.VALID);
  });

  it('set_boot of a non-app partition is ESP_ERR_INVALID_ARG', () => {
    const { api } = bootedBoard({ ota_0: app });
    assert.equal(api.setBootPartition(part(OTA_TABLE, 'vfs')), EspErr.INVALID_ARG);
  });
});
