/**
 * CTZ skip-lists (SPEC.md "0x202 LFS_TYPE_CTZSTRUCT", DESIGN.md "CTZ skip-lists"): a file's
 * blocks in reverse; block n (n > 0) starts with ctz(n)+1 little-endian pointers to blocks
 * n - 2^0, n - 2^1, …, followed by data; block 0 holds data only.
 */
import { ctz, popcount, readLe32 } from './tag.js';

/** lfs_ctz_index: the block index holding byte `pos`, and the offset of that byte in the block. */
export function ctzIndex(blockSize: number, pos: number): { index: number; off: number } {
  const b = blockSize - 2 * 4;
  let i = Math.floor(pos / b);
  if (i === 0) return { index: 0, off: pos };
  i = Math.floor((pos - 4 * (popcount(i - 1) + 2)) / b);
  return { index: i, off: pos - b * i - 4 * popcount(i) };
}

/** Bytes of pointers at the start of block `index`. */
export function ctzPointerBytes(index: number): number {
  return index === 0 ? 0 : 4 * (ctz(index) + 1);
}

/** Addresses of every block of a CTZ list, block 0 first (follows the first pointer of each block). */
export function ctzBlocks(readPointer: (block: number, index: number) => number, head: number, size: number, blockSize: number): number[] {
  if (size === 0) return [];
  const last = ctzIndex(blockSize, size - 1).index;
  const blocks = new Array<number>(last + 1);
  let block = head;
  for (let index = last; index >= 0; index--) {
    blocks[index] = block;
    if (index > 0) block = readPointer(block, 0);
  }
  return blocks;
}

/** The blocks lfs_ctz_traverse visits (each once), without reading more than it needs. */
export function ctzTraverse(readBlockPrefix: (block: number, bytes: number) => Uint8Array, head: number, size: number, blockSize: number, visit: (block: number) => void): void {
  if (size === 0) return;
  let index = ctzIndex(blockSize, size - 1).index;
  let block = head;
  for (;;) {
    visit(block);
    if (index === 0) return;
    const count = 2 - (index & 1);
    const heads = readBlockPrefix(block, count * 4);
    if (count === 2) visit(readLe32(heads, 0));
    block = readLe32(heads, (count - 1) * 4);
    index -= count;
  }
}
