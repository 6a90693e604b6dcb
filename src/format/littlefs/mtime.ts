/** MicroPython's mtime attribute (extmod/vfs_lfs.c LFS_ATTR_MTIME = 1): u64 little-endian nanoseconds since 1970. */
export const MTIME_ATTR = 1;

export function encodeMtime(ns: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, ns, true);
  return out;
}

export function decodeMtime(data: Uint8Array | undefined): bigint | undefined {
  if (!data || data.length !== 8) return undefined;
  return new DataView(data.buffer, data.byteOffset, 8).getBigUint64(0, true);
}

export const nowNs = (): bigint => BigInt(Date.now()) * 1_000_000n;
