/**
 * An open littlefs file. Its content is kept in memory; blocks of a CTZ list are written as soon
 * as they are complete (so a full filesystem raises ENOSPC at the write that needs the block),
 * and the metadata commit at sync/close makes the new content visible at once.
 */
import { ctzIndex } from './ctz.js';
import { ERRNO, fsError } from './errors.js';
import type { Entry } from './metadata.js';
import { encodeMtime } from './mtime.js';
import { TYPE, readLe32 } from './tag.js';

export interface OpenMode {
  read: boolean;
  write: boolean;
  create: boolean;
  truncate: boolean;
  append: boolean;
  exclusive: boolean;
}

/** Python's open() modes: r, w, a, x, each with optional '+', 'b' or 't'. */
export function parseOpenFlags(flags: string): OpenMode {
  const base = flags.replace(/[bt]/g, '');
  const plus = base.includes('+');
  const kind = base.replace('+', '');
  const modes: Record<string, OpenMode> = {
    r: { read: true, write: plus, create: false, truncate: false, append: false, exclusive: false },
    w: { read: plus, write: true, create: true, truncate: true, append: false, exclusive: false },
    a: { read: plus, write: true, create: true, truncate: false, append: true, exclusive: false },
    x: { read: plus, write: true, create: true, truncate: false, append: false, exclusive: true },
  };
  const mode = modes[kind];
  if (!mode || (base.match(/\+/g)?.length ?? 0) > 1) throw fsError(ERRNO.EINVAL, `invalid open mode ${JSON.stringify(flags)} (use r, w, a or x, optionally with + and b)`);
  return mode;
}

/** What a file needs from its filesystem. */
export interface OpenFileHost {
  readonly inlineMax: number;
  readonly fileMax: number;
  readonly config: { blockSize: number };
  readContent(entry: Entry): Uint8Array;
  ctzAddresses(head: number, size: number): number[];
  allocErasedBlock(): number;
  progCtzBlock(block: number, data: Uint8Array, blocks: number[], index: number): void;
  ctzBlockStart(index: number): number;
  beginWrite(): void;
  commitFile(path: string, struct: { type: number; data: Uint8Array }, mtime: Uint8Array | undefined): void;
  fileClosed(file: LittleFsFile): void;
}

export class LittleFsFile {
  private data: Uint8Array;
  private length: number;
  private pos = 0;
  private closed = false;
  private dirty = false;
  /** Blocks of the committed CTZ list (empty when inline). */
  private committedBlocks: number[] = [];
  private committedSize: number;
  /** Blocks of the new list written so far; the first `kept` are shared with the committed list. */
  private flight: number[] | undefined;
  private kept = 0;
  /** An erased block allocated for the next block of the list as soon as it holds a byte (as lfs_ctz_extend). */
  private reserved: number | undefined;
  private readonly mtime: Uint8Array | undefined;

  constructor(
    private readonly host: OpenFileHost,
    readonly path: string,
    private readonly mode: OpenMode,
    entry: Entry | undefined,
    mtimeNs: bigint,
  ) {
    this.data = entry && !mode.truncate ? host.readContent(entry) : new Uint8Array(0);
    this.length = this.data.length;
    this.committedSize = entry ? (entry.structType === TYPE.CTZSTRUCT ? readLe32(entry.struct, 4) : entry.struct.length) : 0;
    if (entry?.structType === TYPE.CTZSTRUCT) this.committedBlocks = host.ctzAddresses(readLe32(entry.struct, 0), this.committedSize);
    if (mode.write) {
      this.mtime = encodeMtime(mtimeNs);
      this.dirty = true;
    }
    if (mode.truncate && this.committedSize > 0) this.invalidateFrom(0);
  }

  private checkOpen(): void {
    if (this.closed) throw fsError(ERRNO.EBADF, `file is closed: ${this.path}`);
  }

  private checkWritable(): void {
    this.checkOpen();
    if (!this.mode.write) throw fsError(ERRNO.EBADF, `file not open for writing: ${this.path}`);
  }

  /** Blocks this file wrote that no commit references yet (the allocator must not hand them out). */
  blocksInFlight(): number[] {
    const blocks = this.flight ? this.flight.slice(this.kept) : [];
    if (this.reserved !== undefined) blocks.push(this.reserved);
    return blocks;
  }

  /** Bytes from `pos` on change: blocks of the new list at or after that position are dropped. */
  private invalidateFrom(pos: number): void {
    this.dirty = true;
    const bs = this.host.config.blockSize;
    if (!this.flight) {
      const keep = this.committedSize > this.host.inlineMax && this.committedBlocks.length > 0
        ? ctzIndex(bs, Math.min(pos, this.committedSize)).index : 0;
      this.flight = this.committedBlocks.slice(0, keep);
      this.kept = keep;
      return;
    }
    const index = ctzIndex(bs, pos).index;
    if (this.flight.length > index) {
      this.flight.length = index;
      this.kept = Math.min(this.kept, index);
      this.reserved = undefined;
    }
  }

  private ensureCapacity(size: number): void {
    if (size <= this.data.length) return;
    const grown = new Uint8Array(Math.max(size, this.data.length * 2, 256));
    grown.set(this.data.subarray(0, this.length));
    this.data = grown;
  }

  /** Writes every block that is complete (all its bytes known) and not yet written. */
  private writeCompleteBlocks(final: boolean): void {
    if (this.length <= this.host.inlineMax || !this.flight) return;
    const content = this.data.subarray(0, this.length);
    const last = ctzIndex(this.host.config.blockSize, this.length - 1).index;
    while (this.flight.length <= last) {
      const index = this.flight.length;
      this.reserved ??= this.host.allocErasedBlock();
      const complete = this.host.ctzBlockStart(index + 1) <= this.length;
      if (!complete && !final) return;
      this.host.progCtzBlock(this.reserved, content, this.flight, index);
      this.flight.push(this.reserved);
      this.reserved = undefined;
    }
  }

  write(buf: Uint8Array): number {
    this.checkWritable();
    if (this.mode.append) this.pos = this.length;
    const end = this.pos + buf.length;
    if (end > this.host.fileMax) throw fsError(ERRNO.EFBIG, `file would grow to ${end} bytes, more than ${this.host.fileMax}`);
    this.host.beginWrite();
    const oldLength = this.length;
    const changedFrom = Math.min(this.pos, oldLength);
    const saved = this.data.slice(changedFrom, Math.min(end, oldLength));
    this.ensureCapacity(end);
    if (this.pos > oldLength) this.data.fill(0, oldLength, this.pos);
    this.data.set(buf, this.pos);
    this.length = Math.max(oldLength, end);
    this.invalidateFrom(changedFrom);
    try {
      this.writeCompleteBlocks(false);
    } catch (err) {
      this.data.set(saved, changedFrom);
      this.length = oldLength;
      this.invalidateFrom(changedFrom);
      throw err;
    }
    this.pos = end;
    return buf.length;
  }

  read(into: Uint8Array): number {
    this.checkOpen();
    if (!this.mode.read) throw fsError(ERRNO.EBADF, `file not open for reading: ${this.path}`);
    const n = Math.max(0, Math.min(into.length, this.length - this.pos));
    into.set(this.data.subarray(this.pos, this.pos + n));
    this.pos += n;
    return n;
  }

  seek(offset: number, whence: 0 | 1 | 2): number {
    this.checkOpen();
    const base = whence === 0 ? 0 : whence === 1 ? this.pos : this.length;
    const next = base + offset;
    if (next < 0 || next > this.host.fileMax) throw fsError(ERRNO.EINVAL, `seek to ${next} is outside 0..${this.host.fileMax}`);
    this.pos = next;
    return next;
  }

  tell(): number {
    this.checkOpen();
    return this.pos;
  }

  size(): number {
    this.checkOpen();
    return this.length;
  }

  truncate(size: number): void {
    this.checkWritable();
    if (size < 0 || size > this.host.fileMax) throw fsError(ERRNO.EINVAL, `cannot truncate to ${size} bytes`);
    if (size === this.length) return;
    this.host.beginWrite();
    if (size < this.length) {
      this.length = size;
      this.invalidateFrom(size);
      return;
    }
    const oldLength = this.length;
    this.ensureCapacity(size);
    this.data.fill(0, oldLength, size);
    this.length = size;
    this.invalidateFrom(oldLength);
    try {
      this.writeCompleteBlocks(false);
    } catch (err) {
      this.length = oldLength;
      this.invalidateFrom(oldLength);
      throw err;
    }
  }

  /** Makes the content written so far the file's content on disk (one metadata commit). */
  sync(): void {
    this.checkOpen();
    if (!this.dirty || !this.mode.write) return;
    this.host.beginWrite();
    let struct: { type: number; data: Uint8Array };
    const unchanged = !this.flight && this.length === this.committedSize && this.committedBlocks.length > 0;
    if (unchanged) this.flight = this.committedBlocks.slice();
    else if (!this.flight) this.invalidateFrom(this.length);
    if (this.length <= this.host.inlineMax) {
      struct = { type: TYPE.INLINESTRUCT, data: this.data.slice(0, this.length) };
    } else {
      this.writeCompleteBlocks(true);
      const head = this.flight![this.flight!.length - 1]!;
      const ctz = new Uint8Array(8);
      new DataView(ctz.buffer).setUint32(0, head, true);
      new DataView(ctz.buffer).setUint32(4, this.length, true);
      struct = { type: TYPE.CTZSTRUCT, data: ctz };
    }
    this.host.commitFile(this.path, struct, this.mtime);
    this.committedBlocks = struct.type === TYPE.CTZSTRUCT ? this.flight! : [];
    this.committedSize = this.length;
    this.flight = undefined;
    this.kept = 0;
    this.reserved = undefined;
    this.dirty = false;
  }

  close(): void {
    if (this.closed) return;
    try {
      if (this.mode.write) this.sync();
    } finally {
      this.closed = true;
      this.host.fileClosed(this);
    }
  }
}
