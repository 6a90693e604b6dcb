/** Host bytes the REPL has received but not handled yet, in arrival order. */
import { concatBytes } from '../../format/bytes.js';

export class InputQueue {
  private chunks: Uint8Array[] = [];
  private offset = 0;

  get isEmpty(): boolean {
    return this.chunks.length === 0;
  }

  push(bytes: Uint8Array): void {
    if (bytes.length > 0) this.chunks.push(bytes.slice());
  }

  /** Puts bytes back in front of everything queued (they arrived earlier). */
  pushFront(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.dropConsumedPrefix();
    this.chunks.unshift(bytes.slice());
  }

  next(): number | undefined {
    const chunk = this.chunks[0];
    if (chunk === undefined) return undefined;
    const byte = chunk[this.offset++];
    if (this.offset === chunk.length) {
      this.chunks.shift();
      this.offset = 0;
    }
    return byte;
  }

  takeAll(): Uint8Array {
    this.dropConsumedPrefix();
    const out = concatBytes(...this.chunks);
    this.chunks = [];
    return out;
  }

  clear(): void {
    this.chunks = [];
    this.offset = 0;
  }

  private dropConsumedPrefix(): void {
    const first = this.chunks[0];
    if (first !== undefined && this.offset > 0) this.chunks[0] = first.subarray(this.offset);
    this.offset = 0;
  }
}
