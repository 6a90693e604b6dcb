/**
 * A model of how MicroPython's decoder (lib/uzlib/tinflate.c behind
 * deflate.DeflateIO) takes its input: one byte at a time, only when it needs
 * a bit, and `readinto(n)` stops at the n-th output byte. Written from the C
 * source for tests: it throws when it would read a byte that has not been fed,
 * so a test can show that piece k is exactly what block k needs.
 */
const LENGTH_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LENGTH_BITS = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE = [
  1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_BITS = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
const CLCIDX = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

interface Tree {
  table: number[];
  trans: number[];
}

function buildTree(lengths: ArrayLike<number>): Tree {
  const table = new Array<number>(16).fill(0);
  for (let i = 0; i < lengths.length; i++) table[lengths[i]!]!++;
  table[0] = 0;
  const offs: number[] = [];
  let sum = 0;
  for (let i = 0; i < 16; i++) {
    offs[i] = sum;
    sum += table[i]!;
  }
  const trans: number[] = [];
  for (let i = 0; i < lengths.length; i++) if (lengths[i]) trans[offs[lengths[i]!]!++] = i;
  return { table, trans };
}

export class OverReadError extends Error {}

export class LazyInflater {
  private input: number[] = [];
  private pos = 0;
  private tag = 0;
  private bitcount = 0;
  private bfinal = 0;
  private btype = -1;
  private curlen = 0;
  private lzOff = 0;
  private lt: Tree = { table: [], trans: [] };
  private dt: Tree = { table: [], trans: [] };
  readonly output: number[] = [];

  constructor(private readonly windowSize: number) {}

  /** Input bytes fed so far. */
  get fed(): number {
    return this.input.length;
  }

  /** Input bytes the decoder has taken. */
  get consumed(): number {
    return this.pos;
  }

  feed(bytes: Uint8Array): void {
    for (const byte of bytes) this.input.push(byte);
  }

  /** uzlib_uncompress with dest_limit = n more bytes. */
  inflate(n: number): Uint8Array {
    const limit = this.output.length + n;
    const start = this.output.length;
    do {
      if (this.btype === -1) this.nextBlock();
      let result = this.btype === 0 ? this.storedByte() : this.dataByte();
      while (result === 'done') {
        if (this.bfinal) return Uint8Array.from(this.output.slice(start));
        this.nextBlock();
        result = this.btype === 0 ? this.storedByte() : this.dataByte();
      }
    } while (this.output.length < limit);
    return Uint8Array.from(this.output.slice(start));
  }

  private getByte(): number {
    if (this.pos >= this.input.length) throw new OverReadError(`the decoder needs input byte ${this.pos}, only ${this.input.length} were fed`);
    return this.input[this.pos++]!;
  }

  private getBit(): number {
    if (this.bitcount === 0) {
      this.tag = this.getByte();
      this.bitcount = 8;
    }
    this.bitcount--;
    const bit = this.tag & 1;
    this.tag >>= 1;
    return bit;
  }

  private readBits(count: number, base: number): number {
    let value = 0;
    for (let i = 0; i < count; i++) if (this.getBit()) value += 1 << i;
    return value + base;
  }

  private decodeSymbol(tree: Tree): number {
    let sum = 0;
    let cur = 0;
    let len = 0;
    do {
      cur = 2 * cur + this.getBit();
      if (++len === 16) throw new Error('bad code');
      sum += tree.table[len]!;
      cur -= tree.table[len]!;
    } while (cur >= 0);
    return tree.trans[sum + cur]!;
  }

  private nextBlock(): void {
    this.bfinal = this.getBit();
    this.btype = this.readBits(2, 0);
    if (this.btype === 1) {
      const lengths = new Array<number>(288).fill(8, 0, 144).fill(9, 144, 256).fill(7, 256, 280).fill(8, 280, 288);
      this.lt = buildTree(lengths);
      this.dt = buildTree(new Array<number>(30).fill(5));
    } else if (this.btype === 2) {
      const hlit = this.readBits(5, 257);
      const hdist = this.readBits(5, 1);
      const hclen = this.readBits(4, 4);
      const cl = new Array<number>(19).fill(0);
      for (let i = 0; i < hclen; i++) cl[CLCIDX[i]!] = this.readBits(3, 0);
      const clTree = buildTree(cl);
      const lengths: number[] = [];
      while (lengths.length < hlit + hdist) {
        const sym = this.decodeSymbol(clTree);
        if (sym < 16) lengths.push(sym);
        else if (sym === 16) {
          const fill = lengths.at(-1)!;
          for (let n = this.readBits(2, 3); n > 0; n--) lengths.push(fill);
        } else if (sym === 17) for (let n = this.readBits(3, 3); n > 0; n--) lengths.push(0);
        else for (let n = this.readBits(7, 11); n > 0; n--) lengths.push(0);
      }
      this.lt = buildTree(lengths.slice(0, hlit));
      this.dt = buildTree(lengths.slice(hlit));
    } else if (this.btype !== 0) throw new Error('bad block type');
  }

  private storedByte(): 'ok' | 'done' {
    if (this.curlen === 0) {
      const length = this.getByte() + 256 * this.getByte();
      const inverse = this.getByte() + 256 * this.getByte();
      if (length !== (~inverse & 0xffff)) throw new Error('bad stored length');
      this.curlen = length + 1;
      this.bitcount = 0;
    }
    if (--this.curlen === 0) return 'done';
    this.output.push(this.getByte());
    return 'ok';
  }

  private dataByte(): 'ok' | 'done' {
    if (this.curlen === 0) {
      const sym = this.decodeSymbol(this.lt);
      if (sym < 256) {
        this.output.push(sym);
        return 'ok';
      }
      if (sym === 256) return 'done';
      const s = sym - 257;
      this.curlen = this.readBits(LENGTH_BITS[s]!, LENGTH_BASE[s]!);
      const dist = this.decodeSymbol(this.dt);
      const offs = this.readBits(DIST_BITS[dist]!, DIST_BASE[dist]!);
      if (offs > this.windowSize) throw new Error(`distance ${offs} is beyond the ${this.windowSize}-byte window (UZLIB_DICT_ERROR)`);
      if (offs > this.output.length) throw new Error('distance before the start of the stream');
      this.lzOff = this.output.length - offs;
    }
    this.output.push(this.output[this.lzOff++]!);
    this.curlen--;
    return 'ok';
  }
}
