/**
 * The virtual board's `/`: littlefs v2 (src/format/littlefs) in the `vfs`
 * partition, as MicroPython's VfsLfs2 keeps it on an ESP32, read, programmed
 * and erased through the NOR flash model as the program writes (each
 * operation counted and timed there, and subject to its power cuts).
 * The worker mounts it for Python (see python/_flashfs.py); the main thread
 * mounts it to read and write files between commands. A flash file written
 * by earlier versions of the virtual board (files as snapshots, see
 * filesystem-image.ts) is converted to littlefs with its files kept.
 * Pure: no Node-only imports.
 */
import {
  LittleFs,
  LittleFsError,
  MICROPYTHON_ESP32_LITTLEFS,
  buildLittleFsImage,
  type LittleFsBlockDevice,
  type LittleFsTreeEntry,
} from '../../format/littlefs/index.js';
import { PartitionType, findPartition, type Partition, type PartitionTable } from '../../format/partition-table.js';
import type { NorFlash } from '../nor-flash.js';
import { SnapshotStore } from './filesystem-image.js';

const BLOCK_SIZE = MICROPYTHON_ESP32_LITTLEFS.blockSize;

/** The board's filesystem partition: `vfs`, or `ffat` on TinyUF2 tables; undefined when the table has neither. */
export function filesystemPartition(table: PartitionTable): Partition | undefined {
  const partition = findPartition(table, 'vfs') ?? findPartition(table, 'ffat');
  return partition?.type === PartitionType.DATA ? partition : undefined;
}

/** littlefs's block device over a partition of the flash model: every call is a flash operation. */
export function partitionBlockDevice(flash: NorFlash, partition: Partition): LittleFsBlockDevice {
  const base = partition.offset;
  return {
    blockCount: Math.floor(partition.size / BLOCK_SIZE),
    read: (block, offset, into) => flash.readInto(base + block * BLOCK_SIZE + offset, into),
    prog: (block, offset, data) => flash.program(base + block * BLOCK_SIZE + offset, data),
    erase: (block) => flash.erase(base + block * BLOCK_SIZE, BLOCK_SIZE),
    sync: () => undefined,
  };
}

/** Is the partition's first block erased (what inisetup.py's check_bootsec() looks for before formatting)? */
export function isBlank(flash: NorFlash, partition: Partition): boolean {
  return flash.bytes.subarray(partition.offset, partition.offset + BLOCK_SIZE).every((byte) => byte === 0xff);
}

export function mountFlashFilesystem(flash: NorFlash, partition: Partition): LittleFs {
  return LittleFs.mount(partitionBlockDevice(flash, partition));
}

/**
 * Converts a vfs partition that holds files in the snapshot format of earlier
 * virtual boards to littlefs, keeping every file. Returns how many entries
 * were converted (0 when the partition held no snapshot). Throws (changing
 * nothing) when the files do not fit in a littlefs of the partition's size.
 */
export function convertSnapshotFilesystem(flash: NorFlash, partition: Partition): number {
  const tree = new SnapshotStore((offset, length) => flash.read(partition.offset + offset, length), partition.size).load();
  if (!tree) return 0;
  const entries: LittleFsTreeEntry[] = [...tree]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([path, entry]) => (entry === 'directory' ? { path: `/${path}`, type: 'dir' } : { path: `/${path}`, type: 'file', data: entry }));
  let image: Uint8Array;
  try {
    image = buildLittleFsImage(partition.size - (partition.size % BLOCK_SIZE), entries);
  } catch (error) {
    if (error instanceof LittleFsError) {
      throw new Error(
        `the vfs partition holds ${entries.length} files in the old snapshot format of the virtual board that do not fit in littlefs (${error.message}): ` +
          'load the flash file with an esp32-ota before this change, copy the files out (mpremote fs cp), and copy them into a fresh board',
        { cause: error },
      );
    }
    throw error;
  }
  // A change of the file's format, not something the chip does: no flash operations are counted.
  flash.bytes.fill(0xff, partition.offset, partition.offset + partition.size);
  flash.bytes.set(image, partition.offset);
  return entries.length;
}
