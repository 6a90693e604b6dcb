/**
 * The virtual board's `/` filesystem, stored in its `vfs` partition. A real
 * board keeps littlefs v2 there; no littlefs is available to us (neither in
 * the MicroPython WebAssembly build nor on npm), so the files are stored as
 * snapshots in a format of our own, power-safe like littlefs: the partition
 * holds two slots, each save goes to the slot not holding the newest
 * snapshot, and its header (sequence number, length, CRC) is written last, so
 * a power cut during a save leaves the previous snapshot readable.
 *
 * Slot layout: header 32 bytes (magic "MPYSIMFS", u32 version, u32 sequence,
 * u32 payload length, u32 payload CRC-32, 8 reserved), then the payload:
 * entries of u8 kind (1 directory, 2 file), u16 path length, UTF-8 path
 * (relative to /, '/'-separated), and for files u32 length + bytes.
 * Pure: no Node-only imports.
 */
import { dataView } from '../../format/bytes.js';
import { crc32 } from '../../format/crc32.js';
import { PartitionType, findPartition, type PartitionTable } from '../../format/partition-table.js';
import type { NorFlash } from '../nor-flash.js';

const MAGIC = new TextEncoder().encode('MPYSIMFS');
const VERSION = 1;
const HEADER_SIZE = 32;
const SECTOR = 0x1000;

export type FileTree = ReadonlyMap<string, Uint8Array | 'directory'>;

export function encodeFileTree(tree: FileTree): Uint8Array {
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [];
  let length = 0;
  const paths = [...tree.keys()].sort();
  for (const path of paths) {
    const entry = tree.get(path)!;
    const name = encoder.encode(path);
    const head = new Uint8Array(3 + name.length + (entry === 'directory' ? 0 : 4));
    const view = dataView(head);
    head[0] = entry === 'directory' ? 1 : 2;
    view.setUint16(1, name.length, true);
    head.set(name, 3);
    if (entry !== 'directory') view.setUint32(3 + name.length, entry.length, true);
    parts.push(head);
    length += head.length;
    if (entry !== 'directory') {
      parts.push(entry);
      length += entry.length;
    }
  }
  const payload = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    payload.set(part, at);
    at += part.length;
  }
  return payload;
}

export function decodeFileTree(payload: Uint8Array): Map<string, Uint8Array | 'directory'> {
  const decoder = new TextDecoder();
  const view = dataView(payload);
  const tree = new Map<string, Uint8Array | 'directory'>();
  let at = 0;
  while (at < payload.length) {
    if (at + 3 > payload.length) throw new Error(`filesystem snapshot truncated at ${at}`);
    const kind = payload[at]!;
    const nameLength = view.getUint16(at + 1, true);
    const path = decoder.decode(payload.subarray(at + 3, at + 3 + nameLength));
    at += 3 + nameLength;
    if (kind === 1) {
      tree.set(path, 'directory');
    } else if (kind === 2) {
      if (at + 4 > payload.length) throw new Error(`filesystem snapshot truncated at ${at}`);
      const size = view.getUint32(at, true);
      at += 4;
      if (at + size > payload.length) throw new Error(`filesystem snapshot truncated at ${at}`);
      tree.set(path, payload.slice(at, at + size));
      at += size;
    } else {
      throw new Error(`unknown entry kind ${kind} at ${at - 3 - nameLength}`);
    }
  }
  return tree;
}

interface SlotHeader {
  readonly sequence: number;
  readonly length: number;
  readonly crc: number;
}

/** Flash operations the store needs; offsets relative to the partition. */
export interface PartitionAccess {
  readonly size: number;
  read(offset: number, length: number): Uint8Array;
  erase(offset: number, length: number): void;
  program(offset: number, data: Uint8Array): void;
}

export class FilesystemStore {
  private readonly slotSize: number;

  constructor(private readonly partition: PartitionAccess) {
    this.slotSize = Math.floor(partition.size / 2 / SECTOR) * SECTOR;
  }

  /** Largest payload a snapshot can hold. */
  get capacity(): number {
    return this.slotSize - HEADER_SIZE;
  }

  /** The newest intact snapshot, or an empty tree (a fresh or foreign partition). */
  load(): Map<string, Uint8Array | 'directory'> {
    const newest = this.newestSlot();
    if (!newest) return new Map();
    const payload = this.partition.read(newest.index * this.slotSize + HEADER_SIZE, newest.header.length);
    return decodeFileTree(payload);
  }

  /** Writes `tree` to the other slot; returns false when it did not change since the newest snapshot. */
  save(tree: FileTree): boolean {
    const payload = encodeFileTree(tree);
    if (payload.length > this.capacity) {
      throw new Error(`the files need ${payload.length} bytes; the vfs partition holds ${this.capacity} per snapshot`);
    }
    const newest = this.newestSlot();
    // An empty tree on a partition without a snapshot already reads as empty: no flash wear for nothing.
    if (!newest && payload.length === 0) return false;
    const crc = crc32(payload);
    if (newest && newest.header.length === payload.length && newest.header.crc === crc) return false;
    const index = newest?.index === 0 ? 1 : 0;
    const base = index * this.slotSize;
    const header = new Uint8Array(HEADER_SIZE);
    header.set(MAGIC);
    const view = dataView(header);
    view.setUint32(8, VERSION, true);
    view.setUint32(12, ((newest?.header.sequence ?? 0) + 1) >>> 0, true);
    view.setUint32(16, payload.length, true);
    view.setUint32(20, crc, true);
    this.partition.erase(base, Math.ceil((HEADER_SIZE + payload.length) / SECTOR) * SECTOR);
    this.partition.program(base + HEADER_SIZE, payload);
    this.partition.program(base, header);
    return true;
  }

  private newestSlot(): { index: 0 | 1; header: SlotHeader } | undefined {
    let best: { index: 0 | 1; header: SlotHeader } | undefined;
    for (const index of [0, 1] as const) {
      const header = this.readHeader(index);
      if (header && (!best || sequenceNewer(header.sequence, best.header.sequence))) best = { index, header };
    }
    return best;
  }

  private readHeader(index: 0 | 1): SlotHeader | undefined {
    const base = index * this.slotSize;
    const bytes = this.partition.read(base, HEADER_SIZE);
    if (!MAGIC.every((byte, i) => bytes[i] === byte)) return undefined;
    const view = dataView(bytes);
    if (view.getUint32(8, true) !== VERSION) return undefined;
    const header = { sequence: view.getUint32(12, true), length: view.getUint32(16, true), crc: view.getUint32(20, true) };
    if (header.length > this.capacity) return undefined;
    if (crc32(this.partition.read(base + HEADER_SIZE, header.length)) !== header.crc) return undefined;
    return header;
  }
}

function sequenceNewer(a: number, b: number): boolean {
  return ((a - b) >>> 0) < 0x80000000 && a !== b;
}

/** The store of the board's `/`: the `vfs` data partition (`ffat` on TinyUF2 tables), or undefined when there is none. */
export function boardFilesystem(flash: NorFlash, table: PartitionTable): FilesystemStore | undefined {
  const vfs = findPartition(table, 'vfs') ?? findPartition(table, 'ffat');
  if (!vfs || vfs.type !== PartitionType.DATA) return undefined;
  return new FilesystemStore({
    size: vfs.size,
    read: (offset, length) => flash.read(vfs.offset + offset, length),
    erase: (offset, length) => flash.erase(vfs.offset + offset, length),
    program: (offset, data) => flash.program(vfs.offset + offset, data),
  });
}
