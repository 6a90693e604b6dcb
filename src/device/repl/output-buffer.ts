/**
 * Collects board → host bytes and hands them to the transport in batches, so a
 * burst of echo and prompts becomes one write. Order is what matters; batching
 * never changes the byte stream.
 */
import { concatBytes } from '../../format/bytes.js';

export class OutputBuffer {
  private readonly chunks: Uint8Array[] = [];

  constructor(private readonly write: (bytes: Uint8Array) => void) {}

  /** Text whose characters are all below 256 (protocol strings, echoed ASCII). */
  text(value: string): void {
    if (value.length > 0) this.chunks.push(latin1Bytes(value));
  }

  bytes(value: Uint8Array): void {
    if (value.length > 0) this.chunks.push(value.slice());
  }

  /** Program output through MicroPython's "cooked" stdout: every `\n` goes out as `\r\n`. */
  cooked(value: Uint8Array): void {
    if (value.length > 0) this.chunks.push(cook(value));
  }

  flush(): void {
    if (this.chunks.length === 0) return;
    const out = concatBytes(...this.chunks);
    this.chunks.length = 0;
    this.write(out);
  }

  /** Forgets unsent output (the chip is restarting). */
  discard(): void {
    this.chunks.length = 0;
  }
}

/** mp_hal_stdout_tx_strn_cooked: `\n` → `\r\n`, nothing else changes (an existing `\r\n` becomes `\r\r\n`). */
export function cook(bytes: Uint8Array): Uint8Array {
  let newlines = 0;
  for (const byte of bytes) if (byte === 0x0a) newlines++;
  if (newlines === 0) return bytes.slice();
  const out = new Uint8Array(bytes.length + newlines);
  let at = 0;
  for (const byte of bytes) {
    if (byte === 0x0a) out[at++] = 0x0d;
    out[at++] = byte;
  }
  return out;
}

export function latin1Bytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

const utf8 = new TextEncoder();

export function utf8Bytes(text: string): Uint8Array {
  return utf8.encode(text);
}
