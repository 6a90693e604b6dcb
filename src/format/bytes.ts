/** Small helpers over Uint8Array used by every codec. Browser-safe. */

export function hex(value: number, width = 0): string {
  return '0x' + value.toString(16).padStart(width, '0');
}

export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) out += byte.toString(16).padStart(2, '0');
  return out;
}

export function fromHex(text: string): Uint8Array {
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(text)) {
    throw new Error(`not a hex string: ${JSON.stringify(text.slice(0, 80))}`);
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function dataView(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** True when every byte in `bytes[start, end)` is `value` (0xFF = erased flash). */
export function isFilled(bytes: Uint8Array, value: number, start = 0, end = bytes.length): boolean {
  for (let i = start; i < end; i++) if (bytes[i] !== value) return false;
  return true;
}

const latin1 = new TextDecoder('latin1');
const utf8 = new TextEncoder();

/** A fixed-size, NUL-padded C string field (labels, version strings). */
export function readCString(bytes: Uint8Array, offset: number, size: number): string {
  const field = bytes.subarray(offset, offset + size);
  const end = field.indexOf(0);
  return latin1.decode(end < 0 ? field : field.subarray(0, end));
}

/** Writes `text` NUL-padded into a field of `size` bytes; throws if it does not fit. */
export function writeCString(bytes: Uint8Array, offset: number, size: number, text: string): void {
  const encoded = utf8.encode(text);
  if (encoded.length > size) {
    throw new RangeError(`"${text}" is ${encoded.length} bytes, longer than its ${size}-byte field`);
  }
  bytes.fill(0, offset, offset + size);
  bytes.set(encoded, offset);
}

export function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

/** Standard base64 (RFC 4648), as MicroPython's binascii.a2b_base64 reads it. */
export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}
