/** Bytes ↔ text for REPL protocol strings and for showing received bytes in error messages. */

/** Protocol strings are ASCII; each character becomes one byte. */
export function asciiBytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();

export function utf8Bytes(text: string): Uint8Array {
  return utf8Encoder.encode(text);
}

export function utf8Text(bytes: Uint8Array): string {
  return utf8Decoder.decode(bytes);
}

/** Position of `needle` in `haystack` at or after `from`, or -1. */
export function indexOfBytes(haystack: Uint8Array, needle: Uint8Array, from = 0): number {
  const last = haystack.length - needle.length;
  outer: for (let at = Math.max(0, from); at <= last; at++) {
    for (let i = 0; i < needle.length; i++) if (haystack[at + i] !== needle[i]) continue outer;
    return at;
  }
  return -1;
}

/**
 * A double-quoted, escaped rendering for messages: printable ASCII as is,
 * `\r \n \t` and other bytes escaped (`\x04`), so that control bytes of the
 * protocols stay visible. Longer input keeps its last `maxBytes`, marked `…`.
 */
export function showBytes(bytes: Uint8Array, maxBytes = 80): string {
  const shown = bytes.length > maxBytes ? bytes.subarray(bytes.length - maxBytes) : bytes;
  let text = '';
  for (const byte of shown) text += escapeByte(byte);
  return `${bytes.length > maxBytes ? '…' : ''}"${text}"`;
}

function escapeByte(byte: number): string {
  switch (byte) {
    case 0x0d:
      return '\\r';
    case 0x0a:
      return '\\n';
    case 0x09:
      return '\\t';
    case 0x22:
      return '\\"';
    case 0x5c:
      return '\\\\';
  }
  if (byte >= 0x20 && byte < 0x7f) return String.fromCharCode(byte);
  return `\\x${byte.toString(16).padStart(2, '0')}`;
}
