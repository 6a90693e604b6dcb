/** A Transport that passes everything through and shows each write to `onWrite` first (byte counts, recordings). */
import type { Transport } from './transport.js';

export function tapWrites(inner: Transport, onWrite: (data: Uint8Array) => void): Transport {
  return {
    get description() {
      return inner.description;
    },
    get closed() {
      return inner.closed;
    },
    write: (data) => {
      onWrite(data);
      return inner.write(data);
    },
    onData: (listener) => inner.onData(listener),
    onClose: (listener) => inner.onClose(listener),
    close: () => inner.close(),
  };
}
