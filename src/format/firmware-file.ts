/**
 * Recognises what an ESP32 firmware file is and where its parts are:
 * - an app image (what OTA writes: `micropython.bin`, `.app-bin`),
 * - a combined image (bootloader + partition table + app, as published on
 *   micropython.org and made by `esptool merge_bin`), written at the chip's
 *   bootloader offset (0x1000 for esp32/esp32s2, 0x0 for most newer chips),
 * - a full flash dump (`esptool read_flash 0 <flash size>`), starting at 0x0,
 * - a binary partition table on its own.
 */
import { dataView, hex } from './bytes.js';
import { CHIPS, chipById, type Chip } from './chips.js';
import { FormatError } from './errors.js';
import { APP_IMAGE_MAGIC, FLASH_MODE_NAMES, FLASH_SIZE_NAMES, appImageLength, looksLikeAppImage } from './app-image.js';
import {
  PARTITION_TABLE_MAX_LENGTH,
  PARTITION_TABLE_OFFSET,
  PartitionType,
  otaAppPartitions,
  otadataPartition,
  parsePartitionTable,
  type Partition,
  type PartitionTable,
} from './partition-table.js';
import { parseOtadata, type OtaData } from './otadata.js';
import { selectBootPartition } from './ota-ops.js';

const ENTRY_MAGIC_0 = 0xaa;
const ENTRY_MAGIC_1 = 0x50;
const FLASH_SIZES = [1, 2, 4, 8, 16, 32, 64, 128].map((mib) => mib * 1024 * 1024);

/** An app partition of a combined image or dump, and the app image in it, if any. */
export interface AppSlot {
  readonly partition: Partition;
  /** Where the partition starts in the file. */
  readonly fileOffset: number;
  /** Exact app image length, or undefined when the partition holds no app image. */
  readonly appLength: number | undefined;
  /** Why the partition holds no app image (offsets in the file), when it holds none. */
  readonly appError: FormatError | undefined;
}

interface WithTable {
  readonly chip: Chip;
  /** Flash address of the file's first byte. */
  readonly flashBase: number;
  readonly table: PartitionTable;
  readonly tableFileOffset: number;
  readonly apps: readonly AppSlot[];
  /** The otadata entries, when the otadata partition lies inside the file and is readable. */
  readonly otadata: OtaData | undefined;
  readonly otadataError: FormatError | undefined;
  /** A bootloader header field the ROM cannot use (e.g. an unknown flash mode), offsets in the file. */
  readonly bootloaderProblem: FormatError | undefined;
}

export type FirmwareFile =
  | { readonly kind: 'app-image'; readonly appLength: number }
  | { readonly kind: 'partition-table'; readonly table: PartitionTable }
  | (WithTable & { readonly kind: 'combined-image' })
  | (WithTable & { readonly kind: 'flash-dump' });

export type FirmwareKind = FirmwareFile['kind'];

export const FIRMWARE_KIND_NAMES: Record<FirmwareKind, string> = {
  'app-image': 'app image',
  'partition-table': 'partition table',
  'combined-image': 'combined firmware image (bootloader + partition table + app)',
  'flash-dump': 'flash dump',
};

export function identifyFirmware(bytes: Uint8Array): FirmwareFile {
  if (bytes.length === 0) throw new FormatError('empty file: not an ESP32 firmware file', 0);
  if (bytes[0] === ENTRY_MAGIC_0 && bytes[1] === ENTRY_MAGIC_1) {
    return { kind: 'partition-table', table: parsePartitionTable(bytes.subarray(0, PARTITION_TABLE_MAX_LENGTH)) };
  }
  if (looksLikeAppImage(bytes)) return { kind: 'app-image', appLength: appImageLength(bytes) };

  const layout = findLayout(bytes);
  if (!layout) {
    throw new FormatError(
      bytes[0] === APP_IMAGE_MAGIC
        ? 'starts like an ESP32 image (0xE9) but is neither an app image (no app description) nor a combined image (no partition table at flash 0x8000)'
        : `not an ESP32 firmware file: no app image header (0xE9), no partition table (0xAA 0x50) and no bootloader found (first byte ${hex(bytes[0]!, 2)})`,
      0,
    );
  }
  const startsAtFlashZero = layout.flashBase === 0;
  const isDump = startsAtFlashZero && (layout.chip.bootloaderOffset > 0 || isWholeFlash(bytes, layout.table));
  return { kind: isDump ? 'flash-dump' : 'combined-image', ...layout };
}

/**
 * Finds the bootloader: at file offset 0 in a combined image, or at the
 * chip's bootloader offset in a dump that starts at flash 0x0. Its header
 * names the chip, and the chip says where the file sits in flash.
 */
function findLayout(bytes: Uint8Array): WithTable | undefined {
  const candidates: { bootloaderFileOffset: number; flashBase: number }[] = [{ bootloaderFileOffset: 0, flashBase: 0 }];
  for (const offset of new Set(CHIPS.map((chip) => chip.bootloaderOffset).filter((offset) => offset > 0))) {
    candidates.push({ bootloaderFileOffset: 0, flashBase: offset }, { bootloaderFileOffset: offset, flashBase: 0 });
  }
  for (const { bootloaderFileOffset, flashBase } of candidates) {
    const tableFileOffset = PARTITION_TABLE_OFFSET - flashBase;
    if (bytes[bootloaderFileOffset] !== APP_IMAGE_MAGIC || bytes[tableFileOffset] !== ENTRY_MAGIC_0 || bytes[tableFileOffset + 1] !== ENTRY_MAGIC_1) continue;
    const chip = bootloaderChip(bytes, bootloaderFileOffset);
    if (!chip) {
      if (bytes.length < bootloaderFileOffset + 24) throw new FormatError('the file ends inside the bootloader header', bytes.length);
      const id = dataView(bytes).getUint16(bootloaderFileOffset + 12, true);
      throw new FormatError(`the bootloader header names chip id ${id} (${hex(id, 4)}), which is no known ESP32 chip (a damaged header?); the partition table is at file offset ${hex(tableFileOffset)}`, bootloaderFileOffset + 12);
    }
    if (flashBase + bootloaderFileOffset !== chip.bootloaderOffset) continue;
    const table = tableAt(bytes, tableFileOffset);
    return {
      chip,
      flashBase,
      table,
      tableFileOffset,
      apps: appSlots(bytes, table, flashBase),
      ...readOtadata(bytes, table, flashBase),
      bootloaderProblem: bootloaderHeaderProblem(bytes, bootloaderFileOffset),
    };
  }
  return undefined;
}

/** The partition table at `fileOffset`, its errors at file offsets. */
function tableAt(bytes: Uint8Array, fileOffset: number): PartitionTable {
  try {
    return parsePartitionTable(bytes.subarray(fileOffset, fileOffset + PARTITION_TABLE_MAX_LENGTH));
  } catch (error) {
    if (!(error instanceof FormatError)) throw error;
    throw new FormatError(error.problem, fileOffset + (error.offset ?? 0));
  }
}

/** The ROM reads flash mode and size from the bootloader's header: values it does not know are a damaged file. */
function bootloaderHeaderProblem(bytes: Uint8Array, fileOffset: number): FormatError | undefined {
  const mode = bytes[fileOffset + 2]!;
  if (mode >= 4) return new FormatError(`the bootloader header's flash mode is ${hex(mode, 2)}, not one of ${FLASH_MODE_NAMES.slice(0, 4).join(', ')} (0 to 3)`, fileOffset + 2);
  const size = bytes[fileOffset + 3]! >> 4;
  if (size >= FLASH_SIZE_NAMES.length) return new FormatError(`the bootloader header's flash size code is ${size}, not one of ${FLASH_SIZE_NAMES.join(', ')}`, fileOffset + 3);
  return undefined;
}

/** The chip named by a bootloader image header at `fileOffset`, if one is there. */
function bootloaderChip(bytes: Uint8Array, fileOffset: number): Chip | undefined {
  if (bytes.length < fileOffset + 24 || bytes[fileOffset] !== APP_IMAGE_MAGIC) return undefined;
  return chipById(dataView(bytes).getUint16(fileOffset + 12, true));
}

function appSlots(bytes: Uint8Array, table: PartitionTable, flashBase: number): AppSlot[] {
  return table.partitions
    .filter((partition) => partition.type === PartitionType.APP)
    .sort((a, b) => a.offset - b.offset)
    .map((partition) => {
      const fileOffset = partition.offset - flashBase;
      try {
        return { partition, fileOffset, appLength: appLengthIn(bytes, partition, fileOffset), appError: undefined };
      } catch (error) {
        if (!(error instanceof FormatError)) throw error;
        return { partition, fileOffset, appLength: undefined, appError: error };
      }
    });
}

/** The length of the app image in a partition; a FormatError at a file offset saying why there is none. */
function appLengthIn(bytes: Uint8Array, partition: Partition, fileOffset: number): number {
  if (fileOffset < 0 || fileOffset >= bytes.length) throw new FormatError(`partition '${partition.label}' (flash ${hex(partition.offset)}) lies outside the file`);
  const region = bytes.subarray(fileOffset, Math.min(bytes.length, fileOffset + partition.size));
  if (region.subarray(0, 4096).every((byte) => byte === 0xff)) throw new FormatError(`partition '${partition.label}' is erased (0xFF): no app image`, fileOffset);
  if (region[0] !== APP_IMAGE_MAGIC) {
    throw new FormatError(`partition '${partition.label}' holds no app image: it starts with ${hex(region[0]!, 2)}, not the image magic 0xE9`, fileOffset);
  }
  try {
    const length = appImageLength(region);
    if (!looksLikeAppImage(region)) throw new FormatError(`partition '${partition.label}' holds an image without an app description (not an app)`, fileOffset);
    return length;
  } catch (error) {
    if (!(error instanceof FormatError) || error.problem.startsWith(`partition '`)) throw error;
    throw new FormatError(`partition '${partition.label}' holds a damaged app image: ${error.problem}`, fileOffset + (error.offset ?? 0));
  }
}

/** A dump covers a whole flash chip: a standard flash size, and every partition inside it. */
function isWholeFlash(bytes: Uint8Array, table: PartitionTable): boolean {
  if (!FLASH_SIZES.includes(bytes.length)) return false;
  return table.partitions.every((partition) => partition.offset + partition.size <= bytes.length);
}

function readOtadata(bytes: Uint8Array, table: PartitionTable, flashBase: number): Pick<WithTable, 'otadata' | 'otadataError'> {
  const partition = otadataPartition(table);
  const fileOffset = partition ? partition.offset - flashBase : -1;
  if (!partition || fileOffset < 0 || fileOffset >= bytes.length) return { otadata: undefined, otadataError: undefined };
  try {
    return { otadata: parseOtadata(bytes.subarray(fileOffset, fileOffset + partition.size)), otadataError: undefined };
  } catch (error) {
    if (error instanceof FormatError) return { otadata: undefined, otadataError: new FormatError(error.problem, fileOffset + (error.offset ?? 0)) };
    throw error;
  }
}

export interface ExtractedApp {
  readonly bytes: Uint8Array;
  /** The partition it came from; undefined when the input was already an app image. */
  readonly partition: Partition | undefined;
  readonly fileOffset: number;
}

/**
 * The app image in a firmware file, cut to its exact length. From a flash
 * dump the default is the app the bootloader would boot next; `label` picks another.
 */
export function extractApp(bytes: Uint8Array, file: FirmwareFile = identifyFirmware(bytes), label?: string): ExtractedApp {
  if (file.kind === 'app-image') {
    if (label !== undefined) throw new FormatError(`the file is already an app image: it has no partition '${label}'`);
    return { bytes: bytes.subarray(0, file.appLength), partition: undefined, fileOffset: 0 };
  }
  if (file.kind === 'partition-table') throw new FormatError('a partition table holds no app image');
  const slot = label === undefined ? defaultApp(file) : file.apps.find((app) => app.partition.label === label);
  if (!slot) {
    const labels = file.apps.map((app) => app.partition.label).join(', ');
    if (label !== undefined || file.apps.length === 0) throw new FormatError(label === undefined ? 'the partition table has no app partition' : `no app partition '${label}' (app partitions: ${labels || 'none'})`);
    // Say why each one holds none; a single damaged app keeps its own message and offset.
    if (file.apps.length === 1 || file.apps.filter((app) => !/erased|outside/.test(app.appError!.problem)).length === 1) {
      throw file.apps.find((app) => !/erased|outside/.test(app.appError!.problem))?.appError ?? file.apps[0]!.appError!;
    }
    throw new FormatError(`no app partition holds an app image: ${file.apps.map((app) => app.appError!.message).join('; ')}`);
  }
  if (slot.appLength === undefined) throw slot.appError!;
  return { bytes: bytes.subarray(slot.fileOffset, slot.fileOffset + slot.appLength), partition: slot.partition, fileOffset: slot.fileOffset };
}

function defaultApp(file: WithTable): AppSlot | undefined {
  const withImage = file.apps.filter((app) => app.appLength !== undefined);
  if (file.otadata) {
    const otaApps = otaAppPartitions(file.table);
    const selection = selectBootPartition({
      otadata: file.otadata,
      otaAppCount: otaApps.length,
      hasFactory: file.apps.some((app) => app.partition.subtype === 0),
      rollbackEnabled: true,
    });
    const target = selection.target.kind === 'factory' ? file.apps.find((app) => app.partition.subtype === 0)?.partition : otaApps[selection.target.slot];
    const booted = withImage.find((app) => app.partition === target);
    if (booted) return booted;
  }
  return withImage[0];
}
