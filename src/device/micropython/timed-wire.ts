/**
 * The console's wire in board-faithful mode, in a SharedArrayBuffer: the
 * main thread puts the host's bytes on it at once, each run stamped with the
 * time its last byte reaches the board; the interpreter's thread moves the
 * bytes that have arrived into its stdin ring whenever it looks at stdin,
 * as the board's UART interrupt does the moment they arrive. Nothing takes
 * bytes out of the ring between two looks, so doing the moves late gives
 * the same ring, and the same losses, as doing them on time. And the host's
 * event loop (busy compressing, say) cannot hold bytes back and then flood
 * the ring: they arrive when the wire says.
 *
 * Times are absolute milliseconds (performance.timeOrigin + now()), the
 * same in every thread. Layout: Int32 header, Float64 arrival times and
 * Int32 end positions of the runs (a ring of records), then the bytes.
 */
import type { StdinRing } from './stdin-ring.js';

const enum Word {
  ReadPosition = 0,
  WritePosition = 1,
  RecordRead = 2,
  RecordWrite = 3,
  Limit = 4,
  DropOverflow = 5,
  Dropped = 6,
  WakeTickMs = 7,
}
const HEADER_WORDS = 8;
const RECORDS = 4096;
const DATA_BYTES = 256 * 1024;

export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}

export class TimedWire {
  readonly buffer: SharedArrayBuffer;
  private readonly words: Int32Array;
  private readonly due: Float64Array;
  private readonly ends: Int32Array;
  private readonly data: Uint8Array;

  static allocate(): TimedWire {
    return new TimedWire(new SharedArrayBuffer(HEADER_WORDS * 4 + RECORDS * 8 + RECORDS * 4 + DATA_BYTES));
  }

  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.words = new Int32Array(buffer, 0, HEADER_WORDS);
    this.due = new Float64Array(buffer, HEADER_WORDS * 4, RECORDS);
    this.ends = new Int32Array(buffer, HEADER_WORDS * 4 + RECORDS * 8, RECORDS);
    this.data = new Uint8Array(buffer, HEADER_WORDS * 4 + RECORDS * 12, DATA_BYTES);
  }

  /**
   * Main thread: the ring's size, what becomes of bytes that find it full,
   * and the tick at which a program waiting for input wakes (0: the bytes'
   * arrival wakes it; see main-task.ts).
   */
  configure(limit: number, dropOverflow: boolean, wakeTickMs = 0): void {
    Atomics.store(this.words, Word.Limit, limit);
    Atomics.store(this.words, Word.DropOverflow, dropOverflow ? 1 : 0);
    Atomics.store(this.words, Word.WakeTickMs, wakeTickMs);
  }

  /** The tick of a waiting program's wake-ups, ms; 0 when arriving bytes wake it. */
  get wakeTickMs(): number {
    return Atomics.load(this.words, Word.WakeTickMs);
  }

  /** Bytes dropped on a full ring so far. */
  get dropped(): number {
    return Atomics.load(this.words, Word.Dropped);
  }

  /** Main thread: puts as many bytes as the wire holds, arriving at `dueAt`; returns how many. */
  push(bytes: Uint8Array, dueAt: number): number {
    const write = Atomics.load(this.words, Word.WritePosition) >>> 0;
    const read = Atomics.load(this.words, Word.ReadPosition) >>> 0;
    const recordWrite = Atomics.load(this.words, Word.RecordWrite) >>> 0;
    const recordRead = Atomics.load(this.words, Word.RecordRead) >>> 0;
    const count = Math.min(bytes.length, DATA_BYTES - ((write - read) >>> 0));
    if (count === 0 || recordWrite - recordRead >= RECORDS) return 0;
    for (let i = 0; i < count; i++) this.data[(write + i) % DATA_BYTES] = bytes[i]!;
    this.due[recordWrite % RECORDS] = dueAt;
    this.ends[recordWrite % RECORDS] = (write + count) | 0;
    Atomics.store(this.words, Word.WritePosition, (write + count) | 0);
    Atomics.store(this.words, Word.RecordWrite, (recordWrite + 1) | 0);
    return count;
  }

  /**
   * Interpreter thread: moves the bytes that have arrived by `now` into the
   * ring, dropping or leaving on the wire what does not fit. Returns when the
   * next bytes arrive (Infinity: none on the wire).
   */
  deliver(ring: StdinRing, now = wallClockMs()): number {
    const limit = Atomics.load(this.words, Word.Limit);
    const drop = Atomics.load(this.words, Word.DropOverflow) === 1;
    for (;;) {
      const recordRead = Atomics.load(this.words, Word.RecordRead) >>> 0;
      if (recordRead === Atomics.load(this.words, Word.RecordWrite) >>> 0) return Infinity;
      const dueAt = this.due[recordRead % RECORDS]!;
      if (dueAt > now) return dueAt;
      const read = Atomics.load(this.words, Word.ReadPosition) >>> 0;
      const end = this.ends[recordRead % RECORDS]! >>> 0;
      const run = this.take(read, (end - read) >>> 0);
      const taken = ring.write(run, limit);
      if (taken < run.length && !drop) {
        Atomics.store(this.words, Word.ReadPosition, (read + taken) | 0);
        return now; // the ring is full: the rest waits on the wire (back-pressure)
      }
      Atomics.add(this.words, Word.Dropped, run.length - taken);
      Atomics.store(this.words, Word.ReadPosition, end | 0);
      Atomics.store(this.words, Word.RecordRead, (recordRead + 1) | 0);
    }
  }

  /** Everything still on the wire, arrived or not, oldest first (when the program ends, the REPL reads on). */
  takeAll(): Uint8Array {
    const read = Atomics.load(this.words, Word.ReadPosition) >>> 0;
    const write = Atomics.load(this.words, Word.WritePosition) >>> 0;
    const all = this.take(read, (write - read) >>> 0);
    Atomics.store(this.words, Word.ReadPosition, write | 0);
    Atomics.store(this.words, Word.RecordRead, Atomics.load(this.words, Word.RecordWrite));
    return all;
  }

  private take(from: number, count: number): Uint8Array {
    const out = new Uint8Array(count);
    for (let i = 0; i < count; i++) out[i] = this.data[(from + i) % DATA_BYTES]!;
    return out;
  }
}
