import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { StdinRing } from '../../src/device/micropython/stdin-ring.js';

const bytes = (...values: number[]) => Uint8Array.from(values);

function readAll(ring: StdinRing, max = 1 << 16): Uint8Array {
  const into = new Uint8Array(max);
  return into.slice(0, ring.read(into));
}

describe('StdinRing', () => {
  it('rejects capacities that are not powers of two', () => {
    assert.throws(() => StdinRing.allocate(100), RangeError);
    assert.throws(() => StdinRing.allocate(8), RangeError);
    assert.equal(StdinRing.allocate(64).capacity, 64);
  });

  it('returns bytes in the order they were written, across the wrap-around', () => {
    const ring = StdinRing.allocate(16);
    assert.equal(ring.write(bytes(...Array.from({ length: 12 }, (_, i) => i))), 12);
    assert.deepEqual(readAll(ring, 10), bytes(0, 1, 2, 3, 4, 5, 6, 7, 8, 9));
    // 2 bytes left at positions 10..11; the next 14 wrap past the end.
    assert.equal(ring.write(bytes(...Array.from({ length: 14 }, (_, i) => 100 + i))), 14);
    assert.equal(ring.available, 16);
    assert.deepEqual(readAll(ring), bytes(10, 11, ...Array.from({ length: 14 }, (_, i) => 100 + i)));
    assert.equal(ring.available, 0);
  });

  it('writes only what fits and reports it', () => {
    const ring = StdinRing.allocate(16);
    assert.equal(ring.write(new Uint8Array(20).fill(7)), 16);
    assert.equal(ring.free, 0);
    assert.equal(ring.write(bytes(1)), 0);
    assert.equal(readAll(ring, 4).length, 4);
    assert.equal(ring.free, 4);
  });

  it('keeps byte order for any sequence of writes and reads (model check)', () => {
    const operation = fc.oneof(
      fc.record({ write: fc.uint8Array({ maxLength: 40 }) }),
      fc.record({ read: fc.integer({ min: 0, max: 40 }) }),
    );
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 60 }), (operations) => {
        const ring = StdinRing.allocate(32);
        const model: number[] = [];
        for (const op of operations) {
          if ('write' in op) {
            const written = ring.write(op.write);
            assert.equal(written, Math.min(op.write.length, 32 - model.length));
            model.push(...op.write.subarray(0, written));
          } else {
            const got = readAll(ring, op.read);
            assert.deepEqual([...got], model.splice(0, op.read));
          }
          assert.equal(ring.available, model.length);
        }
      }),
    );
  });

  it('discard drops unread bytes', () => {
    const ring = StdinRing.allocate(16);
    ring.write(bytes(1, 2, 3));
    ring.discard();
    assert.equal(ring.available, 0);
    ring.write(bytes(4));
    assert.deepEqual(readAll(ring), bytes(4));
  });

  it('changes its signal on every write and wake, and a wait on a stale signal returns at once', () => {
    const ring = StdinRing.allocate(16);
    const first = ring.signal;
    ring.write(bytes(1));
    const second = ring.signal;
    assert.notEqual(second, first);
    ring.wake();
    assert.notEqual(ring.signal, second);
    assert.equal(ring.waitForSignal(first, 1000), true);
    assert.equal(ring.waitForSignal(ring.signal, 1), false);
  });

  it('reports a waiting writer exactly once', () => {
    const ring = StdinRing.allocate(16);
    assert.equal(ring.takeWriterWaiting(), false);
    ring.markWriterWaiting();
    assert.equal(ring.takeWriterWaiting(), true);
    assert.equal(ring.takeWriterWaiting(), false);
  });

  it('wakes a reader blocked in another thread and hands it the bytes', async () => {
    const ring = StdinRing.allocate(64);
    const moduleUrl = new URL('../../src/device/micropython/stdin-ring.js', import.meta.url).href;
    // The worker blocks until 5 bytes arrived, then reports them.
    const worker = new Worker(
      `const { workerData, parentPort } = require('node:worker_threads');
       import(workerData.moduleUrl).then(({ StdinRing }) => {
         const ring = new StdinRing(workerData.buffer);
         const got = [];
         const into = new Uint8Array(8);
         parentPort.postMessage('waiting');
         while (got.length < 5) {
           const seen = ring.signal;
           const count = ring.read(into);
           if (count === 0) ring.waitForSignal(seen, 5000);
           got.push(...into.subarray(0, count));
         }
         parentPort.postMessage(got);
       });`,
      { eval: true, workerData: { buffer: ring.buffer, moduleUrl } },
    );
    try {
      const messages: unknown[] = [];
      const received = new Promise<unknown>((resolve) =>
        worker.on('message', (message) => {
          messages.push(message);
          if (Array.isArray(message)) resolve(message);
        }),
      );
      while (messages.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      ring.write(bytes(9, 8));
      await new Promise((resolve) => setTimeout(resolve, 20));
      ring.write(bytes(7, 6, 5));
      assert.deepEqual(await received, [9, 8, 7, 6, 5]);
    } finally {
      await worker.terminate();
    }
  });
});
