import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import fc from 'fast-check';
import { ByteReader, Deadline, ReplTimeoutError } from '../../src/repl/index.js';
import { createLinkedTransports } from '../../src/transport/in-memory.js';
import { TransportClosedError } from '../../src/transport/transport.js';
import { bytesOf, latin1 } from '../fixtures/repl/board-session.js';

function readerPair(): { reader: ByteReader; send: (text: string | Uint8Array) => Promise<void>; closeDevice: () => Promise<void> } {
  const [host, device] = createLinkedTransports('the test device');
  return {
    reader: new ByteReader(host),
    send: (data) => device.write(typeof data === 'string' ? bytesOf(data) : data),
    closeDevice: () => device.close(),
  };
}

describe('ByteReader', () => {
  it('reads up to and including a pattern split across chunks, and keeps the rest', async () => {
    const { reader, send } = readerPair();
    const read = reader.readUntil('raw REPL; CTRL-B to exit\r\n>', { timeoutMs: 1_000 });
    await send('noise\r\n>>> raw RE');
    await send('PL; CTRL-B to exit\r');
    await send('\n>OK');
    assert.equal(latin1(await read), 'noise\r\n>>> raw REPL; CTRL-B to exit\r\n>');
    assert.equal(reader.bufferedLength, 2);
    assert.equal(latin1(await reader.readExactly(2, { timeoutMs: 100 })), 'OK');
  });

  it('streams only bytes before the pattern, whatever the chunking', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 60 }),
        fc.uint8Array({ minLength: 1, maxLength: 4 }),
        fc.uint8Array({ maxLength: 10 }),
        fc.array(fc.nat(80), { maxLength: 6 }),
        async (before, pattern, after, cuts) => {
          const stream = new Uint8Array([...before, ...pattern, ...after]);
          const firstMatch = indexOf(stream, pattern);
          const { reader, send } = readerPair();
          const streamed: number[] = [];
          const read = reader.readUntil(pattern, { timeoutMs: 1_000, onData: (bytes) => streamed.push(...bytes) });
          const points = [...new Set(cuts.map((cut) => cut % (stream.length + 1)))].sort((a, b) => a - b);
          let from = 0;
          for (const point of [...points, stream.length]) {
            if (point > from) await send(stream.subarray(from, point));
            from = Math.max(from, point);
          }
          const result = await read;
          assert.deepEqual([...result], [...stream.subarray(0, firstMatch + pattern.length)]);
          assert.deepEqual(streamed, [...stream.subarray(0, firstMatch)]);
          assert.equal(reader.bufferedLength, stream.length - result.length);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('times out naming what it waited for and showing the bytes received', async () => {
    const { reader, send } = readerPair();
    await send('Traceback\r\n\x04');
    await assert.rejects(reader.readUntil('OK', { timeoutMs: 50, waitingFor: '"OK"' }), (error: unknown) => {
      assert.ok(error instanceof ReplTimeoutError);
      assert.equal(error.message, 'timed out after 50 ms waiting for "OK" from the test device; received 12 bytes: "Traceback\\r\\n\\x04"');
      assert.equal(latin1(error.received), 'Traceback\r\n\x04');
      return true;
    });
    // The bytes stay for the next read.
    assert.equal(reader.bufferedLength, 12);
  });

  it('shows the last 80 bytes of a long reception', async () => {
    const { reader, send } = readerPair();
    await send(`${'a'.repeat(100)}${'b'.repeat(80)}`);
    await assert.rejects(reader.readExactly(500, { timeoutMs: 20 }), {
      message: `timed out after 20 ms waiting for 500 bytes from the test device; received 180 bytes: …"${'b'.repeat(80)}"`,
    });
  });

  it('shares one deadline between reads and reports its whole length', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const { reader, send } = readerPair();
    const deadline = new Deadline(120);
    const first = reader.readUntil('|', { deadline });
    t.mock.timers.tick(60);
    await send('first|');
    assert.equal(latin1(await first), 'first|');
    let settled = false;
    const second = reader.readUntil('|', { deadline }).finally(() => (settled = true));
    t.mock.timers.tick(59);
    await loopTurn();
    assert.equal(settled, false, 'the second read waits for what is left of the deadline');
    t.mock.timers.tick(1);
    await assert.rejects(second, /timed out after 120 ms/);
  });

  it('refuses a second read while one waits', async () => {
    const { reader, send } = readerPair();
    const first = reader.readExactly(1, { timeoutMs: 1_000 });
    await assert.rejects(reader.readExactly(1, { timeoutMs: 1_000 }), /another read is waiting/);
    await send('x');
    assert.equal(latin1(await first), 'x');
  });

  it('fails a waiting read when the link closes', async () => {
    const { reader, send, closeDevice } = readerPair();
    await send('partial');
    const read = reader.readUntil('\x04', { timeoutMs: 1_000 });
    await closeDevice();
    await assert.rejects(read, TransportClosedError);
  });

  it('puts bytes back with unshift and drains until the link is quiet', async (t) => {
    const { reader, send } = readerPair();
    await send('cd');
    reader.unshift(bytesOf('ab'));
    assert.equal(latin1(await reader.readExactly(4, { timeoutMs: 100 })), 'abcd');
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    let drainedAt: number | undefined;
    const drained = reader.drain({ quietMs: 30, timeoutMs: 1_000 }).finally(() => (drainedAt = Date.now()));
    for (let sent = 0; sent < 12; sent++) {
      await advance(t, 20);
      await send('.');
    }
    await advance(t, 29);
    assert.equal(drainedAt, undefined, 'drain waits while bytes keep coming');
    await advance(t, 40);
    assert.equal(latin1(await drained), '.'.repeat(12));
    // Quiet is checked in windows of 30 ms: the last one started at most one window after the last byte.
    const lastByteAt = 12 * 20;
    assert.ok(drainedAt !== undefined && drainedAt >= lastByteAt + 30 && drainedAt <= lastByteAt + 2 * 31, `drained at ${drainedAt} ms`);
    assert.equal(reader.bufferedLength, 0);
  });

  it('drain counts bytes that were on their way while the process stalled as arrived, not as quiet', async () => {
    const [host, device] = createLinkedTransports('the test device');
    const reader = new ByteReader(host);
    // From a check-phase callback: the device's answer is queued for the next
    // loop turn, then the host stalls for longer than the quiet time, so that
    // turn starts with the drain's expired timer.
    const { drained } = await new Promise<{ drained: Promise<Uint8Array> }>((resolve) =>
      setImmediate(() => {
        setImmediate(() => void device.write(bytesOf('answer')));
        const drained = reader.drain({ quietMs: 30, timeoutMs: 1_000 });
        const stalledUntil = Date.now() + 60;
        while (Date.now() < stalledUntil) {
          // A process that does not get the CPU.
        }
        resolve({ drained });
      }),
    );
    assert.equal(latin1(await drained), 'answer');
  });

  it('grows its buffer for large receptions', async () => {
    const { reader, send } = readerPair();
    const big = Uint8Array.from({ length: 20_000 }, (_, i) => i % 251);
    await send(big.subarray(0, 7_000));
    await send(big.subarray(7_000));
    assert.deepEqual(await reader.readExactly(20_000, { timeoutMs: 100 }), big);
  });
});

/** Lets callbacks already due (and their promises) run: the mocked timers do not mock setImmediate. */
function loopTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Advances the mocked clock one millisecond at a time, letting what each step makes due run. */
async function advance(t: TestContext, milliseconds: number): Promise<void> {
  for (let step = 0; step < milliseconds; step++) {
    t.mock.timers.tick(1);
    await loopTurn();
  }
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  for (let at = 0; at + needle.length <= haystack.length; at++) {
    if (needle.every((byte, i) => haystack[at + i] === byte)) return at;
  }
  return -1;
}
