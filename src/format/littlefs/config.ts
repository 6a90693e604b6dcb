/** What MicroPython's vfs.VfsLfs2 uses on an ESP32; blockCount is derived from the image size. */
export interface LittleFsConfig {
  blockSize: number;
  readSize: number;
  progSize: number;
  cacheSize: number;
  lookaheadSize: number;
  blockCycles: number;
  nameMax: number;
}

/**
 * VfsLfs2's defaults (readsize 32, progsize 32, lookahead 32) on the ESP32's 4 KiB flash sectors;
 * extmod/vfs_lfsx.c adds block_cycles 100 and cache_size 4 × max(readsize, progsize).
 */
export const MICROPYTHON_ESP32_LITTLEFS: LittleFsConfig = Object.freeze({
  blockSize: 4096,
  readSize: 32,
  progSize: 32,
  cacheSize: 128,
  lookaheadSize: 32,
  blockCycles: 100,
  nameMax: 255,
});

/** littlefs's own limits (lfs.h): LFS_FILE_MAX, LFS_ATTR_MAX. */
export const FILE_MAX = 0x7fffffff;
export const ATTR_MAX = 0x3fe;

export function resolveConfig(config: Partial<LittleFsConfig> | undefined): LittleFsConfig {
  const resolved = { ...MICROPYTHON_ESP32_LITTLEFS, ...config };
  const { blockSize, progSize, cacheSize, readSize, lookaheadSize } = resolved;
  if (blockSize < 128 || blockSize % cacheSize !== 0 || cacheSize % progSize !== 0 || cacheSize % readSize !== 0) {
    throw new RangeError(`littlefs config: block size ${blockSize} must be ≥ 128 and a multiple of cache size ${cacheSize}, itself a multiple of read/prog size`);
  }
  if (lookaheadSize <= 0 || lookaheadSize % 8 !== 0) throw new RangeError(`littlefs config: lookahead size ${lookaheadSize} must be a positive multiple of 8`);
  if (resolved.nameMax < 1 || resolved.nameMax > 255) throw new RangeError(`littlefs config: name max ${resolved.nameMax} out of range 1..255 (LFS_NAME_MAX)`);
  return resolved;
}
