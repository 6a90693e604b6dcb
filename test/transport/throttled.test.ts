import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLinkedTransports } from '../../src/transport/in-memory.js';
import { throttle } from '../../src/transport/throttled.js';
import { TransportClosedError, type Transport } from '../../src/transport/transport.js';

function collect(transport: Transport): { bytes: () => Uint8Array; arrivals: Array<{ at: number; length: number }> } {
  const chunks: Uint8Array[] = [];
  const arrivals: Array<{ at: number; length: number }> = [];
  transport.onData((chunk) => {
    chunks.push(chunk);
    arrivals.push({ at: performance.now(), length: chunk.length });
  });
  return { bytes: () => Uint8Array.from(chunks.flatMap((chunk) => [...chunk])), arrivals };
}

async function until(condition: () => boolean, timeoutMs = 3_000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

const payload = Uint8Array.from({ length: 2_000 }, (_, i) => i % 256);

describe('throttled transport', () => {
  it('writes 2,000 bytes at 115200 baud in no less than 150 ms (8N1: 173.6 ms), whole and in order', async () => {
    const [host, device] = createLinkedTransports();
    const link = throttle(host, { bitsPerSecond: 115_200 });
    const atDevice = collect(device);
    const started = performance.now();
    await link.write(payload);
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 150, `took ${elapsed.toFixed(1)} ms`);
    assert.ok(elapsed < 1_000, `took ${elapsed.toFixed(1)} ms`);
    await until(() => atDevice.bytes().length === payload.length);
    assert.deepEqual(atDevice.bytes(), payload);
    // The bytes flow steadily rather than in one burst at the end.
    assert.ok(atDevice.arrivals.length >= 10, `${atDevice.arrivals.length} arrivals`);
  });

  it('delivers received bytes at the same rate', async () => {
    const [host, device] = createLinkedTransports();
    const link = throttle(host, { bitsPerSecond: 115_200 });
    const atHost = collect(link);
    const started = performance.now();
    await device.write(payload);
    await until(() => atHost.bytes().length === payload.length);
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 150, `took ${elapsed.toFixed(1)} ms`);
    assert.deepEqual(atHost.bytes(), payload);
  });

  it('counts the bits per byte: 2,000 bytes at 8 bits a byte and 160,000 bit/s take 100 ms', async () => {
    const [host, device] = createLinkedTransports();
    collect(device);
    const link = throttle(host, { bitsPerSecond: 160_000, bitsPerByte: 8 });
    const started = performance.now();
    await link.write(payload);
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 90 && elapsed < 600, `took ${elapsed.toFixed(1)} ms`);
  });

  it('queues writes back to back: two writes take as long as one of both sizes', async () => {
    const [host, device] = createLinkedTransports();
    const atDevice = collect(device);
    const link = throttle(host, { bitsPerSecond: 115_200 });
    const started = performance.now();
    await Promise.all([link.write(payload.subarray(0, 1_000)), link.write(payload.subarray(1_000))]);
    assert.ok(performance.now() - started >= 150);
    await until(() => atDevice.bytes().length === payload.length);
    assert.deepEqual(atDevice.bytes(), payload);
  });

  it('passes a close of the other end on after the bytes in flight', async () => {
    const [host, device] = createLinkedTransports();
    const link = throttle(host, { bitsPerSecond: 115_200 });
    const atHost = collect(link);
    let lengthAtClose = -1;
    const closed = new Promise<void>((resolve) =>
      link.onClose(() => {
        lengthAtClose = atHost.bytes().length;
        resolve();
      }),
    );
    await device.write(payload.subarray(0, 500));
    await device.close();
    await closed;
    assert.equal(lengthAtClose, 500);
    await assert.rejects(link.write(Uint8Array.of(1)), TransportClosedError);
  });

  it('rejects a rate that is not positive', () => {
    const [host] = createLinkedTransports();
    assert.throws(() => throttle(host, { bitsPerSecond: 0 }), RangeError);
  });
});
