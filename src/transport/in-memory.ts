/**
 * Two connected transports in one process: what one end writes, the other
 * receives, asynchronously and in order. The in-process virtual device and
 * the tests use it. Pure: no Node-only imports.
 */
import { TransportClosedError, TransportEvents, type Transport } from './transport.js';

class InMemoryEnd implements Transport {
  readonly events = new TransportEvents();
  peer!: InMemoryEnd;

  constructor(readonly description: string) {}

  async write(data: Uint8Array): Promise<void> {
    if (this.closed) throw new TransportClosedError(this.description);
    const copy = data.slice();
    const peer = this.peer;
    queueMicrotask(() => peer.events.emitData(copy));
  }

  onData(listener: (chunk: Uint8Array) => void): () => void {
    return this.events.onData(listener);
  }

  onClose(listener: (error?: Error) => void): () => void {
    return this.events.onClose(listener);
  }

  get closed(): boolean {
    return this.events.closed;
  }

  async close(): Promise<void> {
    this.events.emitClose();
    const peer = this.peer;
    queueMicrotask(() => peer.events.emitClose());
  }
}

/** [host end, device end] */
export function createLinkedTransports(description = 'in-process device'): [Transport, Transport] {
  const host = new InMemoryEnd(description);
  const device = new InMemoryEnd('in-process host');
  host.peer = device;
  device.peer = host;
  return [host, device];
}
