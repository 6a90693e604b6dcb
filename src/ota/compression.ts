/**
 * Raw deflate (RFC 1951) for OTA transfers, written for the agent's decoder:
 * MicroPython's `deflate.DeflateIO(stream, deflate.RAW, wbits)`, which is
 * uzlib. Pure TypeScript (no Node imports), so the browser page can use it.
 *
 * One run of consecutive 4 KiB flash blocks is one deflate stream, cut into
 * one *piece* per block: piece k holds exactly the bytes the decoder must
 * read to produce block k, given pieces 0..k-1. uzlib reads its input one
 * byte at a time and only when it needs a bit (lib/uzlib/tinflate.c,
 * `tinf_getbit`), and `readinto(4096)` stops as soon as the 4096th byte is
 * out, so a piece ends with the byte that holds the last bit of the symbol
 * producing the block's last byte. The agent checks that the decoder took
 * every byte of every piece, no more, no less.
 *
 * Why a custom encoder and not zlib: zlib cannot say where a block's last
 * symbol ends (a Z_SYNC_FLUSH per block costs ~0.5% and restarts the Huffman
 * tables), and an optimal parse (as zopfli does: shortest path over all
 * matches under an iterated cost model) with block splitting at 4 KiB
 * boundaries is ~4% smaller than `zlib -9` on ESP32 firmware.
 *
 * The distance limit is 2^wbits: uzlib's window is a ring of exactly that
 * size and refuses larger offsets (UZLIB_DICT_ERROR). The decoder needs
 * 2^wbits bytes of RAM; `windowBitsForMemory` picks what a board can spare.
 */

export const MIN_WINDOW_BITS = 9;
export const MAX_WINDOW_BITS = 15;
export const FLASH_BLOCK_SIZE = 4096;

export interface BlockDeflateOptions {
  /** log2 of the decoder's window (9–15, default 15 = 32 KiB). */
  readonly windowBits?: number;
  /** Bytes per piece (default 4096, the flash block). */
  readonly blockSize?: number;
  /**
   * Blocks compressed per call of `next()` (default 4: a few ms each, so a
   * caller that yields between calls keeps its event loop, and a link it
   * feeds, moving; 16 would save 0.1% of the size on the v1.23.0 image).
   */
  readonly segmentBlocks?: number;
  /** Cost-model iterations of the optimal parse (default 2; 0 = one parse with fixed-code costs). */
  readonly iterations?: number;
  /** Hash-chain candidates examined per position (default 128). */
  readonly maxChain?: number;
}

/**
 * The largest window a board with `freeBytes` of heap can give the decoder:
 * at most a third of the free heap (measured by the agent after it allocated
 * its 12 KiB of buffers; the decoder's trees and MicroPython's fragmentation
 * need the rest), 9 to 15. A generic ESP32 (~110 KB free) gets 15.
 */
export function windowBitsForMemory(freeBytes: number): number {
  let bits = MAX_WINDOW_BITS;
  while (bits > MIN_WINDOW_BITS && 1 << bits > freeBytes / 3) bits--;
  return bits;
}

// --- deflate tables -------------------------------------------------------

const LENGTH_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LENGTH_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE = [
  1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
const CODE_LENGTH_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
const LITLEN_SYMBOLS = 286;
const DIST_SYMBOLS = 30;
const END_OF_BLOCK = 256;
const MAX_MATCH = 258;
const MIN_MATCH = 3;

/** Length 3..258 → length code index 0..28. */
const LENGTH_CODE = new Uint8Array(MAX_MATCH + 1);
for (let code = 0; code < 29; code++) {
  const top = code === 28 ? MAX_MATCH : LENGTH_BASE[code + 1]! - 1;
  for (let length = LENGTH_BASE[code]!; length <= top; length++) LENGTH_CODE[length] = code;
}
LENGTH_CODE[MAX_MATCH] = 28;

/** Distance 1..32768 → distance code 0..29. */
const DIST_CODE = new Uint8Array(32769);
for (let code = 0; code < 30; code++) {
  const top = code === 29 ? 32768 : DIST_BASE[code + 1]! - 1;
  for (let distance = DIST_BASE[code]!; distance <= top; distance++) DIST_CODE[distance] = code;
}

const FIXED_LITLEN_LENGTHS = new Uint8Array(288).map((_, symbol) => (symbol < 144 ? 8 : symbol < 256 ? 9 : symbol < 280 ? 7 : 8));
const FIXED_DIST_LENGTHS = new Uint8Array(30).fill(5);

// --- bit output -------------------------------------------------------------

class BitWriter {
  private buffer = new Uint8Array(1 << 16);
  /** Complete bytes written. */
  length = 0;
  private bits = 0;
  private count = 0;

  get bitPosition(): number {
    return this.length * 8 + this.count;
  }

  /** Writes the low `count` bits of `value` (count ≤ 24), least significant first. */
  write(value: number, count: number): void {
    this.bits |= value << this.count;
    this.count += count;
    while (this.count >= 8) {
      this.pushByte(this.bits & 0xff);
      this.bits >>>= 8;
      this.count -= 8;
    }
  }

  alignToByte(): void {
    if (this.count > 0) this.write(0, 8 - this.count);
  }

  pushByte(byte: number): void {
    if (this.length === this.buffer.length) {
      const grown = new Uint8Array(this.buffer.length * 2);
      grown.set(this.buffer);
      this.buffer = grown;
    }
    this.buffer[this.length++] = byte;
  }

  slice(start: number, end: number): Uint8Array {
    return this.buffer.slice(start, end);
  }
}

// --- Huffman codes -----------------------------------------------------------

/** Code lengths (≤ maxBits) for the frequencies: Huffman's algorithm, then zlib's overflow fix (trees.c gen_bitlen). */
export function huffmanLengths(freqs: ArrayLike<number>, maxBits: number): Uint8Array {
  const n = freqs.length;
  const lengths = new Uint8Array(n);
  let m = 0;
  for (let s = 0; s < n; s++) if (freqs[s]! > 0) m++;
  if (m === 0) return lengths;
  // Symbols by ascending frequency (ties by symbol), through one numeric typed-array sort.
  const keys = new Float64Array(m);
  for (let s = 0, k = 0; s < n; s++) if (freqs[s]! > 0) keys[k++] = freqs[s]! * 1024 + s;
  keys.sort();
  const used = new Int32Array(m);
  for (let k = 0; k < m; k++) used[k] = keys[k]! % 1024;
  if (m === 1) {
    // A complete code of two one-bit codes (zlib refuses an incomplete code-length code).
    lengths[used[0]!] = 1;
    lengths[used[0] === 0 ? 1 : 0] = 1;
    return lengths;
  }
  // Two-queue Huffman: leaves in order, internal nodes appended in order of creation (non-decreasing weight).
  const weight = new Float64Array(2 * m);
  const parent = new Int32Array(2 * m).fill(-1);
  for (let i = 0; i < m; i++) weight[i] = freqs[used[i]!]!;
  let leaf = 0;
  let node = m;
  let next = m;
  const take = (): number => (leaf < m && (node >= next || weight[leaf]! <= weight[node]!) ? leaf++ : node++);
  while (next < 2 * m - 1) {
    const a = take();
    const b = take();
    weight[next] = weight[a]! + weight[b]!;
    parent[a] = next;
    parent[b] = next;
    next++;
  }
  const depth = new Int32Array(2 * m - 1);
  for (let i = 2 * m - 3; i >= 0; i--) depth[i] = depth[parent[i]!]! + 1;
  // Clamp to maxBits, then restore Kraft's equality (a complete code) in units of 2^-maxBits.
  const count = new Int32Array(maxBits + 1);
  for (let i = 0; i < m; i++) count[Math.min(depth[i]!, maxBits)]!++;
  const target = 2 ** maxBits;
  let kraft = 0;
  for (let bits = 1; bits <= maxBits; bits++) kraft += count[bits]! * 2 ** (maxBits - bits);
  while (kraft > target) {
    // Push the deepest leaf above maxBits one level down: the smallest step that lowers the sum.
    let bits = maxBits - 1;
    while (count[bits] === 0) bits--;
    count[bits]!--;
    count[bits + 1]!++;
    kraft -= 2 ** (maxBits - bits - 1);
  }
  for (let bits = maxBits; bits >= 2 && kraft < target; ) {
    if (count[bits]! > 0 && kraft + 2 ** (maxBits - bits) <= target) {
      count[bits]!--;
      count[bits - 1]!++;
      kraft += 2 ** (maxBits - bits);
    } else bits--;
  }
  // Longest codes to the rarest symbols.
  let i = 0;
  for (let bits = maxBits; bits >= 1; bits--) {
    for (let k = count[bits]!; k > 0; k--) lengths[used[i++]!] = bits;
  }
  return lengths;
}

/** Canonical codes, bit-reversed for LSB-first output. */
function canonicalCodes(lengths: Uint8Array): Uint16Array {
  const count = new Uint16Array(16);
  for (const length of lengths) count[length]!++;
  count[0] = 0;
  const nextCode = new Uint16Array(16);
  let code = 0;
  for (let bits = 1; bits < 16; bits++) {
    code = (code + count[bits - 1]!) << 1;
    nextCode[bits] = code;
  }
  const codes = new Uint16Array(lengths.length);
  for (let s = 0; s < lengths.length; s++) {
    const length = lengths[s]!;
    if (length === 0) continue;
    let value = nextCode[length]!++;
    let reversed = 0;
    for (let b = 0; b < length; b++) {
      reversed = (reversed << 1) | (value & 1);
      value >>= 1;
    }
    codes[s] = reversed;
  }
  return codes;
}

interface DynamicHeader {
  litlenLengths: Uint8Array;
  distLengths: Uint8Array;
  hlit: number;
  hdist: number;
  /** Run-length coded code lengths: symbol, extra value pairs. */
  rle: number[];
  codeLengthLengths: Uint8Array;
  hclen: number;
  bits: number;
}

function dynamicHeader(litlenFreq: ArrayLike<number>, distFreq: ArrayLike<number>): DynamicHeader {
  const litlenLengths = huffmanLengths(litlenFreq, 15);
  let distLengths = huffmanLengths(distFreq, 15);
  // Give the decoder a complete distance code: two codes of one bit when fewer than two are used.
  let usedDist = 0;
  for (const length of distLengths) if (length > 0) usedDist++;
  if (usedDist < 2) {
    distLengths = new Uint8Array(DIST_SYMBOLS);
    let first = -1;
    for (let s = 0; s < DIST_SYMBOLS; s++) if (distFreq[s]! > 0) first = s;
    const a = first >= 0 ? first : 0;
    distLengths[a] = 1;
    distLengths[a === 0 ? 1 : 0] = 1;
  }
  let hlit = LITLEN_SYMBOLS;
  while (hlit > 257 && litlenLengths[hlit - 1] === 0) hlit--;
  let hdist = DIST_SYMBOLS;
  while (hdist > 1 && distLengths[hdist - 1] === 0) hdist--;
  const all = new Uint8Array(hlit + hdist);
  all.set(litlenLengths.subarray(0, hlit));
  all.set(distLengths.subarray(0, hdist), hlit);
  const rle: number[] = [];
  for (let i = 0; i < all.length; ) {
    const value = all[i]!;
    let run = 1;
    while (i + run < all.length && all[i + run] === value) run++;
    i += run;
    if (value === 0) {
      while (run >= 11) {
        const n = Math.min(run, 138);
        rle.push(18, n - 11);
        run -= n;
      }
      if (run >= 3) {
        rle.push(17, run - 3);
        run = 0;
      }
      while (run-- > 0) rle.push(0, 0);
    } else {
      rle.push(value, 0);
      run--;
      while (run >= 3) {
        const n = Math.min(run, 6);
        rle.push(16, n - 3);
        run -= n;
      }
      while (run-- > 0) rle.push(value, 0);
    }
  }
  const clFreq = new Uint32Array(19);
  for (let i = 0; i < rle.length; i += 2) clFreq[rle[i]!]!++;
  const codeLengthLengths = huffmanLengths(clFreq, 7);
  let hclen = 19;
  while (hclen > 4 && codeLengthLengths[CODE_LENGTH_ORDER[hclen - 1]!] === 0) hclen--;
  let bits = 5 + 5 + 4 + 3 * hclen;
  for (let i = 0; i < rle.length; i += 2) {
    const symbol = rle[i]!;
    bits += codeLengthLengths[symbol]! + (symbol === 16 ? 2 : symbol === 17 ? 3 : symbol === 18 ? 7 : 0);
  }
  return { litlenLengths, distLengths, hlit, hdist, rle, codeLengthLengths, hclen, bits };
}

// --- the encoder ---------------------------------------------------------------

const HASH_BITS = 16;

/** Symbols of one segment: literal (dist 0, value = byte) or match (value = length, dist). */
interface Symbols {
  count: number;
  value: Uint16Array;
  dist: Uint16Array;
}

/**
 * Compresses one run of blocks (all of `data`) as one raw deflate stream and
 * hands out one piece per block. `next()` compresses the next segment and
 * returns the pieces it completed; call it until `done`.
 */
export class BlockDeflater {
  readonly blockSize: number;
  readonly blockCount: number;
  readonly windowBits: number;
  private readonly maxDistance: number;
  private readonly segmentSize: number;
  private readonly iterations: number;
  private readonly maxChain: number;
  private readonly head = new Int32Array(1 << HASH_BITS).fill(-1);
  private readonly prev: Int32Array;
  private readonly writer = new BitWriter();
  /** Bit position after the symbol that produced the last byte of each block. */
  private readonly cutBits: number[] = [];
  private position = 0;
  private inserted = 0;
  private piecesOut = 0;
  private finished = false;

  constructor(
    private readonly data: Uint8Array,
    options: BlockDeflateOptions = {},
  ) {
    this.windowBits = options.windowBits ?? MAX_WINDOW_BITS;
    if (!Number.isInteger(this.windowBits) || this.windowBits < MIN_WINDOW_BITS || this.windowBits > MAX_WINDOW_BITS) {
      throw new RangeError(`windowBits must be ${MIN_WINDOW_BITS}..${MAX_WINDOW_BITS}, not ${this.windowBits}`);
    }
    this.blockSize = options.blockSize ?? FLASH_BLOCK_SIZE;
    if (data.length === 0) throw new RangeError('nothing to compress');
    this.blockCount = Math.ceil(data.length / this.blockSize);
    this.maxDistance = 1 << this.windowBits;
    this.segmentSize = this.blockSize * (options.segmentBlocks ?? 4);
    this.iterations = options.iterations ?? 2;
    this.maxChain = options.maxChain ?? 128;
    this.prev = new Int32Array(data.length);
  }

  get done(): boolean {
    return this.piecesOut === this.blockCount;
  }

  next(): Uint8Array[] {
    if (this.done) return [];
    if (this.position < this.data.length) {
      const end = Math.min(this.data.length, this.position + this.segmentSize);
      this.compressSegment(this.position, end, end === this.data.length);
      this.position = end;
    }
    return this.takePieces();
  }

  /** Every piece, at once. */
  all(): Uint8Array[] {
    const pieces: Uint8Array[] = [];
    while (!this.done) pieces.push(...this.next());
    return pieces;
  }

  private takePieces(): Uint8Array[] {
    const pieces: Uint8Array[] = [];
    while (this.piecesOut < this.cutBits.length) {
      const k = this.piecesOut;
      const last = k === this.blockCount - 1;
      const start = k === 0 ? 0 : Math.ceil(this.cutBits[k - 1]! / 8);
      const end = last ? this.writer.length : Math.ceil(this.cutBits[k]! / 8);
      if (last ? !this.finished : end > this.writer.length) break;
      pieces.push(this.writer.slice(start, end));
      this.piecesOut++;
    }
    return pieces;
  }

  private compressSegment(start: number, end: number, final: boolean): void {
    const matches = this.findMatches(start, end);
    let best: Symbols | undefined;
    let bestBits = Infinity;
    let costs = fixedCosts();
    for (let iteration = 0; iteration <= this.iterations; iteration++) {
      const symbols = this.optimalParse(start, end, matches, costs);
      // Judged as one block: block splitting (planBlocks) runs once, on the parse kept.
      const bits = this.iterations === 0 ? 0 : symbolBits(symbols);
      if (bits < bestBits) {
        best = symbols;
        bestBits = bits;
      }
      if (iteration < this.iterations) costs = statisticCosts(symbols);
    }
    this.emit(start, best!, final);
  }

  /** For each position of [start, end): the smallest distance for every match length, as (length, distance) steps. */
  private findMatches(start: number, end: number): { offsets: Int32Array; lengths: Uint16Array; distances: Uint16Array } {
    const data = this.data;
    const head = this.head;
    const prev = this.prev;
    const offsets = new Int32Array(end - start + 1);
    let lengths = new Uint16Array(4 * (end - start) + 16);
    let distances = new Uint16Array(lengths.length);
    let count = 0;
    const hashAt = (i: number): number => (Math.imul(data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16), 0x9e3779b1) >>> (32 - HASH_BITS));
    // Positions before the segment that were not inserted yet (the tail of the previous one).
    for (; this.inserted < start && this.inserted + 2 < data.length; this.inserted++) {
      const h = hashAt(this.inserted);
      prev[this.inserted] = head[h]!;
      head[h] = this.inserted;
    }
    for (let i = start; i < end; i++) {
      offsets[i - start] = count;
      const maxLength = Math.min(MAX_MATCH, end - i);
      if (maxLength >= MIN_MATCH) {
        const h = hashAt(i);
        let candidate = head[h]!;
        let best = MIN_MATCH - 1;
        let chain = this.maxChain;
        while (candidate >= 0 && i - candidate <= this.maxDistance && chain-- > 0) {
          if (data[candidate + best] === data[i + best] && data[candidate] === data[i]) {
            let length = 0;
            while (length < maxLength && data[candidate + length] === data[i + length]) length++;
            if (length > best) {
              if (count === lengths.length) {
                const grownLengths = new Uint16Array(lengths.length * 2);
                grownLengths.set(lengths);
                lengths = grownLengths;
                const grownDistances = new Uint16Array(distances.length * 2);
                grownDistances.set(distances);
                distances = grownDistances;
              }
              lengths[count] = length;
              distances[count] = i - candidate;
              count++;
              best = length;
              if (length >= maxLength) break;
            }
          }
          candidate = prev[candidate]!;
        }
      }
      if (i + 2 < data.length && i >= this.inserted) {
        const h = hashAt(i);
        prev[i] = head[h]!;
        head[h] = i;
        this.inserted = i + 1;
      }
    }
    offsets[end - start] = count;
    return { offsets, lengths, distances };
  }

  /** Shortest path through [start, end) under the cost model (bits per literal, per length and per distance). */
  private optimalParse(
    start: number,
    end: number,
    matches: { offsets: Int32Array; lengths: Uint16Array; distances: Uint16Array },
    costs: CostModel,
  ): Symbols {
    const n = end - start;
    const data = this.data;
    const cost = new Float64Array(n + 1).fill(Infinity);
    const stepLength = new Uint16Array(n + 1);
    const stepDistance = new Uint16Array(n + 1);
    cost[0] = 0;
    const { literal, length: lengthCost, distanceCode } = costs;
    for (let i = 0; i < n; i++) {
      const here = cost[i]!;
      const viaLiteral = here + literal[data[start + i]!]!;
      if (viaLiteral < cost[i + 1]!) {
        cost[i + 1] = viaLiteral;
        stepLength[i + 1] = 1;
        stepDistance[i + 1] = 0;
      }
      let previousLength = MIN_MATCH - 1;
      for (let m = matches.offsets[i]!, mEnd = matches.offsets[i + 1]!; m < mEnd; m++) {
        const top = matches.lengths[m]!;
        const distance = matches.distances[m]!;
        const code = DIST_CODE[distance]!;
        const base = here + distanceCode[code]! + DIST_EXTRA[code]!;
        for (let l = previousLength + 1; l <= top; l++) {
          const c = base + lengthCost[l]!;
          if (c < cost[i + l]!) {
            cost[i + l] = c;
            stepLength[i + l] = l;
            stepDistance[i + l] = distance;
          }
        }
        previousLength = top;
      }
    }
    let symbolCount = 0;
    for (let at = n; at > 0; at -= stepLength[at]!) symbolCount++;
    const value = new Uint16Array(symbolCount);
    const dist = new Uint16Array(symbolCount);
    let k = symbolCount;
    for (let at = n; at > 0; ) {
      const length = stepLength[at]!;
      k--;
      if (stepDistance[at] === 0) {
        value[k] = data[start + at - 1]!;
        dist[k] = 0;
      } else {
        value[k] = length;
        dist[k] = stepDistance[at]!;
      }
      at -= length;
    }
    return { count: symbolCount, value, dist };
  }

  /** Where the deflate blocks of a segment end (symbol indexes at 4 KiB boundaries), chosen by exact cost. */
  private planBlocks(start: number, symbols: Symbols): BlockPlan {
    // Split the symbols into parts, one per flash block they start in.
    const parts: { from: number; to: number; litlen: Uint32Array; dist: Uint32Array; extra: number; bytes: number }[] = [];
    let position = start;
    let from = 0;
    let litlen = new Uint32Array(LITLEN_SYMBOLS);
    let dist = new Uint32Array(DIST_SYMBOLS);
    let extra = 0;
    let partEnd = (Math.floor(start / this.blockSize) + 1) * this.blockSize;
    const close = (to: number, endPosition: number, startPosition: number): void => {
      parts.push({ from, to, litlen, dist, extra, bytes: endPosition - startPosition });
      from = to;
      litlen = new Uint32Array(LITLEN_SYMBOLS);
      dist = new Uint32Array(DIST_SYMBOLS);
      extra = 0;
    };
    let partStart = start;
    for (let s = 0; s < symbols.count; s++) {
      if (position >= partEnd) {
        close(s, position, partStart);
        partStart = position;
        partEnd = (Math.floor(position / this.blockSize) + 1) * this.blockSize;
      }
      const d = symbols.dist[s]!;
      if (d === 0) {
        litlen[symbols.value[s]!]!++;
        position++;
      } else {
        const length = symbols.value[s]!;
        const lc = LENGTH_CODE[length]!;
        const dc = DIST_CODE[d]!;
        litlen[257 + lc]!++;
        dist[dc]!++;
        extra += LENGTH_EXTRA[lc]! + DIST_EXTRA[dc]!;
        position += length;
      }
    }
    close(symbols.count, position, partStart);
    // best[j]: cheapest encoding of parts [0, j); split[j]: where its last block starts.
    const p = parts.length;
    const best = new Float64Array(p + 1).fill(Infinity);
    const split = new Int32Array(p + 1);
    best[0] = 0;
    const litlenSum = new Uint32Array(LITLEN_SYMBOLS);
    const distSum = new Uint32Array(DIST_SYMBOLS);
    for (let i = 0; i < p; i++) {
      litlenSum.fill(0);
      distSum.fill(0);
      let extraSum = 0;
      let bytes = 0;
      for (let j = i + 1; j <= p; j++) {
        const part = parts[j - 1]!;
        for (let s = 0; s < LITLEN_SYMBOLS; s++) litlenSum[s]! += part.litlen[s]!;
        for (let s = 0; s < DIST_SYMBOLS; s++) distSum[s]! += part.dist[s]!;
        extraSum += part.extra;
        bytes += part.bytes;
        const bits = blockBits(litlenSum, distSum, extraSum, bytes).bits;
        if (best[i]! + bits < best[j]!) {
          best[j] = best[i]! + bits;
          split[j] = i;
        }
      }
    }
    const boundaries: number[] = [];
    for (let j = p; j > 0; j = split[j]!) boundaries.push(parts[j - 1]!.to);
    boundaries.reverse();
    return { bits: best[p]!, boundaries };
  }

  private emit(start: number, symbols: Symbols, final: boolean): void {
    const plan = this.planBlocks(start, symbols);
    const data = this.data;
    const w = this.writer;
    let position = start;
    let from = 0;
    let nextCut = (Math.floor(start / this.blockSize) + 1) * this.blockSize;
    const noteCuts = (after: number): void => {
      // Every block boundary reached by the symbol just written ends a piece here.
      while (nextCut <= after) {
        this.cutBits.push(w.bitPosition);
        nextCut += this.blockSize;
      }
      if (after === data.length && this.cutBits.length < this.blockCount) this.cutBits.push(w.bitPosition);
    };
    plan.boundaries.forEach((to, index) => {
      const last = final && index === plan.boundaries.length - 1;
      const { litlen, dist, extra, bytes } = symbolHistogram(symbols, from, to);
      const choice = blockBits(litlen, dist, extra, bytes);
      if (choice.kind === 'stored') {
        // Stored blocks of at most 65535 bytes, byte by byte so that cuts fall on the right byte.
        let remaining = bytes;
        while (remaining > 0 || bytes === 0) {
          const n = Math.min(remaining, 0xffff);
          const lastStored = last && n === remaining;
          w.write(lastStored ? 1 : 0, 3);
          w.alignToByte();
          w.write(n, 16);
          w.write(~n & 0xffff, 16);
          for (let k = 0; k < n; k++) {
            w.pushByte(data[position]!);
            position++;
            noteCuts(position);
          }
          remaining -= n;
          if (bytes === 0) break;
        }
      } else {
        let litlenLengths: Uint8Array;
        let distLengths: Uint8Array;
        w.write(last ? 1 : 0, 1);
        if (choice.kind === 'fixed') {
          w.write(1, 2);
          litlenLengths = FIXED_LITLEN_LENGTHS;
          distLengths = FIXED_DIST_LENGTHS;
        } else {
          w.write(2, 2);
          const header = choice.header!;
          litlenLengths = header.litlenLengths;
          distLengths = header.distLengths;
          w.write(header.hlit - 257, 5);
          w.write(header.hdist - 1, 5);
          w.write(header.hclen - 4, 4);
          for (let i = 0; i < header.hclen; i++) w.write(header.codeLengthLengths[CODE_LENGTH_ORDER[i]!]!, 3);
          const clCodes = canonicalCodes(header.codeLengthLengths);
          for (let i = 0; i < header.rle.length; i += 2) {
            const symbol = header.rle[i]!;
            w.write(clCodes[symbol]!, header.codeLengthLengths[symbol]!);
            if (symbol === 16) w.write(header.rle[i + 1]!, 2);
            else if (symbol === 17) w.write(header.rle[i + 1]!, 3);
            else if (symbol === 18) w.write(header.rle[i + 1]!, 7);
          }
        }
        const litlenCodes = canonicalCodes(litlenLengths);
        const distCodes = canonicalCodes(distLengths);
        for (let s = from; s < to; s++) {
          const d = symbols.dist[s]!;
          if (d === 0) {
            const byte = symbols.value[s]!;
            w.write(litlenCodes[byte]!, litlenLengths[byte]!);
            position++;
          } else {
            const length = symbols.value[s]!;
            const lc = LENGTH_CODE[length]!;
            w.write(litlenCodes[257 + lc]!, litlenLengths[257 + lc]!);
            if (LENGTH_EXTRA[lc]! > 0) w.write(length - LENGTH_BASE[lc]!, LENGTH_EXTRA[lc]!);
            const dc = DIST_CODE[d]!;
            w.write(distCodes[dc]!, distLengths[dc]!);
            if (DIST_EXTRA[dc]! > 0) w.write(d - DIST_BASE[dc]!, DIST_EXTRA[dc]!);
            position += length;
          }
          noteCuts(position);
        }
        w.write(litlenCodes[END_OF_BLOCK]!, litlenLengths[END_OF_BLOCK]!);
      }
      from = to;
    });
    if (final) {
      w.alignToByte();
      this.finished = true;
    }
  }
}

/** Pieces of `data` compressed as one run (see BlockDeflater). */
export function deflateBlocks(data: Uint8Array, options: BlockDeflateOptions = {}): Uint8Array[] {
  return new BlockDeflater(data, options).all();
}

function symbolBits(symbols: Symbols): number {
  const { litlen, dist, extra, bytes } = symbolHistogram(symbols, 0, symbols.count);
  return blockBits(litlen, dist, extra, bytes).bits;
}

/** Symbol frequencies of symbols [from, to), the extra bits they need, and the bytes they produce. */
function symbolHistogram(symbols: Symbols, from: number, to: number) {
  const litlen = new Uint32Array(LITLEN_SYMBOLS);
  const dist = new Uint32Array(DIST_SYMBOLS);
  let extra = 0;
  let bytes = 0;
  for (let s = from; s < to; s++) {
    const d = symbols.dist[s]!;
    if (d === 0) {
      litlen[symbols.value[s]!]!++;
      bytes++;
    } else {
      const lc = LENGTH_CODE[symbols.value[s]!]!;
      const dc = DIST_CODE[d]!;
      litlen[257 + lc]!++;
      dist[dc]!++;
      extra += LENGTH_EXTRA[lc]! + DIST_EXTRA[dc]!;
      bytes += symbols.value[s]!;
    }
  }
  return { litlen, dist, extra, bytes };
}

interface BlockPlan {
  bits: number;
  /** Symbol index (exclusive) where each deflate block ends. */
  boundaries: number[];
}

interface BlockChoice {
  kind: 'stored' | 'fixed' | 'dynamic';
  bits: number;
  header?: DynamicHeader;
}

function blockBits(litlen: Uint32Array, dist: Uint32Array, extra: number, bytes: number): BlockChoice {
  const withEnd = litlen.slice();
  withEnd[END_OF_BLOCK] = 1;
  const header = dynamicHeader(withEnd, dist);
  let dynamic = 3 + header.bits + extra;
  let fixed = 3 + extra;
  for (let s = 0; s < LITLEN_SYMBOLS; s++) {
    dynamic += withEnd[s]! * header.litlenLengths[s]!;
    fixed += withEnd[s]! * FIXED_LITLEN_LENGTHS[s]!;
  }
  for (let s = 0; s < DIST_SYMBOLS; s++) {
    dynamic += dist[s]! * header.distLengths[s]!;
    fixed += dist[s]! * 5;
  }
  // 3 header bits, up to 7 bits of alignment, LEN and NLEN per 65535 bytes.
  const stored = 8 * bytes + Math.max(1, Math.ceil(bytes / 0xffff)) * (3 + 7 + 32);
  if (stored < dynamic && stored < fixed) return { kind: 'stored', bits: stored };
  if (fixed <= dynamic) return { kind: 'fixed', bits: fixed };
  return { kind: 'dynamic', bits: dynamic, header };
}

interface CostModel {
  /** Bits of each literal byte. */
  literal: Float64Array;
  /** Bits of a match length (its symbol and extra bits), by length 0..258. */
  length: Float64Array;
  /** Bits of a distance code (without its extra bits). */
  distanceCode: Float64Array;
}

function costModel(litlenBits: (symbol: number) => number, distBits: (code: number) => number): CostModel {
  const literal = new Float64Array(256);
  for (let b = 0; b < 256; b++) literal[b] = litlenBits(b);
  const length = new Float64Array(MAX_MATCH + 1);
  for (let l = MIN_MATCH; l <= MAX_MATCH; l++) {
    const lc = LENGTH_CODE[l]!;
    length[l] = litlenBits(257 + lc) + LENGTH_EXTRA[lc]!;
  }
  const distanceCode = new Float64Array(DIST_SYMBOLS);
  for (let c = 0; c < DIST_SYMBOLS; c++) distanceCode[c] = distBits(c);
  return { literal, length, distanceCode };
}

function fixedCosts(): CostModel {
  return costModel(
    (symbol) => FIXED_LITLEN_LENGTHS[symbol]!,
    () => 5,
  );
}

/** Costs from the symbol statistics of a parse: -log2(p), a symbol never seen costing as if seen once. */
function statisticCosts(symbols: Symbols): CostModel {
  const litlen = new Float64Array(LITLEN_SYMBOLS);
  const dist = new Float64Array(DIST_SYMBOLS);
  for (let s = 0; s < symbols.count; s++) {
    const d = symbols.dist[s]!;
    if (d === 0) litlen[symbols.value[s]!]!++;
    else {
      litlen[257 + LENGTH_CODE[symbols.value[s]!]!]!++;
      dist[DIST_CODE[d]!]!++;
    }
  }
  litlen[END_OF_BLOCK] = 1;
  const bitsOf = (counts: Float64Array): Float64Array => {
    let total = 0;
    for (const c of counts) total += c;
    const logTotal = Math.log2(Math.max(total, 1));
    return counts.map((c) => (c > 0 ? logTotal - Math.log2(c) : logTotal + 1));
  };
  const litlenBits = bitsOf(litlen);
  const distBits = bitsOf(dist);
  return costModel(
    (symbol) => litlenBits[symbol]!,
    (code) => distBits[code]!,
  );
}
