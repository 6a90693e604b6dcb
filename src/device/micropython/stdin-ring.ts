/**
 * A single-producer, single-consumer byte ring in a SharedArrayBuffer: the
 * main thread writes the bytes a host types, the interpreter's worker thread
 * reads them. Pure data structure; the only blocking call is
 * `waitForSignal`, which only a worker thread may use.
 *
 * Layout: a 16-byte header of Int32 words, then `capacity` data bytes.
 * Read and write positions are free-running 32-bit counters, so a full ring
 * and an empty ring are told apart without wasting a slot; that needs a
 * power-of-two capacity.
 */

const READ_POSITION = 0;
const WRITE_POSITION = 1;
/** Bumped on every write and every `wake()`; readers sleep on it. */
const SIGNAL = 2;
/** Set by a producer that could not write everything; taken by the consumer. */
const WRITER_WAITING = 3;
const HEADER_BYTES = 16;

export class StdinRing {
  readonly buffer: SharedArrayBuffer;
  readonly capacity: number;
  private readonly words: Int32Array;
  private readonly data: Uint8Array;

  static allocate(capacity: number): StdinRing {
    if (!Number.isInteger(capacity) || capacity < 16 || (capacity & (capacity - 1)) !== 0 || capacity > 2 ** 30) {
      throw new RangeError(`stdin ring capacity must be a power of two between 16 and 2^30, not ${capacity}`);
    }
    return new StdinRing(new SharedArrayBuffer(HEADER_BYTES + capacity));
  }

  /** Attach to a ring allocated elsewhere (e.g. in another thread). */
  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.capacity = buffer.byteLength - HEADER_BYTES;
    this.words = new Int32Array(buffer, 0, HEADER_BYTES / 4);
    this.data = new Uint8Array(buffer, HEADER_BYTES, this.capacity);
  }

  /** Bytes written and not yet read. */
  get available(): number {
    return (Atomics.load(this.words, WRITE_POSITION) - Atomics.load(this.words, READ_POSITION)) >>> 0;
  }

  get free(): number {
    return this.capacity - this.available;
  }

  /** Producer side: copies as many bytes as fit (at most `limit` unread bytes in all), returns how many. */
  write(bytes: Uint8Array, limit = this.capacity): number {
    const writePosition = Atomics.load(this.words, WRITE_POSITION) >>> 0;
    const count = Math.max(0, Math.min(bytes.length, Math.min(limit, this.capacity) - this.available));
    if (count === 0) return 0;
    const start = writePosition % this.capacity;
    const firstPart = Math.min(count, this.capacity - start);
    this.data.set(bytes.subarray(0, firstPart), start);
    this.data.set(bytes.subarray(firstPart, count), 0);
    Atomics.store(this.words, WRITE_POSITION, (writePosition + count) | 0);
    this.wake();
    return count;
  }

  /** Consumer side: copies up to `into.length` bytes without blocking, returns how many. */
  read(into: Uint8Array): number {
    const readPosition = Atomics.load(this.words, READ_POSITION) >>> 0;
    const count = Math.min(into.length, this.available);
    if (count === 0) return 0;
    const start = readPosition % this.capacity;
    const firstPart = Math.min(count, this.capacity - start);
    into.set(this.data.subarray(start, start + firstPart), 0);
    into.set(this.data.subarray(0, count - firstPart), firstPart);
    Atomics.store(this.words, READ_POSITION, (readPosition + count) | 0);
    return count;
  }

  /** Drops everything not yet read (consumer side). */
  discard(): void {
    Atomics.store(this.words, READ_POSITION, Atomics.load(this.words, WRITE_POSITION));
  }

  /** The current signal value; pass it to `waitForSignal` after finding nothing to do. */
  get signal(): number {
    return Atomics.load(this.words, SIGNAL);
  }

  /** Wakes a consumer sleeping in `waitForSignal`, with or without new data. */
  wake(): void {
    Atomics.add(this.words, SIGNAL, 1);
    Atomics.notify(this.words, SIGNAL);
  }

  /**
   * Sleeps until the signal differs from `seen` or the timeout passes.
   * Returns false on timeout. Blocks the thread: workers only.
   */
  waitForSignal(seen: number, timeoutMs = Infinity): boolean {
    return Atomics.wait(this.words, SIGNAL, seen, timeoutMs) !== 'timed-out';
  }

  /** Producer: note that bytes are queued elsewhere, waiting for space. */
  markWriterWaiting(): void {
    Atomics.store(this.words, WRITER_WAITING, 1);
  }

  /** Consumer: true once after `markWriterWaiting`, so it can tell the producer to retry. */
  takeWriterWaiting(): boolean {
    return Atomics.exchange(this.words, WRITER_WAITING, 0) === 1;
  }
}
