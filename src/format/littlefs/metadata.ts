/**
 * Metadata pairs (SPEC.md "Directories / Metadata pairs"): fetching the newest valid state of a
 * pair, and encoding commits (tags XOR-chained, CRC per commit, FCRC of the next erased bytes).
 */
import {
  NO_ID, NULL_BLOCK, TYPE, lfsCrc, mkTag, pairOverlaps, readBe32, readLe32, revisionCompare,
  tagChunk, tagDiskSize, tagId, tagIsDelete, tagSize, tagType1, tagType3, tagValid, writeBe32, writeLe32,
  type BlockPair,
} from './tag.js';

/** One id in a metadata pair: its name tag, its struct tag and its user attributes. */
export interface Entry {
  /** type3 of the name tag: TYPE.REG, TYPE.DIR, TYPE.SUPERBLOCK; -1 before a name is known. */
  nameType: number;
  name: Uint8Array;
  /** type3 of the struct tag: DIRSTRUCT, INLINESTRUCT or CTZSTRUCT; -1 for none. */
  structType: number;
  struct: Uint8Array;
  /** User attributes by type (0..255). */
  attrs: Map<number, Uint8Array>;
}

/** Global state (SPEC.md "0x7ff LFS_TYPE_MOVESTATE"): a tag and a pair, XOR-summed over all pairs. */
export interface GState {
  tag: number;
  pair: BlockPair;
}

export const zeroGState = (): GState => ({ tag: 0, pair: [0, 0] });
export const gstateXor = (a: GState, b: GState): GState => ({
  tag: (a.tag ^ b.tag) >>> 0,
  pair: [(a.pair[0] ^ b.pair[0]) >>> 0, (a.pair[1] ^ b.pair[1]) >>> 0],
});
export const gstateIsZero = (g: GState): boolean => g.tag === 0 && g.pair[0] === 0 && g.pair[1] === 0;
export const gstateHasMoveHere = (g: GState, pair: readonly number[]): boolean =>
  tagType1(g.tag) !== 0 && pairOverlaps(g.pair, pair);

export function encodeGState(g: GState): Uint8Array {
  const out = new Uint8Array(12);
  writeLe32(out, 0, g.tag);
  writeLe32(out, 4, g.pair[0]);
  writeLe32(out, 8, g.pair[1]);
  return out;
}

function decodeGState(data: Uint8Array): GState {
  return { tag: readLe32(data, 0), pair: [readLe32(data, 4), readLe32(data, 8)] };
}

/** The newest valid state of a metadata pair; pair[0] is the block holding it. */
export interface MetadataDir {
  pair: BlockPair;
  rev: number;
  /** End of the last valid commit in pair[0]. */
  off: number;
  /** The tag that XORs with the next commit's first tag. */
  etag: number;
  entries: Entry[];
  tail: BlockPair;
  /** A hard tail: the next pair belongs to the same directory. */
  split: boolean;
  /** The bytes after `off` are known to be erased (FCRC matched), so commits can be appended. */
  erased: boolean;
  /** This pair's contribution to the global state. */
  gdelta: GState;
}

export interface CommitAttr {
  tag: number;
  data: Uint8Array;
}

const EMPTY = new Uint8Array(0);

export function emptyEntry(): Entry {
  return { nameType: -1, name: EMPTY, structType: -1, struct: EMPTY, attrs: new Map() };
}

export function cloneEntry(e: Entry): Entry {
  return { ...e, attrs: new Map(e.attrs) };
}

export function cloneDir(dir: MetadataDir): MetadataDir {
  return { ...dir, pair: [...dir.pair], tail: [...dir.tail], entries: dir.entries.map(cloneEntry), gdelta: { ...dir.gdelta, pair: [...dir.gdelta.pair] } };
}

/** The mutable part of a pair's state that tags change. */
export interface DirState {
  entries: Entry[];
  tail: BlockPair;
  split: boolean;
  gdelta: GState;
}

/** Applies one tag (in log order) to a pair's state, as lfs_dir_fetchmatch/lfs_dir_getslice read them. */
export function applyTag(state: DirState, tag: number, data: Uint8Array): void {
  const id = tagId(tag);
  const ensure = (): Entry => {
    while (state.entries.length <= id) state.entries.push(emptyEntry());
    return state.entries[id]!;
  };
  switch (tagType1(tag)) {
    case TYPE.SPLICE:
      if (tagType3(tag) === TYPE.CREATE) state.entries.splice(id, 0, emptyEntry());
      else if (tagType3(tag) === TYPE.DELETE) state.entries.splice(id, 1);
      break;
    case TYPE.NAME: {
      const e = ensure();
      e.nameType = tagType3(tag);
      e.name = data;
      break;
    }
    case TYPE.STRUCT: {
      const e = ensure();
      if (tagIsDelete(tag)) {
        e.structType = -1;
        e.struct = EMPTY;
      } else {
        e.structType = tagType3(tag);
        e.struct = data;
      }
      break;
    }
    case TYPE.USERATTR: {
      const e = ensure();
      if (tagIsDelete(tag)) e.attrs.delete(tagChunk(tag));
      else e.attrs.set(tagChunk(tag), data);
      break;
    }
    case TYPE.TAIL:
      state.tail = [readLe32(data, 0), readLe32(data, 4)];
      state.split = (tagChunk(tag) & 1) === 1;
      break;
    case TYPE.GLOBALS:
      if (tagType3(tag) === TYPE.MOVESTATE) state.gdelta = decodeGState(data);
      break;
  }
}

/** The newest valid commit chain of one block, or undefined when it holds none. */
function parseBlock(block: Uint8Array, rev: number, progSize: number): Omit<MetadataDir, 'pair' | 'rev'> | undefined {
  const blockSize = block.length;
  const tags: Array<{ tag: number; data: Uint8Array }> = [];
  let committedTags = 0;
  let found: { off: number; etag: number } | undefined;
  let off = 0;
  let ptag = 0xffffffff;
  let crc = lfsCrc(0xffffffff, block.subarray(0, 4));
  let maybeErased = false;
  let fcrc: { size: number; crc: number } | undefined;

  for (;;) {
    off += tagDiskSize(ptag);
    if (off + 4 > blockSize) break;
    crc = lfsCrc(crc, block.subarray(off, off + 4));
    const tag = (readBe32(block, off) ^ ptag) >>> 0;
    if (!tagValid(tag)) {
      maybeErased = (tagType3(ptag) & 0x780) === TYPE.CCRC;
      break;
    }
    if (off + tagDiskSize(tag) > blockSize) break;
    ptag = tag;

    if ((tagType3(tag) & 0x780) === TYPE.CCRC) {
      if (off + 8 > blockSize || readLe32(block, off + 4) !== crc) break;
      ptag = (ptag ^ ((tagChunk(tag) & 1) << 31)) >>> 0;
      committedTags = tags.length;
      found = { off: off + tagDiskSize(tag), etag: ptag };
      crc = 0xffffffff;
      continue;
    }

    const data = block.subarray(off + 4, off + tagDiskSize(tag));
    crc = lfsCrc(crc, data);
    if (tagType3(tag) === TYPE.FCRC && data.length >= 8) {
      fcrc = { size: readLe32(data, 0), crc: readLe32(data, 4) };
    } else {
      tags.push({ tag, data });
    }
  }

  if (!found) return undefined;
  const state: DirState = { entries: [], tail: [NULL_BLOCK, NULL_BLOCK], split: false, gdelta: zeroGState() };
  for (let i = 0; i < committedTags; i++) applyTag(state, tags[i]!.tag, tags[i]!.data);
  let erased = false;
  if (maybeErased && found.off % progSize === 0 && fcrc && found.off + fcrc.size <= blockSize) {
    erased = lfsCrc(0xffffffff, block.subarray(found.off, found.off + fcrc.size)) === fcrc.crc;
  }
  return { ...found, ...state, erased };
}

export interface BlockReader {
  readBlock(block: number): Uint8Array;
  readonly blockCount: number;
  readonly progSize: number;
}

/** lfs_dir_fetch: the newest block of the pair holding a valid commit; undefined when neither does. */
export function fetchDir(reader: BlockReader, pair: readonly number[]): MetadataDir | undefined {
  if (pair[0]! >= reader.blockCount || pair[1]! >= reader.blockCount) return undefined;
  const blocks = [reader.readBlock(pair[0]!), reader.readBlock(pair[1]!)];
  const revs = blocks.map((b) => readLe32(b, 0));
  const newer = revisionCompare(revs[1]!, revs[0]!) > 0 ? 1 : 0;
  for (const i of [newer, 1 - newer]) {
    const parsed = parseBlock(blocks[i]!, revs[i]!, reader.progSize);
    if (parsed) return { pair: [pair[i]!, pair[1 - i]!], rev: revs[i]!, ...parsed };
  }
  return undefined;
}

/** The tags that describe one entry, in the order a compaction writes them. */
export function entryTags(e: Entry, id: number): CommitAttr[] {
  const out: CommitAttr[] = [];
  if (e.nameType >= 0) out.push({ tag: mkTag(e.nameType, id, e.name.length), data: e.name });
  if (e.structType >= 0) out.push({ tag: mkTag(e.structType, id, e.struct.length), data: e.struct });
  for (const type of [...e.attrs.keys()].sort((a, b) => a - b)) {
    const data = e.attrs.get(type)!;
    out.push({ tag: mkTag(TYPE.USERATTR + type, id, data.length), data });
  }
  return out;
}

export class CommitFull extends Error {}

/**
 * Builds one commit in memory (lfs_dir_commitattr / lfs_dir_commitcrc): tags XORed with the
 * previous one, big-endian; data; then an FCRC of the next prog unit (as erased now) and the CRC.
 */
export class CommitBuilder {
  readonly bytes: Uint8Array;
  off: number;
  readonly begin: number;
  private ptag: number;
  private crc = 0xffffffff;

  constructor(
    blockSize: number,
    begin: number,
    ptag: number,
    private readonly progSize: number,
    /** littlefs 2.0 commits carry no FCRC (lfs2.1 added it). */
    private readonly withFcrc = true,
    private readonly end = blockSize - 8,
  ) {
    this.bytes = new Uint8Array(blockSize).fill(0xff);
    this.begin = begin;
    this.off = begin;
    this.ptag = ptag;
  }

  private put(data: Uint8Array): void {
    this.bytes.set(data, this.off);
    this.crc = lfsCrc(this.crc, data);
    this.off += data.length;
  }

  /** The revision count that starts a freshly erased block. */
  revision(rev: number): void {
    const out = new Uint8Array(4);
    writeLe32(out, 0, rev);
    this.put(out);
  }

  attr(tag: number, data: Uint8Array): void {
    const dsize = tagDiskSize(tag);
    if (this.off + dsize > this.end) throw new CommitFull();
    const raw = new Uint8Array(4);
    writeBe32(raw, 0, ((tag & 0x7fffffff) ^ this.ptag) >>> 0);
    this.put(raw);
    if (!tagIsDelete(tag)) this.put(data.subarray(0, tagSize(tag)));
    this.ptag = (tag & 0x7fffffff) >>> 0;
  }

  /** The FCRC: a checksum of the next prog unit as it is now (erased), so a later fetch knows it still is. */
  private fcrc(next: Uint8Array): void {
    const fcrc = new Uint8Array(8);
    writeLe32(fcrc, 0, this.progSize);
    writeLe32(fcrc, 4, lfsCrc(0xffffffff, next));
    this.attr(mkTag(TYPE.FCRC, NO_ID, 8), fcrc);
  }

  /**
   * Ends the commit. `readErased(off, len)` returns what the block holds after this commit (for
   * the FCRC). Returns the new end offset and the etag the next commit chains from.
   */
  finish(readErased: (off: number, length: number) => Uint8Array): { off: number; etag: number } {
    const blockSize = this.bytes.length;
    const alignUp = (v: number): number => Math.ceil(v / this.progSize) * this.progSize;
    const end = alignUp(Math.min(this.off + 20, blockSize));
    while (this.off < end) {
      let noff = Math.min(end - (this.off + 4), 0x3fe) + (this.off + 4);
      if (noff < end) noff = Math.min(noff, end - 20);
      let eperturb = 0xff;
      if (noff >= end && noff <= blockSize - this.progSize) {
        const next = readErased(noff, this.progSize);
        eperturb = next[0]!;
        if (this.withFcrc) this.fcrc(next);
      }
      const ntag = mkTag(TYPE.CCRC + ((~eperturb & 0xff) >>> 7), NO_ID, noff - (this.off + 4));
      const raw = new Uint8Array(4);
      writeBe32(raw, 0, (ntag ^ this.ptag) >>> 0);
      this.crc = lfsCrc(this.crc, raw);
      this.bytes.set(raw, this.off);
      writeLe32(this.bytes, this.off + 4, this.crc);
      this.off = noff;
      this.ptag = (ntag ^ ((0x80 & ~eperturb) << 24)) >>> 0;
      this.crc = 0xffffffff;
    }
    return { off: this.off, etag: this.ptag };
  }
}

