/**
 * The snapshot format in which virtual boards before littlefs kept `/` in
 * their `vfs` partition, read only to convert such flash files to littlefs
 * (flash-filesystem.ts). The partition held two slots (each half, rounded
 * down to 4 KiB); the newest intact one holds the files.
 *
 * Slot layout: header 32 bytes (magic "MPYSIMFS", u32 version 1, u32 sequence,
 * u32 payload length, u32 payload CRC-32, 8 reserved), then the payload:
 * entries of u8 kind (1 directory, 2 file), u16 path length, UTF-8 path
 * (relative to /, '/'-separated), and for files u32 length + bytes.
 * Pure: no Node-only imports.
 */
import { dataView } from '../../format/bytes.js';
import { crc32 } from '../../format/crc32.js';

const MAGIC = new TextEncoder().encode('MPYSIMFS');
const VERSION = 1;
const HEADER_SIZE = 32;
const SECTOR = 0x1000;

export type FileTree = Map<string, Uint8Array | 'directory'>;

export function decodeFileTree(payload: Uint8Array): FileTree {
  const decoder = new TextDecoder();
  const view = dataView(payload);
  const tree: FileTree = new Map();
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

export class SnapshotStore {
  private readonly slotSize: number;

  /** `read` reads the partition (offsets relative to it). */
  constructor(
    private readonly read: (offset: number, length: number) => Uint8Array,
    partitionSize: number,
  ) {
    this.slotSize = Math.floor(partitionSize / 2 / SECTOR) * SECTOR;
  }

  /** The files of the newest intact snapshot, or undefined when the partition holds none. */
  load(): FileTree | undefined {
    let best: { index: 0 | 1; header: SlotHeader } | undefined;
    for (const index of [0, 1] as const) {
      const header = this.readHeader(index);
      if (header && (!best || sequenceNewer(header.sequence, best.header.sequence))) best = { index, header };
    }
    if (!best) return undefined;
    return decodeFileTree(this.read(best.index * this.slotSize + HEADER_SIZE, best.header.length));
  }

  private readHeader(index: 0 | 1): SlotHeader | undefined {
    const base = index * this.slotSize;
    const bytes = this.read(base, HEADER_SIZE);
    if (!MAGIC.every((byte, i) => bytes[i] === byte)) return undefined;
    const view = dataView(bytes);
    if (view.getUint32(8, true) !== VERSION) return undefined;
    const header = { sequence: view.getUint32(12, true), length: view.getUint32(16, true), crc: view.getUint32(20, true) };
    if (header.length > this.slotSize - HEADER_SIZE) return undefined;
    if (crc32(this.read(base + HEADER_SIZE, header.length)) !== header.crc) return undefined;
    return header;
  }
}

function sequenceNewer(a: number, b: number): boolean {
  return ((a - b) >>> 0) < 0x80000000 && a !== b;
}
