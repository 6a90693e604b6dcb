/**
 * littlefs metadata tags (SPEC.md "Metadata tags"): 32 bits, stored big-endian and XORed with
 * the previous tag: [valid:1][type3:11][id:10][size:10]. type3 = [type1:3][chunk:8].
 */
import { crc32 } from '../crc32.js';

export const TYPE = {
  REG: 0x001,
  DIR: 0x002,
  SUPERBLOCK: 0x0ff,
  NAME: 0x000,
  STRUCT: 0x200,
  DIRSTRUCT: 0x200,
  INLINESTRUCT: 0x201,
  CTZSTRUCT: 0x202,
  USERATTR: 0x300,
  SPLICE: 0x400,
  CREATE: 0x401,
  DELETE: 0x4ff,
  CRC: 0x500,
  CCRC: 0x500,
  FCRC: 0x5ff,
  TAIL: 0x600,
  SOFTTAIL: 0x600,
  HARDTAIL: 0x601,
  GLOBALS: 0x700,
  MOVESTATE: 0x7ff,
} as const;

export const NULL_BLOCK = 0xffffffff;
export const NO_ID = 0x3ff;
/** Size field 0x3ff marks a deleted (e.g. removed user attribute) tag. */
export const DELETED_SIZE = 0x3ff;

export function mkTag(type: number, id: number, size: number): number {
  return ((type << 20) | (id << 10) | size) >>> 0;
}
export const tagValid = (tag: number): boolean => (tag & 0x80000000) === 0;
export const tagType1 = (tag: number): number => (tag & 0x70000000) >>> 20;
export const tagType3 = (tag: number): number => (tag & 0x7ff00000) >>> 20;
export const tagChunk = (tag: number): number => (tag & 0x0ff00000) >>> 20;
export const tagId = (tag: number): number => (tag & 0x000ffc00) >>> 10;
export const tagSize = (tag: number): number => tag & 0x3ff;
export const tagIsDelete = (tag: number): boolean => (tag & 0x3ff) === 0x3ff;
/** Bytes the tag occupies on disk: the tag itself plus its data (none for a deleted tag). */
export const tagDiskSize = (tag: number): number => 4 + (tagIsDelete(tag) ? 0 : tagSize(tag));

/** littlefs's CRC-32: polynomial 0x04c11db7 reflected, initial 0xffffffff, no final XOR (lfs_util.c lfs_crc). */
export function lfsCrc(crc: number, data: Uint8Array): number {
  return ~crc32(data, ~crc >>> 0) >>> 0;
}

/** Sequence comparison of 32-bit revision counts (lfs_scmp): positive when a is newer than b. */
export function revisionCompare(a: number, b: number): number {
  return (a - b) | 0;
}

export function popcount(value: number): number {
  let v = value >>> 0;
  let count = 0;
  while (v) {
    v &= v - 1;
    count++;
  }
  return count;
}

/** Count of trailing zero bits (value > 0). */
export function ctz(value: number): number {
  return 31 - Math.clz32(value & -value);
}

export type BlockPair = [number, number];

export function pairIsNull(pair: readonly number[]): boolean {
  return pair[0] === NULL_BLOCK || pair[1] === NULL_BLOCK;
}

/** True when two pairs share a block (lfs_pair_cmp == 0). */
export function pairOverlaps(a: readonly number[], b: readonly number[]): boolean {
  return a[0] === b[0] || a[1] === b[1] || a[0] === b[1] || a[1] === b[0];
}

/** True when two pairs hold the same two blocks (lfs_pair_issync). */
export function pairSame(a: readonly number[], b: readonly number[]): boolean {
  return (a[0] === b[0] && a[1] === b[1]) || (a[0] === b[1] && a[1] === b[0]);
}

export function readLe32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

export function writeLe32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value & 0xff;
  bytes[at + 1] = (value >>> 8) & 0xff;
  bytes[at + 2] = (value >>> 16) & 0xff;
  bytes[at + 3] = (value >>> 24) & 0xff;
}

export function le32s(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  values.forEach((v, i) => writeLe32(out, i * 4, v));
  return out;
}

export function readBe32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
}

export function writeBe32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = (value >>> 24) & 0xff;
  bytes[at + 1] = (value >>> 16) & 0xff;
  bytes[at + 2] = (value >>> 8) & 0xff;
  bytes[at + 3] = value & 0xff;
}
