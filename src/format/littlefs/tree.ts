/** Whole-tree helpers: list an image's files, or build an image from a list. */
import { memoryBlockDevice } from './block-device.js';
import { resolveConfig, type LittleFsConfig } from './config.js';
import { LittleFs } from './littlefs.js';
import { ERRNO, LittleFsError } from './errors.js';

/** Every entry under `/`, parents before children, paths absolute ('/lib/a.py'). */
export interface LittleFsTreeEntry {
  path: string;
  type: 'file' | 'dir';
  data?: Uint8Array;
  mtimeNs?: bigint;
}

/** Reads every directory and file of a littlefs image (mounting and reading never write to it). */
export function readLittleFsTree(image: Uint8Array, config?: Partial<LittleFsConfig>): LittleFsTreeEntry[] {
  const resolved = resolveConfig(config);
  const fs = LittleFs.mount(memoryBlockDevice(image, resolved.blockSize), resolved);
  return listTree(fs);
}

/** Every entry of a mounted filesystem, parents before children, with file contents. */
export function listTree(fs: LittleFs, dir = '/'): LittleFsTreeEntry[] {
  const out: LittleFsTreeEntry[] = [];
  for (const stat of fs.readdir(dir)) {
    const path = dir === '/' ? `/${stat.name}` : `${dir}/${stat.name}`;
    if (stat.type === 'dir') {
      out.push({ path, type: 'dir' });
      out.push(...listTree(fs, path));
    } else {
      const entry: LittleFsTreeEntry = { path, type: 'file', data: fs.readFile(path) };
      if (stat.mtimeNs !== undefined) entry.mtimeNs = stat.mtimeNs;
      out.push(entry);
    }
  }
  return out;
}

/**
 * A freshly formatted image of `sizeBytes` holding `entries` (mtimes kept). Throws LittleFsError
 * errno 28 (ENOSPC) when they do not fit.
 */
export function buildLittleFsImage(sizeBytes: number, entries: LittleFsTreeEntry[], config?: Partial<LittleFsConfig>): Uint8Array {
  const resolved = resolveConfig(config);
  const image = new Uint8Array(sizeBytes).fill(0xff);
  const device = memoryBlockDevice(image, resolved.blockSize);
  LittleFs.format(device, resolved);
  const fs = LittleFs.mount(device, resolved);
  const sorted = [...entries].sort((a, b) => a.path.split('/').length - b.path.split('/').length);
  for (const entry of sorted) {
    if (entry.type === 'dir') {
      if (!exists(fs, entry.path)) fs.mkdir(entry.path);
    } else {
      const options = entry.mtimeNs === undefined ? {} : { mtimeNs: entry.mtimeNs };
      fs.writeFile(entry.path, entry.data ?? new Uint8Array(0), options);
    }
  }
  fs.unmount();
  return image;
}

function exists(fs: LittleFs, path: string): boolean {
  try {
    fs.stat(path);
    return true;
  } catch (err) {
    if (err instanceof LittleFsError && err.errno === ERRNO.ENOENT) return false;
    throw err;
  }
}
