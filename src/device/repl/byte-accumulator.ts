/** A growable byte buffer: the REPL's line buffer (vstr) for raw and paste input, which may be any 8-bit value. */
export class ByteAccumulator {
  private data = new Uint8Array(64);
  private used = 0;

  get length(): number {
    return this.used;
  }

  at(index: number): number | undefined {
    return index < this.used ? this.data[index] : undefined;
  }

  push(byte: number): void {
    if (this.used === this.data.length) {
      const grown = new Uint8Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.used++] = byte;
  }

  clear(): void {
    this.used = 0;
  }

  /** The content as source text; MicroPython source is UTF-8. */
  decode(): string {
    return utf8.decode(this.data.subarray(0, this.used));
  }
}

const utf8 = new TextDecoder();
