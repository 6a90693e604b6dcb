import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
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

  it('shares one deadline between reads and reports its whole length', async () => {
    const { reader, send } = readerPair();
    const deadline = new Deadline(120);
    setTimeout(() => void send('first|'), 60);
    assert.equal(latin1(await reader.readUntil('|', { deadline })), 'first|');
    const started = Date.now();
    await assert.rejects(reader.readUntil('|', { deadline }), /timed out after 120 ms/);
    assert.ok(Date.now() - started < 110, 'the second read only had what was left');
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

  it('puts bytes back with unshift and drains until the link is quiet', async () => {
    const { reader, send } = readerPair();
    await send('cd');
    reader.unshift(bytesOf('ab'));
    assert.equal(latin1(await reader.readExactly(4, { timeoutMs: 100 })), 'abcd');
    const timer = setInterval(() => void send('.'), 5);
    setTimeout(() => clearInterval(timer), 60);
    const started = Date.now();
    const drained = await reader.drain({ quietMs: 30, timeoutMs: 1_000 });
    assert.ok(Date.now() - started >= 60, 'drain waits while bytes keep coming');
    assert.ok(drained.length >= 5);
    assert.equal(reader.bufferedLength, 0);
  });

  it('grows its buffer for large receptions', async () => {
    const { reader, send } = readerPair();
    const big = Uint8Array.from({ length: 20_000 }, (_, i) => i % 251);
    await send(big.subarray(0, 7_000));
    await send(big.subarray(7_000));
    assert.deepEqual(await reader.readExactly(20_000, { timeoutMs: 100 }), big);
  });
});

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  for (let at = 0; at + needle.length <= haystack.length; at++) {
    if (needle.every((byte, i) => haystack[at + i] === byte)) return at;
  }
  return -1;
}
