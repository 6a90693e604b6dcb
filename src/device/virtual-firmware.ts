/**
 * Firmware for a fresh virtual board: the default 4 MiB OTA partition table
 * (app slots large enough for a real 1.7 MB MicroPython image) and a small
 * generated app image that identifies itself as MicroPython the way real
 * images do (esp_app_desc_t plus the banner strings, see
 * src/format/micropython-identity.ts), so the board boots and reports a version.
 */
import { APP_DESC_SIZE, APP_IMAGE_HEADER_SIZE, SEGMENT_HEADER_SIZE } from '../format/app-image.js';
import { buildAppImage, resealAppImage } from '../format/app-image-builder.js';
import { buildFlashImage } from '../format/flash-image-builder.js';
import { parsePartitionCsv } from '../format/partition-csv.js';
import { createSharedFlash, type SharedFlash } from './nor-flash.js';
import type { PartitionTable } from '../format/partition-table.js';

export const DEFAULT_FLASH_SIZE = 4 * 1024 * 1024;

export const DEFAULT_PARTITIONS_CSV = `# esp32-ota virtual board: MicroPython's OTA layout with 1.75 MiB app slots
# Name,   Type, SubType, Offset,   Size
nvs,      data, nvs,     0x9000,   0x4000,
otadata,  data, ota,     0xd000,   0x2000,
phy_init, data, phy,     0xf000,   0x1000,
ota_0,    app,  ota_0,   0x10000,  0x1c0000,
ota_1,    app,  ota_1,   0x1d0000, 0x1c0000,
vfs,      data, fat,     0x390000, 0x70000,
`;

export function defaultPartitionTable(): PartitionTable {
  return parsePartitionCsv(DEFAULT_PARTITIONS_CSV);
}

export interface GeneratedFirmwareOptions {
  /** e.g. 'v1.27.0' */
  readonly version: string;
  /** e.g. '2025-12-10' */
  readonly buildDate: string;
  readonly machine?: string;
  readonly chip?: string;
  /** Total image length (default 64 KiB). */
  readonly size?: number;
  /** Makes otherwise identical images differ (tests build "new" firmware this way). */
  readonly seed?: number;
  /** 'app-like' content deflates as a real app does; 'random' (the default) does not compress. */
  readonly content?: 'random' | 'app-like';
}

/** A valid app image whose identity is `MicroPython <version> on <date>; <machine>`. */
export function buildGeneratedFirmware(options: GeneratedFirmwareOptions): Uint8Array {
  const machine = options.machine ?? 'Generic ESP32 module with ESP32';
  const [year, month, day] = options.buildDate.split('-');
  const image = buildAppImage({
    chip: options.chip ?? 'esp32',
    size: options.size ?? 0x10000,
    version: options.version,
    projectName: 'micropython',
    date: `${MONTHS[Number(month) - 1] ?? 'Jan'} ${String(Number(day)).padStart(2, ' ')} ${year}`,
    time: '00:00:00',
    seed: options.seed ?? 1,
    ...(options.content ? { content: options.content } : {}),
  });
  const strings = new TextEncoder().encode(`\0MicroPython ${options.version} on ${options.buildDate}\0\0; ${machine}\0`);
  image.set(strings, APP_IMAGE_HEADER_SIZE + SEGMENT_HEADER_SIZE + APP_DESC_SIZE + 16);
  return resealAppImage(image);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export interface FreshFlashOptions {
  readonly flashSize?: number;
  readonly table?: PartitionTable;
  /** The app in the first app partition (ota_0 or factory). */
  readonly firmware: Uint8Array;
  readonly chip?: string;
}

/** A new board's flash: bootloader stand-in, partition table, firmware in the first app partition, the rest erased. */
export function buildFreshFlash(options: FreshFlashOptions): SharedFlash {
  const table = options.table ?? defaultPartitionTable();
  const firstApp = [...table.partitions].filter((p) => p.type === 0).sort((a, b) => a.offset - b.offset)[0];
  if (!firstApp) throw new Error('the partition table has no app partition to put the firmware in');
  const size = options.flashSize ?? DEFAULT_FLASH_SIZE;
  const shared = createSharedFlash(size);
  new Uint8Array(shared.memory).set(buildFlashImage({ chip: options.chip ?? 'esp32', flashSize: size, table, apps: { [firstApp.label]: options.firmware } }));
  return shared;
}
