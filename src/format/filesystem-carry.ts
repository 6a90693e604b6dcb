/**
 * Carrying the files of MicroPython's littlefs `vfs` into a filesystem of
 * another size: every directory and file (with its mtime) is read from the
 * old image and written into a freshly formatted one, as MicroPython formats
 * it (4 KiB blocks, the partition's size).
 */
import { hex } from './bytes.js';
import { FormatError } from './errors.js';
import { buildLittleFsImage, ERRNO, LittleFsError, MICROPYTHON_ESP32_LITTLEFS, readLittleFsTree, type LittleFsTreeEntry } from './littlefs/index.js';
import { humanSize, withThousands } from './units.js';

export interface CarriedFiles {
  readonly image: Uint8Array;
  readonly fileCount: number;
  readonly fileBytes: number;
  readonly summary: string;
}

const BLOCK_SIZE = MICROPYTHON_ESP32_LITTLEFS.blockSize;

function isNoSpace(error: unknown): boolean {
  return error instanceof LittleFsError && error.errno === ERRNO.ENOSPC;
}

/** The image of `entries`, or undefined when they do not fit `size` bytes. */
function tryBuild(size: number, entries: LittleFsTreeEntry[]): Uint8Array | undefined {
  try {
    return buildLittleFsImage(size, entries, MICROPYTHON_ESP32_LITTLEFS);
  } catch (error) {
    if (isNoSpace(error)) return undefined;
    throw error;
  }
}

/**
 * The fewest bytes (whole blocks) a fresh filesystem needs for `entries`.
 * Neither `tooSmall` nor a filesystem with no more blocks than the file data
 * fills can hold them; from there the search steps up by growing strides,
 * then halves the last stride.
 */
function smallestFittingSize(entries: LittleFsTreeEntry[], tooSmall: number, fileBytes: number): number {
  let low = Math.max(Math.floor(tooSmall / BLOCK_SIZE), Math.floor(fileBytes / BLOCK_SIZE));
  let stride = Math.max(4, Math.ceil(low / 16));
  while (!tryBuild((low + stride) * BLOCK_SIZE, entries)) {
    low += stride;
    stride *= 2;
  }
  let high = low + stride;
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (tryBuild(middle * BLOCK_SIZE, entries)) high = middle;
    else low = middle;
  }
  return high * BLOCK_SIZE;
}

/**
 * The files of the littlefs image `old` in a new image of `newSize` bytes.
 * FormatError when `old` is no littlefs (say so, point at --erase-fs) or the
 * files do not fit (name the shortfall).
 */
export function carryFilesystem(old: Uint8Array, newSize: number, what: string): CarriedFiles {
  let entries: LittleFsTreeEntry[];
  try {
    entries = readLittleFsTree(old, MICROPYTHON_ESP32_LITTLEFS);
  } catch (error) {
    if (!(error instanceof LittleFsError)) throw error;
    throw new FormatError(
      `${what} holds data but no littlefs that MicroPython could mount (${error.message}), so its files cannot be carried over; pass --erase-fs to start it empty`,
    );
  }
  const files = entries.filter((entry) => entry.type === 'file');
  const fileBytes = files.reduce((sum, entry) => sum + (entry.data?.length ?? 0), 0);
  const counted = `${files.length} file${files.length === 1 ? '' : 's'} (${withThousands(fileBytes)} bytes)`;
  const image = tryBuild(newSize, entries);
  if (!image) {
    const needed = smallestFittingSize(entries, newSize, fileBytes);
    throw new FormatError(
      `the ${counted} in ${what} need a filesystem of at least ${hex(needed)} bytes (${humanSize(needed)}, ${needed / BLOCK_SIZE} blocks of 4 KiB); ` +
        `the new one has ${hex(newSize)} (${humanSize(newSize)}): ${humanSize(needed - newSize)} short. ` +
        'Remove files from the board first, choose a smaller --app-size or a larger --flash-size, or pass --erase-fs to start it empty',
    );
  }
  const directories = entries.length - files.length;
  const summary = `${counted}${directories ? ` in ${directories} folder${directories === 1 ? '' : 's'}` : ''} carried from ${what} into a new ${humanSize(newSize)} littlefs`;
  return { image, fileCount: files.length, fileBytes, summary };
}
