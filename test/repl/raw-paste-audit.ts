/**
 * Test scaffolding: a transport wrapper that checks raw-paste flow control
 * from the host's side. It follows the board's `R\x01`, window size and `\x01`
 * grants as the host receives them, and counts every host write during the
 * transfer that goes beyond the credit granted so far.
 */
import type { Transport } from '../../src/transport/transport.js';

type Phase = 'idle' | 'answer' | 'size' | 'paste';

export class RawPasteAudit implements Transport {
  windowSize = 0;
  /** Writes that sent more bytes than the board had granted. */
  overruns = 0;
  /** Code bytes sent in raw-paste transfers. */
  payloadBytes = 0;
  private phase: Phase = 'idle';
  private pending: number[] = [];
  private credit = 0;

  constructor(private readonly inner: Transport) {
    inner.onData((chunk) => {
      for (const byte of chunk) this.fromBoard(byte);
    });
  }

  get description(): string {
    return this.inner.description;
  }

  get closed(): boolean {
    return this.inner.closed;
  }

  write(data: Uint8Array): Promise<void> {
    if (data.length === 3 && data[0] === 0x05 && data[1] === 0x41 && data[2] === 0x01) {
      this.phase = 'answer';
      this.pending = [];
    } else if (this.phase === 'paste' && !(data.length === 1 && data[0] === 0x04)) {
      this.credit -= data.length;
      this.payloadBytes += data.length;
      if (this.credit < 0) this.overruns++;
    }
    return this.inner.write(data);
  }

  onData(listener: (chunk: Uint8Array) => void): () => void {
    return this.inner.onData(listener);
  }

  onClose(listener: (error?: Error) => void): () => void {
    return this.inner.onClose(listener);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private fromBoard(byte: number): void {
    switch (this.phase) {
      case 'answer':
        this.pending.push(byte);
        if (this.pending.length === 2) {
          this.phase = this.pending[0] === 0x52 && this.pending[1] === 0x01 ? 'size' : 'idle';
          this.pending = [];
        }
        break;
      case 'size':
        this.pending.push(byte);
        if (this.pending.length === 2) {
          this.windowSize = this.pending[0]! | (this.pending[1]! << 8);
          this.credit = this.windowSize;
          this.phase = 'paste';
        }
        break;
      case 'paste':
        if (byte === 0x01) this.credit += this.windowSize;
        else if (byte === 0x04) this.phase = 'idle';
        break;
      case 'idle':
        break;
    }
  }
}
