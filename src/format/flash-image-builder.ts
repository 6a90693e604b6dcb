/**
 * Assembles whole-flash images and combined firmware images from parts: what
 * `esptool write_flash` of several files, or `esptool merge_bin`, would give.
 * Used by the virtual device to create a fresh board and by tests.
 */
import { APP_IMAGE_HEADER_SIZE, SEGMENT_HEADER_SIZE } from './app-image.js';
import { buildAppImage, resealAppImage } from './app-image-builder.js';
import { chipByName, type Chip } from './chips.js';
import { encodeOtadata, type OtaData } from './otadata.js';
import {
  PARTITION_TABLE_OFFSET,
  encodePartitionTable,
  findPartition,
  otadataPartition,
  type PartitionTable,
} from './partition-table.js';

export interface FlashImageSpec {
  readonly chip: string;
  readonly flashSize: number;
  readonly table: PartitionTable;
  /** App images by partition label. */
  readonly apps?: Readonly<Record<string, Uint8Array>>;
  readonly otadata?: OtaData;
  /** Defaults to a stand-in bootloader (see `buildStandInBootloader`). */
  readonly bootloader?: Uint8Array;
}

/**
 * An image with the chip's bootloader header but no app description: it marks
 * the bootloader region so tools recognise the layout. It is not bootloader
 * code; the virtual device's bootloader is a model in TypeScript.
 */
export function buildStandInBootloader(chip: string): Uint8Array {
  const image = buildAppImage({ chip, size: 0x400, projectName: 'bootloader' });
  const descriptionOffset = APP_IMAGE_HEADER_SIZE + SEGMENT_HEADER_SIZE;
  image.fill(0, descriptionOffset, descriptionOffset + 4);
  return resealAppImage(image);
}

export function buildFlashImage(spec: FlashImageSpec): Uint8Array {
  const chip = requireChip(spec.chip);
  const flash = new Uint8Array(spec.flashSize).fill(0xff);
  const place = (offset: number, data: Uint8Array, what: string) => {
    if (offset + data.length > flash.length) throw new RangeError(`${what} (${data.length} bytes at 0x${offset.toString(16)}) does not fit in the flash`);
    flash.set(data, offset);
  };
  place(chip.bootloaderOffset, spec.bootloader ?? buildStandInBootloader(chip.name), 'the bootloader');
  place(PARTITION_TABLE_OFFSET, encodePartitionTable(spec.table), 'the partition table');
  for (const [label, app] of Object.entries(spec.apps ?? {})) {
    const partition = findPartition(spec.table, label);
    if (!partition) throw new RangeError(`no partition '${label}' for an app image`);
    if (app.length > partition.size) throw new RangeError(`the app for '${label}' is ${app.length} bytes, the partition ${partition.size}`);
    place(partition.offset, app, `the app for '${label}'`);
  }
  if (spec.otadata) {
    const partition = otadataPartition(spec.table);
    if (!partition) throw new RangeError('otadata given, but the partition table has no otadata partition');
    place(partition.offset, encodeOtadata(spec.otadata), 'otadata');
  }
  return flash;
}

/**
 * A combined image as published on micropython.org: the flash from the
 * bootloader offset to the end of the last app, gaps erased (0xFF).
 */
export function buildCombinedImage(spec: Omit<FlashImageSpec, 'flashSize' | 'otadata'>): Uint8Array {
  const chip = requireChip(spec.chip);
  const ends = Object.entries(spec.apps ?? {}).map(([label, app]) => (findPartition(spec.table, label)?.offset ?? 0) + app.length);
  const end = Math.max(PARTITION_TABLE_OFFSET + 0x1000, ...ends);
  const flashSize = Math.ceil(end / 0x10000) * 0x10000;
  return buildFlashImage({ ...spec, flashSize }).slice(chip.bootloaderOffset, end);
}

function requireChip(name: string): Chip {
  const chip = chipByName(name);
  if (!chip) throw new RangeError(`unknown chip '${name}'`);
  return chip;
}
