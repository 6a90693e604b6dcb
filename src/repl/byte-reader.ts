import { TransportClosedError, type Transport } from '../transport/transport.js';
import { asciiBytes, indexOfBytes, showBytes } from './byte-text.js';
import type { Deadline } from './deadline.js';
import { ReplTimeoutError } from './errors.js';

/** A time limit of its own, or the remaining time of a Deadline shared with other reads. */
export type ReadOptions = ({ timeoutMs: number } | { deadline: Deadline }) & {
  /** Names what is awaited in a timeout message, e.g. 'the raw REPL prompt'; the pattern or byte count by default. */
  waitingFor?: string;
};

export type ReadUntilOptions = ReadOptions & {
  /** Gets the bytes before the pattern as they arrive, never a byte of the pattern itself. */
  onData?: (bytes: Uint8Array) => void;
};

interface PendingRead {
  /** Tries again with the bytes now buffered. */
  retry(): void;
  fail(error: Error): void;
}

/**
 * Buffers everything a Transport receives and lets one reader at a time wait
 * for a pattern or a byte count, with a deadline. Bytes are never lost: what
 * one read does not consume stays for the next.
 */
export class ByteReader {
  private buffer = new Uint8Array(4096);
  private start = 0;
  private end = 0;
  private receivedTotal = 0;
  private pending: PendingRead | undefined;
  private closedWith: { error: Error | undefined } | undefined;
  private readonly unsubscribes: Array<() => void>;

  constructor(private readonly transport: Transport) {
    this.unsubscribes = [
      transport.onData((chunk) => this.append(chunk)),
      transport.onClose((error) => this.linkClosed(error)),
    ];
  }

  /** Bytes received and not read yet. */
  get bufferedLength(): number {
    return this.end - this.start;
  }

  /** Resolves with everything up to and including the first occurrence of `pattern` (ASCII when a string). */
  readUntil(pattern: Uint8Array | string, options: ReadUntilOptions): Promise<Uint8Array> {
    const needle = typeof pattern === 'string' ? asciiBytes(pattern) : pattern;
    if (needle.length === 0) throw new RangeError('readUntil needs a pattern of at least one byte');
    let scanFrom = 0;
    let streamed = 0;
    const stream = (upTo: number): void => {
      if (options.onData && upTo > streamed) options.onData(this.buffer.slice(this.start + streamed, this.start + upTo));
      streamed = Math.max(streamed, upTo);
    };
    return this.wait(options, options.waitingFor ?? showBytes(needle), () => {
      const at = indexOfBytes(this.unread(), needle, scanFrom);
      if (at >= 0) {
        stream(at);
        return this.take(at + needle.length);
      }
      // The last pattern.length - 1 bytes may be the start of the pattern: hold them back.
      scanFrom = Math.max(0, this.bufferedLength - needle.length + 1);
      stream(scanFrom);
      return undefined;
    });
  }

  readExactly(count: number, options: ReadOptions): Promise<Uint8Array> {
    const waitingFor = options.waitingFor ?? `${count} byte${count === 1 ? '' : 's'}`;
    return this.wait(options, waitingFor, () => (this.bufferedLength >= count ? this.take(count) : undefined));
  }

  /** Everything received and not read yet, at once; waits for nothing (pyboard's "flush input"). */
  takeBuffered(): Uint8Array {
    return this.take(this.bufferedLength);
  }

  /** Waits until nothing has arrived for `quietMs` (at most `timeoutMs` in all), then discards and returns all unread bytes. */
  async drain(options: { quietMs: number; timeoutMs: number }): Promise<Uint8Array> {
    if (this.pending) throw new Error('cannot drain while a read is waiting');
    const deadline = Date.now() + options.timeoutMs;
    for (;;) {
      const before = this.receivedTotal;
      const pause = Math.min(options.quietMs, deadline - Date.now());
      if (pause <= 0) break;
      await new Promise((resolve) => setTimeout(resolve, pause));
      // After a stall (a busy or descheduled process) the expired timer runs
      // before the bytes that came meanwhile are delivered: let them in before
      // calling the link quiet.
      await new Promise((resolve) => setTimeout(resolve, 0));
      if (this.receivedTotal === before || this.closedWith) break;
    }
    return this.takeBuffered();
  }

  /** Puts bytes back in front of the unread ones, to be read again. */
  unshift(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    const rest = this.unread().slice();
    this.start = 0;
    this.end = 0;
    this.store(bytes);
    this.store(rest);
  }

  /** Stops listening to the transport; a waiting read fails. */
  dispose(): void {
    for (const unsubscribe of this.unsubscribes) unsubscribe();
    this.pending?.fail(new Error(`reading from ${this.transport.description} was stopped`));
  }

  private wait<T>(limit: ReadOptions, waitingFor: string, attempt: () => T | undefined): Promise<T> {
    if (this.pending) return Promise.reject(new Error(`cannot wait for ${waitingFor}: another read is waiting`));
    try {
      const immediate = attempt();
      if (immediate !== undefined) return Promise.resolve(immediate);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.closedWith) return Promise.reject(this.closedError());
    const [waitMs, reportedMs] = 'deadline' in limit ? [limit.deadline.remainingMs(), limit.deadline.totalMs] : [limit.timeoutMs, limit.timeoutMs];
    return new Promise<T>((resolve, reject) => {
      const settle = (finish: () => void): void => {
        clearTimeout(timer);
        this.pending = undefined;
        finish();
      };
      const timer = setTimeout(() => {
        const received = this.unread().slice();
        settle(() => reject(new ReplTimeoutError(waitingFor, reportedMs, received, this.transport.description)));
      }, Math.max(0, waitMs));
      this.pending = {
        retry: () => {
          let result: T | undefined;
          try {
            result = attempt();
          } catch (error) {
            settle(() => reject(error));
            return;
          }
          if (result !== undefined) settle(() => resolve(result));
        },
        fail: (error) => settle(() => reject(error)),
      };
    });
  }

  private append(chunk: Uint8Array): void {
    this.receivedTotal += chunk.length;
    this.store(chunk);
    this.pending?.retry();
  }

  private store(bytes: Uint8Array): void {
    if (this.end + bytes.length > this.buffer.length) {
      const unread = this.unread();
      const needed = unread.length + bytes.length;
      if (needed > this.buffer.length) {
        const grown = new Uint8Array(Math.max(needed, this.buffer.length * 2));
        grown.set(unread);
        this.buffer = grown;
      } else {
        this.buffer.copyWithin(0, this.start, this.end);
      }
      this.end = unread.length;
      this.start = 0;
    }
    this.buffer.set(bytes, this.end);
    this.end += bytes.length;
  }

  private unread(): Uint8Array {
    return this.buffer.subarray(this.start, this.end);
  }

  private take(count: number): Uint8Array {
    const out = this.buffer.slice(this.start, this.start + count);
    this.start += count;
    if (this.start === this.end) this.start = this.end = 0;
    return out;
  }

  private linkClosed(error: Error | undefined): void {
    this.closedWith = { error };
    this.pending?.fail(this.closedError());
  }

  private closedError(): Error {
    return new TransportClosedError(this.transport.description, this.closedWith?.error);
  }
}
