/** Test wiring for OTA transfers on the virtual board: transports that count, corrupt or cut what the host sends. */
import type { Transport } from '../../src/transport/transport.js';
import { FRAME_SYNC, FrameType } from '../../src/ota/frames.js';

/** A Transport that passes everything through to `inner` and lets a hook see (and change) each write first. */
export function tapWrites(inner: Transport, hook: (data: Uint8Array) => Uint8Array | 'close'): Transport {
  return {
    get description() {
      return inner.description;
    },
    get closed() {
      return inner.closed;
    },
    write: async (data) => {
      const out = hook(data);
      if (out === 'close') {
        await inner.close();
        return;
      }
      return inner.write(out);
    },
    onData: (listener) => inner.onData(listener),
    onClose: (listener) => inner.onClose(listener),
    close: () => inner.close(),
  };
}

/** Counts the bytes written. */
export function countingTransport(inner: Transport): { transport: Transport; written: () => number } {
  let written = 0;
  const transport = tapWrites(inner, (data) => {
    written += data.length;
    return data;
  });
  return { transport, written: () => written };
}

/** Is this write the start of a frame of `type`? (The sender writes a frame in one piece while the window has room.) */
export function startsFrame(data: Uint8Array, type: number): boolean {
  return data.length >= 2 && data[0] === FRAME_SYNC && data[1] === type;
}

/** Flips one byte (at `offset` within the frame) of the `nth` data frame written (0-based), once. */
export function corruptDataFrame(inner: Transport, nth: number, offset: number): { transport: Transport; flipped: () => boolean } {
  let seen = 0;
  let flipped = false;
  const transport = tapWrites(inner, (data) => {
    if (!startsFrame(data, FrameType.Data)) return data;
    if (seen++ !== nth || offset >= data.length) return data;
    const copy = data.slice();
    copy[offset]! ^= 0x5a;
    flipped = true;
    return copy;
  });
  return { transport, flipped: () => flipped };
}

/** Passes writes until `count` data frames have gone through, then closes the link (as if the cable were pulled). */
export function cutAfterDataFrames(inner: Transport, count: number): Transport {
  let seen = 0;
  let cut = false;
  return tapWrites(inner, (data) => {
    if (cut) return 'close';
    if (startsFrame(data, FrameType.Data) && ++seen > count) {
      cut = true;
      return 'close';
    }
    return data;
  });
}

/** Deterministic, compressible bytes that look a little like firmware: text, small integers, repeats, runs. */
export function compressibleImage(size: number, seed = 1): Uint8Array {
  const words = ['micropython', 'esp32', 'partition', 'flash', 'error', 'machine', 'network', 'socket', 'timeout', 'buffer', 'value', 'init'];
  const out = new Uint8Array(size);
  let state = seed >>> 0 || 1;
  const random = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  let at = 0;
  while (at < size) {
    const pick = random();
    let piece: Uint8Array;
    if (pick < 0.5) piece = new TextEncoder().encode(words[Math.floor(random() * words.length)]! + (random() < 0.3 ? '\0' : ' '));
    else if (pick < 0.8) piece = Uint8Array.from({ length: 4 }, () => Math.floor(random() * (random() < 0.7 ? 16 : 256)));
    else if (pick < 0.95) piece = Uint8Array.from({ length: 8 }, () => Math.floor(random() * 256));
    else piece = new Uint8Array(Math.floor(random() * 64)).fill(random() < 0.5 ? 0 : 0xff);
    out.set(piece.subarray(0, size - at), at);
    at += piece.length;
  }
  return out;
}
