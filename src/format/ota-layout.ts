/**
 * MicroPython's own OTA partition tables (ports/esp32/partitions-*ota*.csv,
 * see docs/formats.md): nvs, otadata, phy_init, two equal app slots, and the
 * `vfs` filesystem filling the rest of the flash.
 */
import { hex } from './bytes.js';
import { FormatError } from './errors.js';
import {
  AppSubtype,
  DataSubtype,
  PartitionType,
  findLayoutProblem,
  otaAppPartitions,
  otadataPartition,
  type Partition,
  type PartitionTable,
} from './partition-table.js';
import { humanSize, withThousands } from './units.js';

const MIB = 0x100000;
/** ota_0 starts here in every MicroPython OTA table; ota_1 follows it. */
const FIRST_APP_OFFSET = 0x10000;
/** ota_1 must start on a 64 KiB boundary, so a slot is a whole number of 64 KiB. */
export const APP_SLOT_ALIGNMENT = 0x10000;
/** The smallest `vfs` we leave: 16 littlefs blocks of 4 KiB. */
export const MIN_VFS_SIZE = 0x10000;

/**
 * Slot size by flash size: v1.23.0's partitions-4MiB-ota.csv (0x180000) and
 * partitions-16MiB-ota.csv / 32MiB-ota.csv (0x270000); v1.26's
 * partitions-8MiBplus-ota.csv uses 0x270000 for 8 MiB and more.
 */
const MICROPYTHON_SLOT_SIZES: ReadonlyMap<number, number> = new Map([
  [4 * MIB, 0x180000],
  [8 * MIB, 0x270000],
  [16 * MIB, 0x270000],
  [32 * MIB, 0x270000],
]);

export const OTA_LAYOUT_FLASH_SIZES: readonly number[] = [...MICROPYTHON_SLOT_SIZES.keys()];

/** MicroPython's app slot size for this flash size, or undefined when it has no OTA table for it. */
export function defaultAppSlotSize(flashSize: number): number | undefined {
  return MICROPYTHON_SLOT_SIZES.get(flashSize);
}

/** The largest slot size that leaves a vfs of MIN_VFS_SIZE on this flash. */
export function largestAppSlotSize(flashSize: number): number {
  const room = Math.floor((flashSize - FIRST_APP_OFFSET - MIN_VFS_SIZE) / 2);
  return Math.floor(room / APP_SLOT_ALIGNMENT) * APP_SLOT_ALIGNMENT;
}

/** The smallest slot size that holds an app of `appLength` bytes. */
export function smallestAppSlotSize(appLength: number): number {
  return Math.ceil(appLength / APP_SLOT_ALIGNMENT) * APP_SLOT_ALIGNMENT;
}

function partition(label: string, type: number, subtype: number, offset: number, size: number): Partition {
  return { label, type, subtype, offset, size, encrypted: false, readonly: false };
}

/**
 * MicroPython's OTA table for `flashSize`, with `slotSize` app slots (default:
 * MicroPython's for that flash size). Throws FormatError saying what would fit.
 */
export function microPythonOtaTable(flashSize: number, slotSize?: number): PartitionTable {
  const defaultSlot = defaultAppSlotSize(flashSize);
  const largest = largestAppSlotSize(flashSize);
  const slot = slotSize ?? defaultSlot;
  if (slot === undefined) {
    const sizes = OTA_LAYOUT_FLASH_SIZES.map(humanSize).join(', ');
    throw new FormatError(`MicroPython has no OTA partition table for ${humanSize(flashSize)} of flash (it has them for ${sizes}); give --app-size to choose the slots`);
  }
  if (slot <= 0 || slot % APP_SLOT_ALIGNMENT !== 0) {
    throw new FormatError(
      `app size ${hex(slot)} is not a multiple of ${hex(APP_SLOT_ALIGNMENT)} (64 KiB): ota_1 must start on a 64 KiB boundary, e.g. ${hex(smallestAppSlotSize(Math.max(slot, 1)))}`,
    );
  }
  if (slot > largest) {
    throw new FormatError(
      `app size ${hex(slot)} is too large for ${humanSize(flashSize)} of flash: two slots and a vfs of at least ${humanSize(MIN_VFS_SIZE)} need --app-size ${hex(largest)} or less`,
    );
  }
  const ota1 = FIRST_APP_OFFSET + slot;
  const vfs = ota1 + slot;
  const table: PartitionTable = {
    hasMd5: true,
    partitions: [
      partition('nvs', PartitionType.DATA, DataSubtype.NVS, 0x9000, 0x4000),
      partition('otadata', PartitionType.DATA, DataSubtype.OTA, 0xd000, 0x2000),
      partition('phy_init', PartitionType.DATA, DataSubtype.PHY, 0xf000, 0x1000),
      partition('ota_0', PartitionType.APP, AppSubtype.OTA_0, FIRST_APP_OFFSET, slot),
      partition('ota_1', PartitionType.APP, AppSubtype.OTA_0 + 1, ota1, slot),
      partition('vfs', PartitionType.DATA, DataSubtype.FAT, vfs, flashSize - vfs),
    ],
  };
  const problem = findLayoutProblem(table, { flashSize });
  if (problem) throw new FormatError(problem.message);
  return table;
}

/** Why an app of `appLength` bytes cannot go into `slotSize` slots, with the sizes that would do. */
export function appDoesNotFitMessage(appLength: number, slotSize: number, flashSize: number, chosen: boolean): string {
  const needed = smallestAppSlotSize(appLength);
  const largest = largestAppSlotSize(flashSize);
  const slots = chosen ? `--app-size ${hex(slotSize)}` : `MicroPython's ${humanSize(flashSize)} OTA slots (${hex(slotSize)})`;
  const head =
    `the app is ${withThousands(appLength)} bytes (${hex(appLength)}), more than ${slots} hold: ` +
    `the largest app that fits them is ${withThousands(slotSize)} bytes`;
  if (needed > largest) {
    return `${head}; on ${humanSize(flashSize)} of flash no slot size fits it (at most --app-size ${hex(largest)}): use a larger --flash-size`;
  }
  const bigger = OTA_LAYOUT_FLASH_SIZES.find((size) => size > flashSize && (defaultAppSlotSize(size) ?? 0) >= appLength);
  return `${head}; use --app-size ${hex(needed)} (up to ${hex(largest)} on ${humanSize(flashSize)})${bigger ? ` or --flash-size ${bigger / MIB}M` : ''}`;
}

export interface OtaReadiness {
  readonly ready: boolean;
  /** Why (not): the otadata partition and OTA app slots found. */
  readonly reason: string;
}

/** Whether a board with this table can take OTA updates: an otadata partition and at least two ota_N slots. */
export function otaReadiness(table: PartitionTable): OtaReadiness {
  const slots = otaAppPartitions(table);
  const otadata = otadataPartition(table);
  const slotText = slots.length === 0 ? 'no OTA app slots' : `${slots.length} OTA app slot${slots.length === 1 ? '' : 's'} (${slots.map((p) => `${p.label} ${hex(p.size)}`).join(', ')})`;
  if (otadata && slots.length >= 2) return { ready: true, reason: `otadata at ${hex(otadata.offset)} and ${slotText}` };
  return { ready: false, reason: `${otadata ? 'otadata' : 'no otadata partition'} and ${slotText}` };
}
