/**
 * A virtual board's flash kept in a file, so its state survives restarts:
 * checked before any work (the folder exists, the file is a flash image with a
 * valid partition table), locked while a board runs on it (so two boards never
 * save over each other), and saved through a temporary file.
 */
import { readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { hex } from '../format/bytes.js';
import { FormatError } from '../format/errors.js';
import { PARTITION_TABLE_MAX_LENGTH, PARTITION_TABLE_OFFSET, PartitionType, parsePartitionTable, validatePartitionTable } from '../format/partition-table.js';
import { humanSize, withThousands } from '../format/units.js';
import { createSharedFlash, type NorFlash, type SharedFlash } from '../device/nor-flash.js';

/** A flash file that cannot be used: missing folder, wrong kind of file, or in use. The message says which and what to do. */
export class FlashFileError extends Error {
  override name = 'FlashFileError';
}

/** ESP32 flash chips: 1 to 16 MiB. */
const FLASH_SIZES = [1, 2, 4, 8, 16].map((mib) => mib * 1024 * 1024);

/**
 * Checks a flash file's path before any work is done: it is a file (or does not
 * exist yet) and its folder exists. Returns whether the file exists.
 */
export function checkFlashFilePath(path: string): boolean {
  const stats = statOrUndefined(path);
  if (stats?.isDirectory()) throw new FlashFileError(`${path} is a folder, not a flash file: name a file, e.g. ${path.replace(/\/?$/, '/board.bin')}`);
  if (stats) return true;
  const folder = dirname(path);
  const folderStats = statOrUndefined(folder);
  if (!folderStats) throw new FlashFileError(`${path}: the folder ${folder} does not exist (create it first, or name a file in an existing folder)`);
  if (!folderStats.isDirectory()) throw new FlashFileError(`${path}: ${folder} is not a folder`);
  return false;
}

function statOrUndefined(path: string) {
  try {
    return statSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new FlashFileError(`${path}: ${(error as Error).message}`);
  }
}

/** Loads a flash image file (its size is the chip's size), refusing files a virtual board cannot boot from. */
export async function loadFlashFile(path: string): Promise<SharedFlash> {
  let contents: Buffer;
  try {
    contents = await readFile(path);
  } catch (error) {
    throw new FlashFileError(`${path}: cannot read it: ${(error as Error).message}`);
  }
  const problem = flashImageProblem(contents);
  if (problem) {
    throw new FlashFileError(
      `${path} is not a virtual board's flash: ${problem}. A flash file is a whole flash image (1 to 16 MiB) as esp32-ota sim --flash creates; name a new file to start a fresh board`,
    );
  }
  const shared = createSharedFlash(contents.length);
  new Uint8Array(shared.memory).set(contents);
  return shared;
}

/** Why `bytes` cannot be a board's flash, or undefined when it can. */
export function flashImageProblem(bytes: Uint8Array): string | undefined {
  if (!FLASH_SIZES.includes(bytes.length)) {
    return `it is ${withThousands(bytes.length)} bytes${bytes.length >= 1024 ? ` (${humanSize(bytes.length)})` : ''}, not the size of a flash chip`;
  }
  try {
    const tableBytes = bytes.subarray(PARTITION_TABLE_OFFSET, PARTITION_TABLE_OFFSET + PARTITION_TABLE_MAX_LENGTH);
    if (tableBytes.every((byte) => byte === 0xff)) return `there is no partition table at ${hex(PARTITION_TABLE_OFFSET)} (the flash there is erased)`;
    const table = parsePartitionTable(tableBytes);
    validatePartitionTable(table, { flashSize: bytes.length });
    if (!table.partitions.some((partition) => partition.type === PartitionType.APP)) return 'its partition table has no app partition';
  } catch (error) {
    if (!(error instanceof FormatError)) throw error;
    const where = error.offset === undefined ? '' : ` (byte ${hex(PARTITION_TABLE_OFFSET + error.offset)})`;
    return `its partition table at ${hex(PARTITION_TABLE_OFFSET)} is invalid${where}: ${error.problem}`;
  }
  return undefined;
}

/** Writes the whole chip to `path` (through a temporary file, so a crash never leaves half a file). */
export async function saveFlashFile(path: string, flash: NorFlash): Promise<void> {
  try {
    await writeFileAtomically(path, flash.bytes);
  } catch (error) {
    throw new FlashFileError(`cannot save the virtual board's flash to ${path}: ${(error as Error).message}`);
  }
}

/** Replaces `path` with `bytes` through a temporary file, so a crash never leaves half a file. */
export async function writeFileAtomically(path: string, bytes: Uint8Array): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(temporary, bytes);
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
}

/** Who holds a flash file, as its lock file `FILE.lock` says. */
export interface FlashLockOwner {
  readonly pid: number;
  readonly command: string;
  readonly since: string;
  /** Where the running board can be reached instead (e.g. tcp:127.0.0.1:2323). */
  readonly reach?: string;
}

export interface FlashLock {
  /** Records where the board can be reached, for whoever finds the file locked. */
  advertise(reach: string): void;
  release(): void;
}

const heldLocks = new Set<string>();
let exitHookInstalled = false;

/**
 * Takes `FILE.lock` (created exclusively, holding our pid and command line).
 * A lock whose process is gone is stale and taken over; a live one is refused
 * with who holds it.
 */
export function lockFlashFile(path: string, command: string, options: { onStaleLock?: (owner: FlashLockOwner | undefined) => void } = {}): FlashLock {
  const lockPath = `${path}.lock`;
  const owner: FlashLockOwner = { pid: process.pid, command, since: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(lockPath, JSON.stringify(owner), { flag: 'wx' });
      break;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') throw new FlashFileError(`${path}: cannot create its lock file ${lockPath}: ${(error as Error).message}`);
      const holder = readLockOwner(lockPath);
      if (holder && isRunning(holder.pid) && !(holder.pid === process.pid && !heldLocks.has(lockPath))) throw lockedError(path, holder);
      if (attempt > 0) throw new FlashFileError(`${path}: its lock file ${lockPath} keeps coming back; is another esp32-ota starting on it?`);
      options.onStaleLock?.(holder);
      try {
        unlinkSync(lockPath);
      } catch {
        // Another process took it over first: the next attempt sees its lock.
      }
    }
  }
  heldLocks.add(lockPath);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const held of heldLocks) removeQuietly(held);
    });
  }
  let current = owner;
  return {
    advertise(reach) {
      current = { ...current, reach };
      if (heldLocks.has(lockPath)) writeFileSync(lockPath, JSON.stringify(current));
    },
    release() {
      if (heldLocks.delete(lockPath)) removeQuietly(lockPath);
    },
  };
}

function lockedError(path: string, holder: FlashLockOwner): FlashFileError {
  const reach = holder.reach ? `; reach that board with -d ${holder.reach}` : '';
  return new FlashFileError(
    `${path} is in use by another esp32-ota (pid ${holder.pid}: ${holder.command}, since ${holder.since})${reach}. ` +
      `Two boards on one file would save over each other: stop that one first (Ctrl-C), or use a copy of the file`,
  );
}

function readLockOwner(lockPath: string): FlashLockOwner | undefined {
  try {
    const value = JSON.parse(readFileSync(lockPath, 'utf8')) as Partial<FlashLockOwner>;
    if (typeof value.pid !== 'number') return undefined;
    return { pid: value.pid, command: String(value.command ?? '?'), since: String(value.since ?? '?'), ...(value.reach ? { reach: String(value.reach) } : {}) };
  } catch {
    return undefined;
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone.
  }
}

/** The command line as the user typed it, for lock files. */
export function commandLine(): string {
  return ['esp32-ota', ...process.argv.slice(2)].join(' ');
}
