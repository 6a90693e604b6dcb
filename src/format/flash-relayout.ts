/**
 * Re-lays-out a board's flash under a new partition table: the bootloader
 * (its header given the new flash size), the new table, each app where its
 * partition now is, data partitions kept where they did not change, the files
 * of the filesystem carried into its new size, and the rest erased. The
 * result is a whole-flash image (flash 0x0 to the flash size), written to a
 * board with `esptool write_flash 0x0 IMAGE`.
 *
 * Nothing is written anywhere: the caller gets the image and a report, or a
 * FormatError naming why the change would lose something or not boot.
 */
import { hex, isFilled } from './bytes.js';
import { FormatError } from './errors.js';
import { decodeAppImageHeader, withHeaderFlashSize } from './app-image.js';
import type { Sha256 } from './hash.js';
import { extractApp, type FirmwareFile } from './firmware-file.js';
import {
  DataSubtype,
  PARTITION_TABLE_OFFSET,
  PartitionType,
  encodePartitionTable,
  factoryPartition,
  findLayoutProblem,
  type Partition,
  type PartitionTable,
} from './partition-table.js';
import { withThousands } from './units.js';
import { carryFilesystem } from './filesystem-carry.js';

export type FlashFile = Extract<FirmwareFile, { kind: 'combined-image' | 'flash-dump' }>;

export interface RelayoutPlan {
  readonly table: PartitionTable;
  readonly flashSize: number;
  /** App images to place by (new) label; other app partitions keep the app of the partition they were. */
  readonly apps?: Readonly<Record<string, { readonly bytes: Uint8Array; readonly from: string }>>;
  /** new label → old label, for renamed partitions. */
  readonly renamed?: ReadonlyMap<string, string>;
  /** Start the filesystem partitions empty (erased; MicroPython formats them at first boot). */
  readonly eraseFilesystem?: boolean;
}

/** What became of one partition of the new table. */
export interface PartitionOutcome {
  readonly partition: Partition;
  readonly content: 'app' | 'kept' | 'files' | 'erased' | 'blank';
  readonly detail: string;
  /** The old partition the content came from. */
  readonly from?: string;
  /** Set when something the user had is not carried over. */
  readonly lost?: boolean;
}

export interface RelayoutResult {
  readonly image: Uint8Array;
  readonly outcomes: readonly PartitionOutcome[];
  /** Partitions of the old table that are gone, with data the user should know about. */
  readonly dropped: readonly string[];
}

function isFilesystem(p: Partition): boolean {
  return (
    p.type === PartitionType.DATA &&
    (p.label === 'vfs' || p.subtype === DataSubtype.FAT || p.subtype === DataSubtype.LITTLEFS || p.subtype === DataSubtype.SPIFFS)
  );
}

const isOtadata = (p: Partition) => p.type === PartitionType.DATA && p.subtype === DataSubtype.OTA;
const sameSpan = (a: Partition, b: Partition) => a.offset === b.offset && a.size === b.size;

/** The bytes of `p` as far as the file holds them (the rest of the partition reads as erased). */
function contentOf(source: Uint8Array, file: FlashFile, p: Partition): Uint8Array {
  const start = p.offset - file.flashBase;
  const out = new Uint8Array(p.size).fill(0xff);
  const from = Math.max(0, start);
  const to = Math.min(source.length, start + p.size);
  if (to > from) out.set(source.subarray(from, to), from - start);
  return out;
}

function appIn(source: Uint8Array, file: FlashFile, p: Partition): Uint8Array | undefined {
  const slot = file.apps.find((app) => app.partition === p);
  if (!slot || slot.appLength === undefined) return undefined;
  return source.subarray(slot.fileOffset, slot.fileOffset + slot.appLength);
}

export function relayoutFlash(source: Uint8Array, file: FlashFile, plan: RelayoutPlan, options: { readonly sha256?: Sha256 } = {}): RelayoutResult {
  const problem = findLayoutProblem(plan.table, { flashSize: plan.flashSize });
  if (problem) throw new FormatError(problem.message);
  const image = new Uint8Array(plan.flashSize).fill(0xff);
  placeBootloader(image, source, file, plan.flashSize, options);
  image.set(encodePartitionTable({ ...plan.table, hasMd5: true }), PARTITION_TABLE_OFFSET);

  const oldByLabel = new Map(file.table.partitions.map((p) => [p.label, p]));
  const used = new Set<Partition>();
  const outcomes = [...plan.table.partitions]
    .sort((a, b) => a.offset - b.offset)
    .map((p) => {
      const old = oldByLabel.get(plan.renamed?.get(p.label) ?? p.label);
      if (old) used.add(old);
      if (old?.encrypted && !sameSpan(old, p)) {
        throw new FormatError(`'${old.label}' is encrypted: flash encryption ties its bytes to their address, so it cannot move or change size`);
      }
      return p.type === PartitionType.APP ? placeApp(p, old) : placeData(p, old);
    });
  const booted = bootedPartition(source, file);
  if (booted && !outcomes.some((outcome) => outcome.content === 'app' && outcome.from === booted.label)) {
    throw new FormatError(`the new layout has no place for the app in '${booted.label}', the one the board boots: it would have nothing to boot`);
  }
  const dropped = file.table.partitions
    .filter((p) => !used.has(p) && !(p.type === PartitionType.APP && Object.values(plan.apps ?? {}).some((app) => app.from === p.label)))
    .filter((p) => !isFilled(contentOf(source, file, p), 0xff))
    .map((p) => p.label);
  return { image, outcomes, dropped };

  function put(p: Partition, bytes: Uint8Array): void {
    image.set(bytes.subarray(0, p.size), p.offset);
  }

  function placeApp(p: Partition, old: Partition | undefined): PartitionOutcome {
    const given = plan.apps?.[p.label];
    const app = given?.bytes ?? (old?.type === PartitionType.APP ? appIn(source, file, old) : undefined);
    if (!app) return { partition: p, content: 'blank', detail: 'empty (erased)' };
    const from = given?.from ?? old!.label;
    if (app.length > p.size) {
      throw new FormatError(
        `the app from '${from}' is ${withThousands(app.length)} bytes (${hex(app.length)}), more than the ${hex(p.size)} bytes of '${p.label}'`,
      );
    }
    put(p, app);
    return { partition: p, content: 'app', from, detail: `the app from '${from}' (${withThousands(app.length)} bytes)` };
  }

  function placeData(p: Partition, old: Partition | undefined): PartitionOutcome {
    const oldBytes = old ? contentOf(source, file, old) : undefined;
    const blank = !oldBytes || isFilled(oldBytes, 0xff);
    const wasAt = old ? ` (was ${hex(old.offset)}, ${hex(old.size)})` : '';
    if (isFilesystem(p) && plan.eraseFilesystem) {
      return { partition: p, content: 'erased', detail: 'erased (--erase-fs): MicroPython formats it at first boot', lost: !blank };
    }
    if (blank) {
      const moved = old && !sameSpan(old, p) && !isFilesystem(p) ? `; moved or resized${wasAt}, it held nothing` : '';
      const firstBoot = isOtadata(p) ? `: the bootloader boots ${factoryPartition(plan.table) ? 'factory' : 'ota_0'}` : '';
      return { partition: p, content: 'blank', detail: `empty (erased)${firstBoot}${moved}` };
    }
    if (old && sameSpan(old, p)) {
      put(p, oldBytes);
      return { partition: p, content: 'kept', detail: 'kept as it was (same place and size)' };
    }
    if (old && isOtadata(p) && isOtadata(old)) {
      put(p, oldBytes);
      return { partition: p, content: 'kept', detail: `moved with its entries${wasAt}` };
    }
    if (isFilesystem(p)) {
      const carried = carryFilesystem(oldBytes, p.size, `'${old!.label}'${wasAt}`);
      put(p, carried.image);
      return { partition: p, content: 'files', detail: carried.summary };
    }
    const what = p.type === PartitionType.DATA && p.subtype === DataSubtype.NVS ? 'its NVS keys and values are' : 'its contents are';
    return { partition: p, content: 'blank', detail: `moved or resized${wasAt}: ${what} not carried over; it starts empty`, lost: true };
  }
}

function bootedPartition(source: Uint8Array, file: FlashFile): Partition | undefined {
  try {
    return extractApp(source, file).partition;
  } catch {
    return undefined;
  }
}

/** The flash size the file was made for: a dump's length, or the size in a combined image's bootloader header. */
export function flashSizeOfFile(source: Uint8Array, file: FlashFile): number {
  if (file.kind === 'flash-dump') return source.length;
  const header = decodeAppImageHeader(source.subarray(file.chip.bootloaderOffset - file.flashBase));
  if (header.flashSizeBytes === undefined) {
    throw new FormatError(`the bootloader header names no known flash size (${header.flashSizeName}): give --flash-size`, file.chip.bootloaderOffset - file.flashBase + 3);
  }
  return header.flashSizeBytes;
}

/** The flash below the table (the bootloader and what precedes it), with the new flash size in the bootloader header. */
function placeBootloader(image: Uint8Array, source: Uint8Array, file: FlashFile, flashSize: number, options: { readonly sha256?: Sha256 }): void {
  const bootloaderFileOffset = file.chip.bootloaderOffset - file.flashBase;
  image.set(source.subarray(0, file.tableFileOffset), file.flashBase);
  const bootloader = source.subarray(bootloaderFileOffset, file.tableFileOffset);
  try {
    image.set(withHeaderFlashSize(bootloader, flashSize, options), file.chip.bootloaderOffset);
  } catch (error) {
    if (error instanceof FormatError) throw new FormatError(`bootloader: ${error.problem}`, bootloaderFileOffset + (error.offset ?? 0));
    throw error;
  }
}
