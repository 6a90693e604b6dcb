/**
 * littlefs v2 (on-disk 2.0 and 2.1) over a block device: our own TypeScript implementation of
 * the format in littlefs-project/littlefs SPEC.md, following the algorithms of DESIGN.md and
 * lfs.c v2.8 where the bytes on disk depend on them (commits, compaction, splitting,
 * relocation, the lookahead allocator, global move/orphan state). See docs/littlefs.md.
 */
import type { LittleFsBlockDevice } from './block-device.js';
import { ATTR_MAX, FILE_MAX, resolveConfig, type LittleFsConfig } from './config.js';
import { ctzBlocks, ctzIndex, ctzPointerBytes, ctzTraverse } from './ctz.js';
import { ERRNO, LittleFsError, fsError } from './errors.js';
import {
  CommitBuilder, CommitFull, applyTag, cloneDir, encodeGState, entryTags, fetchDir, gstateHasMoveHere,
  gstateIsZero, gstateXor, zeroGState, type CommitAttr, type Entry, type GState, type MetadataDir,
} from './metadata.js';
import {
  NO_ID, NULL_BLOCK, TYPE, le32s, mkTag, pairIsNull, pairOverlaps, pairSame, readLe32, tagId, tagSize,
  tagType1, tagType3, writeLe32, type BlockPair,
} from './tag.js';
import { LittleFsFile, parseOpenFlags, type OpenFileHost } from './file.js';
import { MTIME_ATTR, decodeMtime, encodeMtime, nowNs } from './mtime.js';

export interface LittleFsStat {
  name: string;
  type: 'file' | 'dir';
  size: number;
  mtimeNs?: bigint;
}

/** On-disk version 2.1 (lfs.h LFS_DISK_VERSION of littlefs v2.6 and later). */
const DISK_VERSION = 0x00020001;
const DISK_VERSION_2_0 = 0x00020000;
const MAGIC = new TextEncoder().encode('littlefs');
const utf8 = new TextEncoder();
const utf8Decode = new TextDecoder();

/** Where a path leads: the pair holding its entry (or where it would be inserted) and the id. */
interface Found {
  dir: MetadataDir;
  id: number;
  entry: Entry | undefined;
  isRoot: boolean;
  name: Uint8Array;
}

const RELOCATED = 1;
const DROPPED = 2;

/** littlefs's name order (lfs_dir_find_match): bytes compared, then the longer name first. */
function compareName(disk: Uint8Array, name: Uint8Array): number {
  const n = Math.min(disk.length, name.length);
  for (let i = 0; i < n; i++) if (disk[i] !== name[i]) return disk[i]! < name[i]! ? -1 : 1;
  if (disk.length === name.length) return 0;
  return name.length < disk.length ? -1 : 1;
}

function splitPath(path: string): string[] {
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return parts;
}

export class LittleFs implements OpenFileHost {
  readonly config: LittleFsConfig;
  readonly device: LittleFsBlockDevice;
  readonly blockCount: number;
  nameMax: number;
  fileMax = FILE_MAX;
  attrMax = ATTR_MAX;
  private root: BlockPair = [0, 1];
  private gstate = zeroGState();
  private gdisk = zeroGState();
  private gdelta = zeroGState();
  private seed = 0;
  private diskMinor = 1;
  private readonly lookahead: { off: number; size: number; i: number; ack: number; used: Uint8Array };
  private readonly openFiles = new Set<LittleFsFile>();
  private writeFcrc = true;
  private mounted = true;

  private constructor(device: LittleFsBlockDevice, config: LittleFsConfig) {
    this.device = device;
    this.config = config;
    this.blockCount = device.blockCount;
    this.nameMax = config.nameMax;
    this.lookahead = { off: 0, size: 0, i: 0, ack: this.blockCount, used: new Uint8Array(config.lookaheadSize * 8) };
  }

  // ---------------------------------------------------------------- block access

  get progSize(): number {
    return this.config.progSize;
  }

  /** Whole blocks as last read; never mutated, and dropped when we program or erase the block. */
  private readonly blockCache = new Map<number, Uint8Array>();

  readBlock(block: number): Uint8Array {
    let bytes = this.blockCache.get(block);
    if (!bytes) {
      bytes = new Uint8Array(this.config.blockSize);
      this.device.read(block, 0, bytes);
      if (this.blockCache.size >= 64) this.blockCache.delete(this.blockCache.keys().next().value!);
      this.blockCache.set(block, bytes);
    }
    return bytes;
  }

  /** Parsed pairs by their two blocks; dropped with the blocks. Callers get clones (they mutate them). */
  private readonly dirCache = new Map<string, MetadataDir>();

  private forget(block: number): void {
    this.blockCache.delete(block);
    for (const key of this.dirCache.keys()) if (key.split(',').includes(String(block))) this.dirCache.delete(key);
  }

  private prog(block: number, off: number, data: Uint8Array): void {
    this.forget(block);
    this.device.prog(block, off, data);
  }

  private erase(block: number): void {
    this.forget(block);
    this.device.erase(block);
  }

  readBytes(block: number, off: number, length: number): Uint8Array {
    if (block >= this.blockCount || off + length > this.config.blockSize) {
      throw fsError(ERRNO.ECORRUPT, `corrupt littlefs: read of block ${block} offset ${off} is outside the filesystem`);
    }
    const out = new Uint8Array(length);
    this.device.read(block, off, out);
    return out;
  }

  private fetch(pair: readonly number[]): MetadataDir {
    const key = `${pair[0]},${pair[1]}`;
    const cached = this.dirCache.get(key);
    if (cached) return cloneDir(cached);
    const dir = fetchDir(this, pair);
    if (dir) {
      if (this.dirCache.size >= 64) this.dirCache.delete(this.dirCache.keys().next().value!);
      this.dirCache.set(key, cloneDir(dir));
      return dir;
    }
    if (!dir) throw fsError(ERRNO.ECORRUPT, `corrupt littlefs: metadata pair {0x${pair[0]!.toString(16)}, 0x${pair[1]!.toString(16)}} holds no valid commit`);
    return dir;
  }

  // ---------------------------------------------------------------- format / mount

  /**
   * Formats the device as littlefs (erasing blocks 0 and 1 only). `diskVersion` 0x00020000 writes
   * the older on-disk version 2.0 (no FCRCs), as littlefs built with LFS_MULTIVERSION can.
   */
  static format(device: LittleFsBlockDevice, config?: Partial<LittleFsConfig>, options: { diskVersion?: number } = {}): void {
    const fs = new LittleFs(device, resolveConfig(config));
    const version = options.diskVersion ?? DISK_VERSION;
    if (version !== DISK_VERSION && version !== DISK_VERSION_2_0) throw new RangeError(`littlefs can be formatted as version 2.0 or 2.1, not 0x${version.toString(16)}`);
    fs.writeFcrc = version === DISK_VERSION;
    if (fs.blockCount < 2) throw fsError(ERRNO.EINVAL, `a littlefs needs at least 2 blocks, this device has ${fs.blockCount}`);
    fs.lookahead.off = 0;
    fs.lookahead.size = Math.min(8 * fs.config.lookaheadSize, fs.blockCount);
    fs.lookahead.i = 0;
    fs.allocAck();
    const root = fs.allocDir();
    const superblock = le32s(version, fs.config.blockSize, fs.blockCount, fs.nameMax, FILE_MAX, ATTR_MAX);
    fs.commit(root, [
      { tag: mkTag(TYPE.CREATE, 0, 0), data: new Uint8Array(0) },
      { tag: mkTag(TYPE.SUPERBLOCK, 0, 8), data: MAGIC },
      { tag: mkTag(TYPE.INLINESTRUCT, 0, superblock.length), data: superblock },
    ]);
    // littlefs compacts once more so that no older filesystem can be found in the other block.
    root.erased = false;
    fs.commit(root, []);
    fs.fetch([0, 1]);
    device.sync();
  }

  static mount(device: LittleFsBlockDevice, config?: Partial<LittleFsConfig>): LittleFs {
    const fs = new LittleFs(device, resolveConfig(config));
    fs.mountScan();
    return fs;
  }

  private mountScan(): void {
    let tail: BlockPair = [0, 1];
    let foundSuperblock = false;
    const seen = new Set<string>();
    let gstate = zeroGState();
    while (!pairIsNull(tail)) {
      const key = [...tail].sort((a, b) => a - b).join(',');
      if (seen.has(key)) throw fsError(ERRNO.ECORRUPT, 'corrupt littlefs: cycle in the metadata tail list');
      seen.add(key);
      const dir = fetchDir(this, tail);
      if (!dir) {
        throw fsError(foundSuperblock ? ERRNO.ECORRUPT : ERRNO.EINVAL, foundSuperblock
          ? `corrupt littlefs: metadata pair {${tail[0]}, ${tail[1]}} holds no valid commit`
          : 'no littlefs found: blocks 0 and 1 hold no valid metadata (format it first, e.g. esp32-ota fs mkfs)');
      }
      for (const c of dir.pair) this.seed = this.mixSeed(this.seed, dir.rev ^ c);
      const sb = dir.entries[0];
      if (sb && sb.nameType === TYPE.SUPERBLOCK && sb.name.length === 8 && sb.name.every((b, i) => b === MAGIC[i])) {
        this.readSuperblock(sb);
        this.root = [...dir.pair];
        foundSuperblock = true;
      }
      gstate = gstateXor(gstate, dir.gdelta);
      tail = dir.tail;
    }
    if (!foundSuperblock) throw fsError(ERRNO.EINVAL, 'no littlefs found: no superblock entry "littlefs" in the metadata chain');
    // An orphan flag on disk means "at least one orphan": count it as one (lfs_rawmount).
    if (gstate.tag & 0x80000000) gstate.tag = (gstate.tag + 1) >>> 0;
    if (this.diskMinor < 1) this.setNeedsSuperblock(gstate, true);
    this.gstate = gstate;
    this.gdisk = { ...gstate, pair: [...gstate.pair] };
    this.lookahead.off = this.seed % this.blockCount;
    this.allocDrop();
  }

  private mixSeed(seed: number, value: number): number {
    return (Math.imul(seed ^ value, 0x9e3779b1) >>> 0);
  }

  /** The entry a pending move (global state) has already copied elsewhere reads as deleted. */
  private isMovedHere(dir: MetadataDir, id: number): boolean {
    return gstateHasMoveHere(this.gdisk, dir.pair) && tagId(this.gdisk.tag) === id;
  }

  private readSuperblock(e: Entry): void {
    if (e.structType !== TYPE.INLINESTRUCT || e.struct.length < 24) throw fsError(ERRNO.ECORRUPT, 'corrupt littlefs: superblock entry has no configuration');
    const s = e.struct;
    const version = readLe32(s, 0);
    const major = version >>> 16;
    const minor = version & 0xffff;
    if (major !== 2 || minor > 1) {
      throw fsError(ERRNO.EINVAL, `littlefs on-disk version ${major}.${minor} is not supported (this reader knows 2.0 and 2.1)`);
    }
    this.diskMinor = minor;
    const blockSize = readLe32(s, 4);
    const blockCount = readLe32(s, 8);
    if (blockSize !== this.config.blockSize) {
      throw fsError(ERRNO.EINVAL, `littlefs block size is ${blockSize} on disk but ${this.config.blockSize} was configured`);
    }
    if (blockCount !== this.blockCount) {
      throw fsError(ERRNO.EINVAL, `littlefs block count is ${blockCount} on disk (${blockCount * blockSize} bytes) but the device has ${this.blockCount} blocks`);
    }
    const nameMax = readLe32(s, 12);
    const fileMax = readLe32(s, 16);
    const attrMax = readLe32(s, 20);
    if (nameMax > this.config.nameMax) {
      throw fsError(ERRNO.EINVAL, `littlefs allows names of ${nameMax} bytes on disk, more than the ${this.config.nameMax} configured`);
    }
    if (nameMax) this.nameMax = nameMax;
    if (fileMax) this.fileMax = fileMax;
    if (attrMax) this.attrMax = attrMax;
  }

  /** The on-disk version found at mount (0x00020000 or 0x00020001); 2.0 becomes 2.1 at the first write. */
  get diskVersion(): number {
    return 0x00020000 | this.diskMinor;
  }

  unmount(): void {
    for (const file of [...this.openFiles]) file.close();
    this.device.sync();
    this.mounted = false;
  }

  private checkMounted(): void {
    if (!this.mounted) throw fsError(ERRNO.EBADF, 'the littlefs was unmounted');
  }

  // ---------------------------------------------------------------- path lookup

  /** lfs_dir_find: the entry a path names, or where its last name would be inserted. */
  private find(path: string): Found {
    this.checkMounted();
    const parts = splitPath(path);
    let dirPair: BlockPair = [...this.root];
    let found: Found = { dir: this.fetch(this.root), id: NO_ID, entry: undefined, isRoot: true, name: new Uint8Array(0) };
    for (let p = 0; p < parts.length; p++) {
      if (p > 0) {
        const entry = found.entry!;
        if (entry.nameType !== TYPE.DIR) throw fsError(ERRNO.ENOTDIR, `${parts.slice(0, p).join('/')} is not a directory`);
        dirPair = [readLe32(entry.struct, 0), readLe32(entry.struct, 4)];
      }
      const name = utf8.encode(parts[p]!);
      found = this.findInDir(dirPair, name);
      if (!found.entry && p < parts.length - 1) throw fsError(ERRNO.ENOENT, `no such directory: /${parts.slice(0, p + 1).join('/')}`);
    }
    return found;
  }

  private findInDir(head: BlockPair, name: Uint8Array): Found {
    let pair: readonly number[] = head;
    for (;;) {
      const dir = this.fetch(pair);
      let insertAt = dir.entries.length;
      for (let id = 0; id < dir.entries.length; id++) {
        const e = dir.entries[id]!;
        if (e.nameType !== TYPE.REG && e.nameType !== TYPE.DIR) continue;
        if (this.isMovedHere(dir, id)) continue;
        const c = compareName(e.name, name);
        if (c === 0) return { dir, id, entry: e, isRoot: false, name };
        if (c > 0 && id < insertAt) insertAt = id;
      }
      if (insertAt < dir.entries.length || !dir.split) return { dir, id: insertAt, entry: undefined, isRoot: false, name };
      pair = dir.tail;
    }
  }

  private requireEntry(path: string): Found {
    const found = this.find(path);
    if (!found.isRoot && !found.entry) throw fsError(ERRNO.ENOENT, `no such file or directory: ${path}`);
    return found;
  }

  // ---------------------------------------------------------------- reading

  private entryStat(e: Entry): LittleFsStat {
    const type = e.nameType === TYPE.DIR ? 'dir' : 'file';
    let size = 0;
    if (e.structType === TYPE.INLINESTRUCT) size = e.struct.length;
    else if (e.structType === TYPE.CTZSTRUCT) size = readLe32(e.struct, 4);
    const stat: LittleFsStat = { name: utf8Decode.decode(e.name), type, size };
    const mtime = decodeMtime(e.attrs.get(MTIME_ATTR));
    if (mtime !== undefined) stat.mtimeNs = mtime;
    return stat;
  }

  stat(path: string): LittleFsStat {
    const found = this.requireEntry(path);
    if (found.isRoot) return { name: '/', type: 'dir', size: 0 };
    return this.entryStat(found.entry!);
  }

  /** Entries of a directory (without '.' and '..'), in littlefs's order. */
  readdir(path: string): LittleFsStat[] {
    const head = this.dirHead(path);
    const out: LittleFsStat[] = [];
    let pair: readonly number[] = head;
    for (;;) {
      const dir = this.fetch(pair);
      dir.entries.forEach((e, id) => {
        if ((e.nameType === TYPE.REG || e.nameType === TYPE.DIR) && !this.isMovedHere(dir, id)) out.push(this.entryStat(e));
      });
      if (!dir.split) return out;
      pair = dir.tail;
    }
  }

  private dirHead(path: string): BlockPair {
    const found = this.requireEntry(path);
    if (found.isRoot) return [...this.root];
    if (found.entry!.nameType !== TYPE.DIR) throw fsError(ERRNO.ENOTDIR, `not a directory: ${path}`);
    return [readLe32(found.entry!.struct, 0), readLe32(found.entry!.struct, 4)];
  }

  readFile(path: string): Uint8Array {
    const found = this.requireEntry(path);
    if (found.isRoot || found.entry!.nameType === TYPE.DIR) throw fsError(ERRNO.EISDIR, `is a directory: ${path}`);
    return this.readContent(found.entry!);
  }

  /** The whole content of a file entry. */
  readContent(e: Entry): Uint8Array {
    if (e.structType === TYPE.INLINESTRUCT) return e.struct.slice();
    if (e.structType !== TYPE.CTZSTRUCT) return new Uint8Array(0);
    const head = readLe32(e.struct, 0);
    const size = readLe32(e.struct, 4);
    return this.readCtz(head, size);
  }

  ctzAddresses(head: number, size: number): number[] {
    const bs = this.config.blockSize;
    return ctzBlocks((block) => {
      const ptr = this.readBytes(block, 0, 4);
      return readLe32(ptr, 0);
    }, head, size, bs);
  }

  private readCtz(head: number, size: number): Uint8Array {
    const bs = this.config.blockSize;
    const blocks = this.ctzAddresses(head, size);
    const out = new Uint8Array(size);
    let pos = 0;
    blocks.forEach((block, index) => {
      const start = ctzPointerBytes(index);
      const n = Math.min(bs - start, size - pos);
      if (block >= this.blockCount) throw fsError(ERRNO.ECORRUPT, `corrupt littlefs: a file points at block ${block} of ${this.blockCount}`);
      this.device.read(block, start, out.subarray(pos, pos + n));
      pos += n;
    });
    return out;
  }

  getattr(path: string, type: number): Uint8Array | undefined {
    const found = this.requireEntry(path);
    const entry = found.isRoot ? this.fetch(this.root).entries[0] : found.entry;
    return entry?.attrs.get(type)?.slice();
  }

  // ---------------------------------------------------------------- traversal and usage

  /** lfs_fs_traverse: every block in use (metadata pairs, file blocks, directory pairs again). */
  traverse(visit: (block: number) => void, includeDirStructs = true): void {
    let tail: readonly number[] = [0, 1];
    const seen = new Set<string>();
    while (!pairIsNull(tail)) {
      const key = `${Math.min(tail[0]!, tail[1]!)},${Math.max(tail[0]!, tail[1]!)}`;
      if (seen.has(key)) throw fsError(ERRNO.ECORRUPT, 'corrupt littlefs: cycle in the metadata tail list');
      seen.add(key);
      visit(tail[0]!);
      visit(tail[1]!);
      const dir = this.fetch(tail);
      dir.entries.forEach((e, id) => {
        if (this.isMovedHere(dir, id)) return;
        if (e.structType === TYPE.CTZSTRUCT) {
          ctzTraverse((block, n) => this.readBytes(block, 0, n), readLe32(e.struct, 0), readLe32(e.struct, 4), this.config.blockSize, visit);
        } else if (includeDirStructs && e.structType === TYPE.DIRSTRUCT) {
          visit(readLe32(e.struct, 0));
          visit(readLe32(e.struct, 4));
        }
      });
      tail = dir.tail;
    }
    for (const file of this.openFiles) for (const block of file.blocksInFlight()) visit(block);
  }

  statvfs(): { blockSize: number; blockCount: number; blocksUsed: number; blocksFree: number } {
    this.checkMounted();
    let used = 0;
    this.traverse(() => used++);
    return { blockSize: this.config.blockSize, blockCount: this.blockCount, blocksUsed: used, blocksFree: Math.max(0, this.blockCount - used) };
  }

  /** lfs_fs_size: blocks in use counting each directory pair once. */
  private fsSize(): number {
    let used = 0;
    this.traverse(() => used++, false);
    return used;
  }

  // ---------------------------------------------------------------- allocator (lookahead)

  private allocAck(): void {
    this.lookahead.ack = this.blockCount;
  }

  private allocDrop(): void {
    this.lookahead.size = 0;
    this.lookahead.i = 0;
    this.allocAck();
  }

  private allocScan(): void {
    const la = this.lookahead;
    la.off = (la.off + la.i) % this.blockCount;
    la.size = Math.min(8 * this.config.lookaheadSize, la.ack);
    la.i = 0;
    la.used.fill(0);
    try {
      this.traverse((block) => {
        const off = (block - la.off + this.blockCount) % this.blockCount;
        if (off < la.size) la.used[off] = 1;
      });
    } catch (err) {
      this.allocDrop();
      throw err;
    }
  }

  /** lfs_alloc: the next free block; ENOSPC once every block was looked at since the last ack. */
  allocBlock(): number {
    const la = this.lookahead;
    for (;;) {
      while (la.i !== la.size) {
        const off = la.i;
        la.i += 1;
        la.ack -= 1;
        if (!la.used[off]) {
          const block = (la.off + off) % this.blockCount;
          while (la.i !== la.size && la.used[la.i]) {
            la.i += 1;
            la.ack -= 1;
          }
          return block;
        }
      }
      if (la.ack === 0) throw fsError(ERRNO.ENOSPC, `no space left on the ${this.blockCount}-block littlefs`);
      this.allocScan();
    }
  }

  // ---------------------------------------------------------------- global state

  private setNeedsSuperblock(g: GState, needs: boolean): void {
    g.tag = ((g.tag & ~mkTag(0, 0, 0x200)) | (needs ? 0x200 : 0)) >>> 0;
  }

  private hasOrphans(): boolean {
    return tagSize(this.gstate.tag) !== 0 && (tagSize(this.gstate.tag) & 0x1ff) !== 0;
  }

  private prepOrphans(delta: number): void {
    let tag = (this.gstate.tag + delta) >>> 0;
    const has = (tag & 0x1ff) !== 0;
    tag = ((tag & 0x7fffffff) | (has ? 0x80000000 : 0)) >>> 0;
    this.gstate.tag = tag;
  }

  private prepMove(id: number, pair?: readonly number[]): void {
    this.gstate.tag = ((this.gstate.tag & ~mkTag(0x7ff, 0x3ff, 0)) | (id !== NO_ID ? mkTag(TYPE.DELETE, id, 0) : 0)) >>> 0;
    this.gstate.pair = id !== NO_ID && pair ? [pair[0]!, pair[1]!] : [0, 0];
  }

  /** What a commit must add to its pair's gstate delta so the XOR over all pairs becomes gstate. */
  private pendingGDelta(includeState: boolean): GState {
    let delta = zeroGState();
    if (includeState) delta = gstateXor(gstateXor(delta, this.gdisk), this.gstate);
    delta = gstateXor(delta, this.gdelta);
    delta.tag = (delta.tag & ~mkTag(0, 0, 0x3ff)) >>> 0;
    return delta;
  }

  // ---------------------------------------------------------------- commits

  private needsRelocation(dir: MetadataDir): boolean {
    const cycles = this.config.blockCycles;
    return cycles > 0 && ((dir.rev + 1) >>> 0) % ((cycles + 1) | 1) === 0;
  }

  /** lfs_dir_alloc: a new, not yet written pair (block 1 allocated first). */
  private allocDir(): MetadataDir {
    const second = this.allocBlock();
    const first = this.allocBlock();
    let rev = readLe32(this.readBytes(first, 0, 4), 0);
    const cycles = this.config.blockCycles;
    if (cycles > 0) {
      const m = (cycles + 1) | 1;
      // alignup in 32-bit arithmetic, as lfs_alignup wraps
      const sum = (rev + m - 1) >>> 0;
      rev = (sum - (sum % m)) >>> 0;
    }
    return {
      pair: [first, second], rev, off: 4, etag: 0xffffffff, entries: [], tail: [NULL_BLOCK, NULL_BLOCK],
      split: false, erased: false, gdelta: zeroGState(),
    };
  }

  private progCommit(block: number, builder: CommitBuilder, end: number): void {
    const cache = this.config.cacheSize;
    let off = builder.begin;
    while (off < end) {
      const chunkEnd = Math.min(end, (Math.floor(off / cache) + 1) * cache);
      this.prog(block, off, builder.bytes.subarray(off, chunkEnd));
      off = chunkEnd;
    }
    this.device.sync();
  }

  /**
   * Appends a commit to the pair's current block; false when it does not fit (compact instead).
   * `merged` is the pair's state with `attrs` applied, which the pair takes on success.
   */
  private tryAppend(dir: MetadataDir, attrs: CommitAttr[], merged: MetadataDir): boolean {
    const builder = new CommitBuilder(this.config.blockSize, dir.off, dir.etag, this.config.progSize, this.writeFcrc);
    let gdelta = dir.gdelta;
    try {
      for (const a of attrs) builder.attr(a.tag, a.data);
      const delta = this.pendingGDelta(true);
      if (!gstateIsZero(delta)) {
        gdelta = gstateXor(delta, dir.gdelta);
        builder.attr(mkTag(TYPE.MOVESTATE, NO_ID, 12), encodeGState(gdelta));
      }
      const { off, etag } = builder.finish((o, n) => this.readBytes(dir.pair[0], o, n));
      this.progCommit(dir.pair[0], builder, off);
      dir.off = off;
      dir.etag = etag;
    } catch (err) {
      if (err instanceof CommitFull) return false;
      throw err;
    }
    dir.entries = merged.entries;
    dir.gdelta = gdelta;
    this.gdisk = { ...this.gstate, pair: [...this.gstate.pair] };
    this.gdelta = zeroGState();
    return true;
  }

  /** lfs_dir_compact: writes entries [begin, end) of `merged` into the other block of the pair. */
  private compact(dir: MetadataDir, merged: MetadataDir, begin: number, end: number): boolean {
    let relocated = false;
    const tired = this.needsRelocation(dir);
    dir.rev = (dir.rev + 1) >>> 0;
    if (tired && !pairOverlaps(dir.pair, [0, 1])) {
      // Worn: write the compaction to a new block (wear levelling); in place if none is free.
      try {
        dir.pair[1] = this.allocBlock();
        relocated = true;
      } catch (err) {
        if (!(err instanceof LittleFsError && err.errno === ERRNO.ENOSPC)) throw err;
      }
    }
    const bs = this.config.blockSize;
    const builder = new CommitBuilder(bs, 0, 0xffffffff, this.config.progSize, this.writeFcrc);
    const entries = merged.entries.slice(begin, end);
    let gdelta: GState;
    try {
      builder.revision(dir.rev);
      entries.forEach((e, i) => {
        for (const t of entryTags(e, i)) builder.attr(t.tag, t.data);
      });
      if (!pairIsNull(dir.tail)) builder.attr(mkTag(TYPE.TAIL + (dir.split ? 1 : 0), NO_ID, 8), le32s(dir.tail[0], dir.tail[1]));
      gdelta = gstateXor(this.pendingGDelta(!relocated), dir.gdelta);
      if (!gstateIsZero(gdelta)) builder.attr(mkTag(TYPE.MOVESTATE, NO_ID, 12), encodeGState(gdelta));
    } catch (err) {
      if (err instanceof CommitFull) throw fsError(ERRNO.ENOSPC, 'a metadata pair is full and cannot be split (too many or too long names in one directory)');
      throw err;
    }
    this.erase(dir.pair[1]);
    const { off, etag } = builder.finish((o, n) => this.readBytes(dir.pair[1], o, n));
    this.progCommit(dir.pair[1], builder, off);
    dir.pair = [dir.pair[1], dir.pair[0]];
    dir.entries = entries;
    dir.off = off;
    dir.etag = etag;
    dir.erased = true;
    dir.gdelta = gdelta;
    this.gdelta = zeroGState();
    if (!relocated) this.gdisk = { ...this.gstate, pair: [...this.gstate.pair] };
    return relocated;
  }

  private entriesSize(entries: Entry[]): number {
    let size = 0;
    entries.forEach((e, i) => {
      for (const t of entryTags(e, i)) size += 4 + t.data.length;
    });
    return size;
  }

  /** lfs_dir_split: moves entries [split, end) into a new pair after `dir`. */
  private splitDir(dir: MetadataDir, merged: MetadataDir, split: number, end: number): void {
    const tail = this.allocDir();
    tail.split = dir.split;
    tail.tail = [...dir.tail];
    this.compact(tail, merged, split, end);
    dir.tail = [...tail.pair];
    dir.split = true;
    if (pairOverlaps(dir.pair, this.root) && split === 0) this.root = [...tail.pair];
  }

  /** lfs_dir_splittingcompact. */
  private splittingCompact(dir: MetadataDir, merged: MetadataDir): number {
    const begin = 0;
    let end = merged.entries.length;
    const limit = Math.min(this.config.blockSize - 40, Math.ceil(this.config.blockSize / 2 / this.config.progSize) * this.config.progSize);
    for (;;) {
      let split = begin;
      while (end - split > 1) {
        const size = this.entriesSize(merged.entries.slice(split, end));
        if (end - split < 0xff && size <= limit) break;
        split = split + Math.floor((end - split) / 2);
      }
      if (split === begin) break;
      try {
        this.splitDir(dir, merged, split, end);
        end = split;
      } catch (err) {
        if (err instanceof LittleFsError && err.errno === ERRNO.ENOSPC) break;
        throw err;
      }
    }
    if (this.needsRelocation(dir) && pairOverlaps(dir.pair, [0, 1])) {
      // The superblock pair wears: move everything into a new pair behind it (superblock expansion).
      if (this.fsSize() < this.blockCount / 2) {
        try {
          this.splitDir(dir, merged, begin, end);
          end = begin;
        } catch (err) {
          if (!(err instanceof LittleFsError && err.errno === ERRNO.ENOSPC)) throw err;
        }
      }
    }
    return this.compact(dir, merged, begin, end) ? RELOCATED : 0;
  }

  /** lfs_dir_relocatingcommit: append, or compact (splitting, relocating when worn). */
  private relocatingCommit(dir: MetadataDir, attrs: CommitAttr[], predOut?: { pred?: MetadataDir }): number {
    const merged = cloneDir(dir);
    let hasDelete = false;
    for (const a of attrs) {
      if (tagType3(a.tag) === TYPE.DELETE) hasDelete = true;
      applyTag(merged, a.tag, a.data);
    }
    dir.tail = merged.tail;
    dir.split = merged.split;
    if (hasDelete && merged.entries.length === 0 && predOut) {
      const pred = this.findPred(dir.pair);
      if (pred && pred.split) {
        predOut.pred = pred;
        dir.entries = [];
        return DROPPED;
      }
    }
    if (dir.erased && this.tryAppend(dir, attrs, merged)) return 0;
    return this.splittingCompact(dir, merged);
  }

  /** lfs_dir_orphaningcommit: a commit plus the parent/predecessor fixes a relocation needs. */
  private orphaningCommit(dir: MetadataDir, attrs: CommitAttr[]): boolean {
    let lpair: BlockPair = [...dir.pair];
    const predOut: { pred?: MetadataDir } = {};
    let state = this.relocatingCommit(dir, attrs, predOut);
    let ldir = dir;

    if (state === DROPPED) {
      const pred = predOut.pred!;
      this.gdelta = gstateXor(this.gdelta, dir.gdelta);
      lpair = [...pred.pair];
      state = this.relocatingCommit(pred, [{ tag: mkTag(TYPE.TAIL + (dir.split ? 1 : 0), NO_ID, 8), data: le32s(dir.tail[0], dir.tail[1]) }]);
      ldir = pred;
    }

    let orphans = false;
    while (state === RELOCATED) {
      state = 0;
      if (pairOverlaps(lpair, this.root)) this.root = [...ldir.pair];
      const parent = this.findParent(lpair);
      if (parent) {
        this.prepOrphans(+1);
        const pdir = parent.dir;
        let id = parent.id;
        const pre: CommitAttr[] = [];
        if (gstateHasMoveHere(this.gstate, pdir.pair)) {
          const moveId = tagId(this.gstate.tag);
          this.prepMove(NO_ID);
          pre.push({ tag: mkTag(TYPE.DELETE, moveId, 0), data: new Uint8Array(0) });
          if (moveId < id) id -= 1;
        }
        const ppair: BlockPair = [...pdir.pair];
        state = this.relocatingCommit(pdir, [...pre, { tag: mkTag(TYPE.DIRSTRUCT, id, 8), data: le32s(ldir.pair[0], ldir.pair[1]) }]);
        if (state === RELOCATED) {
          lpair = ppair;
          ldir = pdir;
          orphans = true;
          continue;
        }
      }
      const pred = this.findPred(lpair);
      if (pred) {
        if (this.hasOrphans()) this.prepOrphans(parent ? -1 : 0);
        const pre: CommitAttr[] = [];
        if (gstateHasMoveHere(this.gstate, pred.pair)) {
          const moveId = tagId(this.gstate.tag);
          this.prepMove(NO_ID);
          pre.push({ tag: mkTag(TYPE.DELETE, moveId, 0), data: new Uint8Array(0) });
        }
        lpair = [...pred.pair];
        state = this.relocatingCommit(pred, [...pre, { tag: mkTag(TYPE.TAIL + (pred.split ? 1 : 0), NO_ID, 8), data: le32s(ldir.pair[0], ldir.pair[1]) }]);
        ldir = pred;
      }
    }
    return orphans;
  }

  /** lfs_dir_commit. */
  private commit(dir: MetadataDir, attrs: CommitAttr[]): void {
    if (this.orphaningCommit(dir, attrs)) this.deorphan(false);
  }

  /** lfs_fs_pred: the pair whose tail points at `pair`. */
  private findPred(pair: readonly number[]): MetadataDir | undefined {
    let tail: readonly number[] = [0, 1];
    let steps = 0;
    let prev: MetadataDir | undefined;
    while (!pairIsNull(tail)) {
      if (pairOverlaps(tail, pair)) return prev;
      if (++steps > this.blockCount) throw fsError(ERRNO.ECORRUPT, 'corrupt littlefs: cycle in the metadata tail list');
      prev = this.fetch(tail);
      tail = prev.tail;
    }
    return undefined;
  }

  /** lfs_fs_parent: the pair and id of the directory entry pointing at `pair`. */
  private findParent(pair: readonly number[]): { dir: MetadataDir; id: number } | undefined {
    let tail: readonly number[] = [0, 1];
    let steps = 0;
    while (!pairIsNull(tail)) {
      if (++steps > this.blockCount) throw fsError(ERRNO.ECORRUPT, 'corrupt littlefs: cycle in the metadata tail list');
      const dir = this.fetch(tail);
      for (let id = 0; id < dir.entries.length; id++) {
        const e = dir.entries[id]!;
        if (e.structType === TYPE.DIRSTRUCT && e.struct.length === 8 && !this.isMovedHere(dir, id)
          && pairOverlaps([readLe32(e.struct, 0), readLe32(e.struct, 4)], pair)) {
          return { dir, id };
        }
      }
      tail = dir.tail;
    }
    return undefined;
  }

  // ---------------------------------------------------------------- consistency after power loss

  /** lfs_fs_forceconsistency: finish what a power loss interrupted, once, before the first write. */
  private forceConsistency(): void {
    this.checkMounted();
    if (tagSize(this.gstate.tag) >> 9) {
      const root = this.fetch(this.root);
      const superblock = le32s(DISK_VERSION, this.config.blockSize, this.blockCount, this.nameMax, this.fileMax, this.attrMax);
      this.commit(root, [{ tag: mkTag(TYPE.INLINESTRUCT, 0, 24), data: superblock }]);
      this.setNeedsSuperblock(this.gstate, false);
      this.diskMinor = 1;
    }
    if (tagType1(this.gdisk.tag) !== 0) {
      const movedir = this.fetch(this.gdisk.pair);
      const moveId = tagId(this.gdisk.tag);
      this.prepMove(NO_ID);
      this.commit(movedir, [{ tag: mkTag(TYPE.DELETE, moveId, 0), data: new Uint8Array(0) }]);
    }
    this.deorphan(true);
  }

  /** lfs_fs_deorphan: relink half-orphans (relocated pairs) and drop full orphans (removed dirs). */
  private deorphan(powerloss: boolean): void {
    if (!this.hasOrphans()) return;
    let pass = 0;
    while (pass < 2) {
      let pdir: MetadataDir = { ...this.fetch([0, 1]) };
      let first = true;
      let moreOrphans = false;
      let tail: readonly number[] = [0, 1];
      let steps = 0;
      while (!pairIsNull(tail)) {
        if (++steps > 4 * this.blockCount) throw fsError(ERRNO.ECORRUPT, 'corrupt littlefs: cycle in the metadata tail list');
        const dir = this.fetch(tail);
        if (!first && !pdir.split) {
          const parent = this.findParent(tail);
          if (pass === 0 && parent) {
            const e = parent.dir.entries[parent.id]!;
            const pair: BlockPair = [readLe32(e.struct, 0), readLe32(e.struct, 4)];
            if (!pairSame(pair, tail)) {
              const pre: CommitAttr[] = [];
              if (gstateHasMoveHere(this.gstate, pdir.pair)) {
                const moveId = tagId(this.gstate.tag);
                this.prepMove(NO_ID);
                pre.push({ tag: mkTag(TYPE.DELETE, moveId, 0), data: new Uint8Array(0) });
              }
              if (this.orphaningCommit(pdir, [...pre, { tag: mkTag(TYPE.SOFTTAIL, NO_ID, 8), data: le32s(pair[0], pair[1]) }])) moreOrphans = true;
              tail = pdir.tail;
              continue;
            }
          }
          if (pass === 1 && !parent && powerloss) {
            this.gdelta = gstateXor(this.gdelta, dir.gdelta);
            if (this.orphaningCommit(pdir, [{ tag: mkTag(TYPE.TAIL + (dir.split ? 1 : 0), NO_ID, 8), data: le32s(dir.tail[0], dir.tail[1]) }])) moreOrphans = true;
            tail = pdir.tail;
            continue;
          }
        }
        pdir = dir;
        first = false;
        tail = dir.tail;
      }
      pass = moreOrphans ? 0 : pass + 1;
    }
    this.prepOrphans(-(tagSize(this.gstate.tag) & 0x1ff));
    // Write the cleared orphan flag now, as the next commit would (lfs_fs_preporphans is lazy).
    if (!gstateIsZero(this.pendingGDelta(true))) this.commit(this.fetch(this.root), []);
  }

  // ---------------------------------------------------------------- directory operations

  /**
   * Runs a write operation; when it fails part-way (no space, a device error), the in-RAM global
   * state falls back to what is on disk, as a remount would see it, so no half-prepared move or
   * orphan count reaches the disk with a later commit.
   */
  private mutation(run: () => void): void {
    try {
      run();
    } catch (err) {
      this.gstate = { tag: this.gdisk.tag, pair: [...this.gdisk.pair] };
      if (this.gstate.tag & 0x80000000 && (this.gstate.tag & 0x1ff) === 0) this.gstate.tag = (this.gstate.tag + 1) >>> 0;
      this.gdelta = zeroGState();
      this.dirCache.clear();
      throw err;
    }
  }

  private checkName(name: Uint8Array, path: string): void {
    if (name.length > this.nameMax) throw fsError(ERRNO.ENAMETOOLONG, `name of ${name.length} bytes is longer than ${this.nameMax}: ${path}`);
  }

  mkdir(path: string): void {
    this.mutation(() => this.mkdirNow(path));
  }

  private mkdirNow(path: string): void {
    this.forceConsistency();
    const found = this.find(path);
    if (found.isRoot || found.entry) throw fsError(ERRNO.EEXIST, `already exists: ${path}`);
    this.checkName(found.name, path);
    this.allocAck();
    const dir = this.allocDir();
    let pred = found.dir;
    while (pred.split) pred = this.fetch(pred.tail);
    this.commit(dir, [{ tag: mkTag(TYPE.SOFTTAIL, NO_ID, 8), data: le32s(pred.tail[0], pred.tail[1]) }]);
    let cwd = found.dir;
    let id = found.id;
    if (cwd.split) {
      // Not the last pair of its directory: link the new pair after the last one (a desync until done).
      this.prepOrphans(+1);
      this.commit(pred, [{ tag: mkTag(TYPE.SOFTTAIL, NO_ID, 8), data: le32s(dir.pair[0], dir.pair[1]) }]);
      this.prepOrphans(-1);
      const again = this.find(path);
      cwd = again.dir;
      id = again.id;
    }
    const attrs: CommitAttr[] = [
      { tag: mkTag(TYPE.CREATE, id, 0), data: new Uint8Array(0) },
      { tag: mkTag(TYPE.DIR, id, found.name.length), data: found.name },
      { tag: mkTag(TYPE.DIRSTRUCT, id, 8), data: le32s(dir.pair[0], dir.pair[1]) },
    ];
    if (!cwd.split) attrs.push({ tag: mkTag(TYPE.SOFTTAIL, NO_ID, 8), data: le32s(dir.pair[0], dir.pair[1]) });
    this.commit(cwd, attrs);
    this.allocAck();
  }

  remove(path: string): void {
    this.mutation(() => this.removeNow(path));
  }

  private removeNow(path: string): void {
    this.forceConsistency();
    const found = this.find(path);
    if (found.isRoot) throw fsError(ERRNO.EINVAL, 'cannot remove the root directory');
    if (!found.entry) throw fsError(ERRNO.ENOENT, `no such file or directory: ${path}`);
    let removedDir: MetadataDir | undefined;
    if (found.entry.nameType === TYPE.DIR) {
      removedDir = this.fetch([readLe32(found.entry.struct, 0), readLe32(found.entry.struct, 4)]);
      if (removedDir.entries.length > 0 || removedDir.split) throw fsError(ERRNO.ENOTEMPTY, `directory not empty: ${path}`);
      this.prepOrphans(+1);
    }
    this.commit(found.dir, [{ tag: mkTag(TYPE.DELETE, found.id, 0), data: new Uint8Array(0) }]);
    if (removedDir) this.dropDir(removedDir);
    this.allocAck();
  }

  /** After a directory's entry is gone: unlink its pair from the tail list (lfs_dir_drop). */
  private dropDir(removed: MetadataDir): void {
    this.prepOrphans(-1);
    const current = this.fetch(removed.pair);
    const pred = this.findPred(current.pair);
    if (!pred) throw fsError(ERRNO.ECORRUPT, 'corrupt littlefs: a removed directory is not in the metadata tail list');
    this.gdelta = gstateXor(this.gdelta, current.gdelta);
    this.commit(pred, [{ tag: mkTag(TYPE.TAIL + (current.split ? 1 : 0), NO_ID, 8), data: le32s(current.tail[0], current.tail[1]) }]);
  }

  rename(from: string, to: string): void {
    this.mutation(() => this.renameNow(from, to));
  }

  private renameNow(from: string, to: string): void {
    this.forceConsistency();
    const old = this.find(from);
    if (old.isRoot) throw fsError(ERRNO.EINVAL, 'cannot rename the root directory');
    if (!old.entry) throw fsError(ERRNO.ENOENT, `no such file or directory: ${from}`);
    const target = this.find(to);
    if (target.isRoot) throw fsError(ERRNO.EINVAL, 'cannot replace the root directory');
    const fromParts = splitPath(from);
    const toParts = splitPath(to);
    if (old.entry.nameType === TYPE.DIR && toParts.length > fromParts.length && fromParts.every((p, i) => p === toParts[i])) {
      throw fsError(ERRNO.EINVAL, `cannot move directory ${from} into itself (${to})`);
    }
    const samePair = pairOverlaps(old.dir.pair, target.dir.pair);
    let newOldId = old.id;
    let replacedDir: MetadataDir | undefined;
    if (!target.entry) {
      this.checkName(target.name, to);
      if (samePair && target.id <= newOldId) newOldId += 1;
    } else if (target.entry.nameType !== old.entry.nameType) {
      throw fsError(target.entry.nameType === TYPE.DIR ? ERRNO.EISDIR : ERRNO.ENOTDIR, `cannot replace ${to} with ${from}: one is a directory, the other a file`);
    } else if (samePair && target.id === old.id) {
      return;
    } else if (target.entry.nameType === TYPE.DIR) {
      replacedDir = this.fetch([readLe32(target.entry.struct, 0), readLe32(target.entry.struct, 4)]);
      if (replacedDir.entries.length > 0 || replacedDir.split) throw fsError(ERRNO.ENOTEMPTY, `directory not empty: ${to}`);
      this.prepOrphans(+1);
    }
    if (!samePair) this.prepMove(newOldId, old.dir.pair);
    const newId = target.id;
    const attrs: CommitAttr[] = [];
    if (target.entry) attrs.push({ tag: mkTag(TYPE.DELETE, newId, 0), data: new Uint8Array(0) });
    attrs.push({ tag: mkTag(TYPE.CREATE, newId, 0), data: new Uint8Array(0) });
    attrs.push({ tag: mkTag(old.entry.nameType, newId, target.name.length), data: target.name });
    const moved = entryTags(old.entry, newId).slice(1);
    attrs.push(...moved);
    if (samePair) attrs.push({ tag: mkTag(TYPE.DELETE, newOldId, 0), data: new Uint8Array(0) });
    this.commit(target.dir, attrs);
    if (!samePair && tagType1(this.gstate.tag) !== 0) {
      this.prepMove(NO_ID);
      this.commit(this.fetch(old.dir.pair), [{ tag: mkTag(TYPE.DELETE, old.id, 0), data: new Uint8Array(0) }]);
    }
    if (replacedDir) this.dropDir(replacedDir);
    this.allocAck();
  }

  setattr(path: string, type: number, value: Uint8Array): void {
    this.mutation(() => this.setattrNow(path, type, value));
  }

  private setattrNow(path: string, type: number, value: Uint8Array): void {
    this.forceConsistency();
    if (value.length > this.attrMax) throw fsError(ERRNO.ENOSPC, `attribute of ${value.length} bytes is larger than ${this.attrMax}`);
    const found = this.requireEntry(path);
    const dir = found.isRoot ? this.fetch(this.root) : found.dir;
    const id = found.isRoot ? 0 : found.id;
    this.commit(dir, [{ tag: mkTag(TYPE.USERATTR + (type & 0xff), id, value.length), data: value }]);
    this.allocAck();
  }

  removeattr(path: string, type: number): void {
    this.mutation(() => this.removeattrNow(path, type));
  }

  private removeattrNow(path: string, type: number): void {
    this.forceConsistency();
    const found = this.requireEntry(path);
    const dir = found.isRoot ? this.fetch(this.root) : found.dir;
    const id = found.isRoot ? 0 : found.id;
    this.commit(dir, [{ tag: mkTag(TYPE.USERATTR + (type & 0xff), id, 0x3ff), data: new Uint8Array(0) }]);
  }

  // ---------------------------------------------------------------- files

  get inlineMax(): number {
    return Math.min(0x3fe, this.config.cacheSize, this.config.blockSize / 8);
  }

  /** Writes (or replaces) a whole file in one metadata commit: old or new content after a power cut. */
  writeFile(path: string, data: Uint8Array, options: { mtimeNs?: bigint } = {}): void {
    this.mutation(() => this.writeFileNow(path, data, options));
  }

  private writeFileNow(path: string, data: Uint8Array, options: { mtimeNs?: bigint }): void {
    this.forceConsistency();
    const found = this.find(path);
    if (found.isRoot || found.entry?.nameType === TYPE.DIR) throw fsError(ERRNO.EISDIR, `is a directory: ${path}`);
    if (!found.entry) this.checkName(found.name, path);
    if (data.length > this.fileMax) throw fsError(ERRNO.EFBIG, `file of ${data.length} bytes is larger than ${this.fileMax}`);
    this.allocAck();
    const struct = this.writeContent(data, undefined, 0);
    const attrs: CommitAttr[] = [];
    // Writing data blocks changed no metadata, so `found` still holds.
    const id = found.id;
    if (!found.entry) {
      attrs.push({ tag: mkTag(TYPE.CREATE, id, 0), data: new Uint8Array(0) });
      attrs.push({ tag: mkTag(TYPE.REG, id, found.name.length), data: found.name });
    }
    attrs.push({ tag: mkTag(struct.type, id, struct.data.length), data: struct.data });
    attrs.push({ tag: mkTag(TYPE.USERATTR + MTIME_ATTR, id, 8), data: encodeMtime(options.mtimeNs ?? nowNs()) });
    this.commit(found.dir, attrs);
    this.allocAck();
  }

  /**
   * Writes file content: inline when small, else a CTZ skip-list reusing the first `keepBlocks`
   * blocks of `reuse` (addresses of an existing list with the same prefix).
   */
  writeContent(data: Uint8Array, reuse: number[] | undefined, keepBlocks: number): { type: number; data: Uint8Array; blocks: number[] } {
    if (data.length <= this.inlineMax) return { type: TYPE.INLINESTRUCT, data: data.slice(), blocks: [] };
    const blocks = (reuse ?? []).slice(0, keepBlocks);
    const last = ctzIndex(this.config.blockSize, data.length - 1).index;
    for (let index = blocks.length; index <= last; index++) blocks.push(this.writeCtzBlock(data, blocks, index));
    return { type: TYPE.CTZSTRUCT, data: le32s(blocks[last]!, data.length), blocks };
  }

  /** Allocates, erases and programs block `index` of a CTZ list whose earlier blocks are `blocks`. */
  writeCtzBlock(data: Uint8Array, blocks: number[], index: number): number {
    const block = this.allocErasedBlock();
    this.progCtzBlock(block, data, blocks, index);
    return block;
  }

  allocErasedBlock(): number {
    const block = this.allocBlock();
    this.erase(block);
    return block;
  }

  /** Programs block `index` of a CTZ list (its pointers to earlier `blocks`, then its data) into an erased block. */
  progCtzBlock(block: number, data: Uint8Array, blocks: number[], index: number): void {
    const bs = this.config.blockSize;
    const start = this.ctzBlockStart(index);
    const pointers = ctzPointerBytes(index);
    const n = Math.min(bs - pointers, data.length - start);
    const buf = new Uint8Array(Math.min(bs, Math.ceil((pointers + n) / this.config.progSize) * this.config.progSize)).fill(0xff);
    for (let k = 0; k < pointers / 4; k++) writeLe32(buf, 4 * k, blocks[index - (1 << k)]!);
    buf.set(data.subarray(start, start + n), pointers);
    this.prog(block, 0, buf);
  }

  /** File position of the first data byte of CTZ block `index`. */
  ctzBlockStart(index: number): number {
    if (index === 0) return 0;
    // Data per block b is blockSize - 4·(ctz(b)+1) for b ≥ 1; sum over 1..index-1, plus block 0.
    const bs = this.config.blockSize;
    let pos = bs;
    for (let b = 1; b < index; b++) pos += bs - ctzPointerBytes(b);
    return pos;
  }

  open(path: string, flags: string, options: { mtimeNs?: bigint } = {}): LittleFsFile {
    const mode = parseOpenFlags(flags);
    if (mode.write) this.forceConsistency();
    const found = this.find(path);
    if (found.isRoot || found.entry?.nameType === TYPE.DIR) throw fsError(ERRNO.EISDIR, `is a directory: ${path}`);
    if (!found.entry) {
      if (!mode.create) throw fsError(ERRNO.ENOENT, `no such file: ${path}`);
      this.checkName(found.name, path);
      const id = found.id;
      this.commit(found.dir, [
        { tag: mkTag(TYPE.CREATE, id, 0), data: new Uint8Array(0) },
        { tag: mkTag(TYPE.REG, id, found.name.length), data: found.name },
        { tag: mkTag(TYPE.INLINESTRUCT, id, 0), data: new Uint8Array(0) },
      ]);
    } else if (mode.exclusive) {
      throw fsError(ERRNO.EEXIST, `already exists: ${path}`);
    }
    const entry = found.entry;
    const file = new LittleFsFile(this, path, mode, entry, options.mtimeNs ?? nowNs());
    this.openFiles.add(file);
    return file;
  }

  // OpenFileHost: what LittleFsFile needs from us.
  fileClosed(file: LittleFsFile): void {
    this.openFiles.delete(file);
  }

  /** Commits a file's new struct (and mtime) to its entry, found again by path. */
  commitFile(path: string, struct: { type: number; data: Uint8Array }, mtime: Uint8Array | undefined): void {
    this.mutation(() => this.commitFileNow(path, struct, mtime));
  }

  private commitFileNow(path: string, struct: { type: number; data: Uint8Array }, mtime: Uint8Array | undefined): void {
    this.forceConsistency();
    const found = this.find(path);
    if (!found.entry || found.entry.nameType !== TYPE.REG) throw fsError(ERRNO.ENOENT, `file was removed while open: ${path}`);
    const attrs: CommitAttr[] = [{ tag: mkTag(struct.type, found.id, struct.data.length), data: struct.data }];
    if (mtime) attrs.push({ tag: mkTag(TYPE.USERATTR + MTIME_ATTR, found.id, 8), data: mtime });
    this.commit(found.dir, attrs);
    this.allocAck();
  }

  beginWrite(): void {
    this.forceConsistency();
    this.allocAck();
  }
}

