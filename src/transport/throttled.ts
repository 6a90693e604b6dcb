/**
 * A Transport that moves bytes no faster than a real link would: a UART at
 * 115200 baud with 8N1 framing (10 bits a byte) carries 11,520 bytes/s. For
 * benchmarks and tests of link speeds over an in-memory or local link.
 */
import { TransportClosedError, TransportEvents, type Transport } from './transport.js';

export interface ThrottleOptions {
  bitsPerSecond: number;
  /** Bits on the wire per byte: 10 for 8N1 (start + 8 data + stop), the default. */
  bitsPerByte?: number;
  /** Bytes handed on at once (default: about 10 ms of the link), e.g. a UART's RX FIFO interrupt threshold. */
  sliceBytes?: number;
  /** Added to every byte's arrival, both ways (default 0), e.g. a USB frame. */
  latencyMs?: number;
}

/** Bytes in each slice that is handed on at once: about 10 ms of transfer, so the flow is smooth. */
const SLICE_MS = 10;

export function throttle(inner: Transport, options: ThrottleOptions): Transport {
  return new ThrottledTransport(inner, options);
}

class ThrottledTransport implements Transport {
  readonly description: string;
  private readonly events = new TransportEvents();
  private readonly outgoing: LinkDirection;
  private readonly incoming: LinkDirection;
  private innerClosed: { error: Error | undefined } | undefined;

  constructor(
    private readonly inner: Transport,
    options: ThrottleOptions,
  ) {
    const bitsPerByte = options.bitsPerByte ?? 10;
    if (!(options.bitsPerSecond > 0) || !(bitsPerByte > 0)) throw new RangeError('throttle needs a positive bit rate and bits per byte');
    const bytesPerSecond = options.bitsPerSecond / bitsPerByte;
    const timing = {
      bytesPerSecond,
      sliceBytes: options.sliceBytes ?? Math.max(1, Math.floor((bytesPerSecond * SLICE_MS) / 1000)),
      latencyMs: options.latencyMs ?? 0,
    };
    if (!(timing.sliceBytes >= 1) || !(timing.latencyMs >= 0)) throw new RangeError('throttle needs a slice of at least 1 byte and a latency of at least 0 ms');
    this.description = `${inner.description} at ${options.bitsPerSecond} bit/s`;
    this.outgoing = new LinkDirection(timing, (slice) => inner.write(slice));
    this.incoming = new LinkDirection(
      timing,
      async (slice) => this.events.emitData(slice),
      () => {
        if (this.innerClosed) this.events.emitClose(this.innerClosed.error);
      },
    );
    inner.onData((chunk) => void this.incoming.send(chunk.slice()).catch(() => undefined));
    inner.onClose((error) => {
      this.innerClosed = { error };
      this.outgoing.cancel(new TransportClosedError(this.description, error));
      // Bytes already on the wire still arrive, then the close.
      if (this.incoming.idle) this.events.emitClose(error);
    });
  }

  get closed(): boolean {
    return this.events.closed;
  }

  write(data: Uint8Array): Promise<void> {
    if (this.closed || this.innerClosed) return Promise.reject(new TransportClosedError(this.description));
    return this.outgoing.send(data.slice());
  }

  onData(listener: (chunk: Uint8Array) => void): () => void {
    return this.events.onData(listener);
  }

  onClose(listener: (error?: Error) => void): () => void {
    return this.events.onClose(listener);
  }

  async close(): Promise<void> {
    const closed = new TransportClosedError(this.description);
    this.outgoing.cancel(closed);
    this.incoming.cancel(closed);
    this.events.emitClose();
    await this.inner.close();
  }
}

interface LinkTiming {
  readonly bytesPerSecond: number;
  readonly sliceBytes: number;
  readonly latencyMs: number;
}

interface Slice {
  bytes: Uint8Array;
  /** When its last byte has crossed the link, in performance.now() time. */
  dueAt: number;
  /** Settles the send() the slice ends. */
  done?: { resolve: () => void; reject: (error: Error) => void };
}

/**
 * One direction of the link: bytes are cut into slices, each scheduled when the
 * link would have finished carrying it, back to back while data keeps coming.
 * Timers that fire late let the following slices catch up, but never ahead of
 * the schedule, so no stretch of time ever carries more than the rate allows.
 */
class LinkDirection {
  private readonly queue: Slice[] = [];
  private busyUntil = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private delivering = false;

  constructor(
    private readonly timing: LinkTiming,
    private readonly deliver: (slice: Uint8Array) => Promise<void>,
    private readonly onDrained?: () => void,
  ) {}

  get idle(): boolean {
    return this.queue.length === 0 && !this.delivering;
  }

  send(bytes: Uint8Array): Promise<void> {
    if (bytes.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const { sliceBytes, bytesPerSecond, latencyMs } = this.timing;
      let at = performance.now();
      if (this.busyUntil > at) at = this.busyUntil;
      for (let offset = 0; offset < bytes.length; offset += sliceBytes) {
        const piece = bytes.subarray(offset, offset + sliceBytes);
        at += (piece.length * 1000) / bytesPerSecond;
        const last = offset + sliceBytes >= bytes.length;
        this.queue.push({ bytes: piece, dueAt: at + latencyMs, done: last ? { resolve, reject } : undefined });
      }
      this.busyUntil = at;
      this.arm();
    });
  }

  cancel(error: Error): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const slice of this.queue.splice(0)) slice.done?.reject(error);
  }

  private arm(): void {
    if (this.timer !== undefined || this.delivering) return;
    const head = this.queue[0];
    if (!head) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.deliverDue();
    }, Math.max(0, head.dueAt - performance.now()));
  }

  private async deliverDue(): Promise<void> {
    this.delivering = true;
    while (this.queue[0] && this.queue[0].dueAt <= performance.now()) {
      const slice = this.queue.shift()!;
      try {
        await this.deliver(slice.bytes);
        slice.done?.resolve();
      } catch (error) {
        slice.done?.reject(error instanceof Error ? error : new Error(String(error)));
      }
    }
    this.delivering = false;
    if (this.queue.length === 0) this.onDrained?.();
    this.arm();
  }
}
