/** The shared real firmware (../shared/testdata next to the repo) and small layouts for tests. */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { parsePartitionCsv } from '../../src/format/partition-csv.js';

/** dist/test/helpers/ → repo root → ../shared/testdata/ */
export const REAL_FIRMWARE_PATH = fileURLToPath(new URL('../../../../shared/testdata/ESP32_GENERIC-20240602-v1.23.0.bin', import.meta.url));

/** The real firmware, or undefined after telling the test runner plainly why the test is skipped. */
export function realFirmware(t: TestContext): Uint8Array | undefined {
  if (!existsSync(REAL_FIRMWARE_PATH)) {
    t.skip(`real firmware missing: ${REAL_FIRMWARE_PATH} (the shared testdata folder must sit next to the repo)`);
    return undefined;
  }
  return new Uint8Array(readFileSync(REAL_FIRMWARE_PATH));
}

/** MicroPython's 4 MiB OTA layout, as in the seed's README. */
export const OTA_TABLE = parsePartitionCsv(`# Name, Type, SubType, Offset, Size, Flags
nvs,      data, nvs,     0x9000,  0x4000,
otadata,  data, ota,     0xd000,  0x2000,
phy_init, data, phy,     0xf000,  0x1000,
ota_0,    app,  ota_0,   0x10000, 0x180000,
ota_1,    app,  ota_1,   0x190000, 0x180000,
vfs,      data, fat,     0x310000, 0xf0000,
`);

/** A single factory app, like the official non-OTA firmware. */
export const FACTORY_TABLE = parsePartitionCsv(`nvs, data, nvs, 0x9000, 0x6000,
phy_init, data, phy, 0xf000, 0x1000,
factory, app, factory, 0x10000, 0x1F0000,
vfs, data, fat, 0x200000, 0x200000,
`);
