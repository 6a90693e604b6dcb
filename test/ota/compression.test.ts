import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { inflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { extractApp } from '../../src/format/firmware-file.js';
import { BlockDeflater, deflateBlocks, huffmanLengths, windowBitsForMemory } from '../../src/ota/compression.js';
import { realFirmware } from '../helpers/testdata.js';
import { compressibleImage } from './transfer-helpers.js';
import { LazyInflater, OverReadError } from './uzlib-model.js';

const BLOCK = 4096;

/** Feeds piece k, reads block k: the decoder must take piece k whole (the last may keep its final end-of-block bits) and never more. */
function assertPiecesFitTheDecoder(data: Uint8Array, pieces: Uint8Array[], windowBits: number): void {
  assert.equal(pieces.length, Math.ceil(data.length / BLOCK));
  const inflater = new LazyInflater(1 << windowBits);
  pieces.forEach((piece, k) => {
    inflater.feed(piece);
    const expected = data.subarray(k * BLOCK, (k + 1) * BLOCK);
    const got = inflater.inflate(expected.length);
    assert.ok(Buffer.from(got).equals(Buffer.from(expected)), `block ${k} decodes to the image`);
    if (k < pieces.length - 1) assert.equal(inflater.consumed, inflater.fed, `block ${k}: the decoder took all of its piece`);
  });
}

function randomBytes(size: number, seed: number): Uint8Array {
  let state = seed;
  return Uint8Array.from({ length: size }, () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state >>> 24;
  });
}

describe('deflate pieces per 4 KiB block', () => {
  const samples: [string, Uint8Array][] = [
    ['compressible', compressibleImage(20 * BLOCK + 300, 2)],
    ['random (stored blocks)', randomBytes(6 * BLOCK + 17, 9)],
    ['zeros', new Uint8Array(5 * BLOCK)],
    ['one byte', Uint8Array.of(42)],
    ['exactly one block', compressibleImage(BLOCK, 4)],
    ['one block and one byte', compressibleImage(BLOCK + 1, 5)],
  ];

  for (const [name, data] of samples) {
    it(`${name}: the pieces form one raw deflate stream that zlib decodes`, () => {
      for (const windowBits of [9, 12, 15]) {
        const pieces = deflateBlocks(data, { windowBits });
        // zlib refuses distances beyond its window: this also checks the 2^wbits limit.
        const back = inflateRawSync(Buffer.concat(pieces), { windowBits });
        assert.ok(back.equals(Buffer.from(data)), `window bits ${windowBits}`);
        assertPiecesFitTheDecoder(data, pieces, windowBits);
      }
    });
  }

  it('cuts any data so that each piece is exactly what its block needs (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 * BLOCK }), fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 9, max: 15 }), (size, seed, windowBits) => {
        const data = seed % 3 === 0 ? randomBytes(size, seed) : compressibleImage(size, seed);
        assertPiecesFitTheDecoder(data, deflateBlocks(data, { windowBits, iterations: 0, maxChain: 16 }), windowBits);
      }),
      { numRuns: 40 },
    );
  });

  it('a decoder fed one piece short needs more input (the pieces are not padded)', () => {
    const data = compressibleImage(3 * BLOCK, 6);
    const pieces = deflateBlocks(data);
    const inflater = new LazyInflater(1 << 15);
    inflater.feed(pieces[0]!);
    inflater.feed(pieces[1]!.subarray(0, -1));
    inflater.inflate(BLOCK);
    assert.throws(() => inflater.inflate(BLOCK), OverReadError);
  });

  it('compresses the real v1.23.0 image to at most 0.67 of its size, segment by segment', (t) => {
    const firmware = realFirmware(t);
    if (!firmware) return;
    const image = extractApp(firmware).bytes;
    const deflater = new BlockDeflater(image, { windowBits: 15 });
    const pieces: Uint8Array[] = [];
    let calls = 0;
    while (!deflater.done) {
      pieces.push(...deflater.next());
      calls++;
    }
    assert.ok(calls >= 26, 'one segment of 16 blocks at a time');
    const total = pieces.reduce((sum, piece) => sum + piece.length, 0);
    t.diagnostic(`real image: ${image.length} → ${total} bytes (${(total / image.length).toFixed(4)}), largest piece ${Math.max(...pieces.map((p) => p.length))}`);
    assert.ok(total / image.length < 0.67);
    assertPiecesFitTheDecoder(image, pieces, 15);
  });
});

describe('huffmanLengths', () => {
  it('gives a complete prefix code within the length limit', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 100_000 }), { minLength: 2, maxLength: 300 }), fc.integer({ min: 7, max: 15 }), (freqs, maxBits) => {
        const used = freqs.filter((f) => f > 0).length;
        fc.pre(used <= 2 ** maxBits);
        const lengths = huffmanLengths(freqs, maxBits);
        let kraft = 0;
        freqs.forEach((f, s) => {
          if (f > 0) assert.ok(lengths[s]! >= 1 && lengths[s]! <= maxBits);
          if (lengths[s]! > 0) kraft += 2 ** -lengths[s]!;
        });
        if (used > 0) assert.equal(kraft, 1);
      }),
      { numRuns: 200 },
    );
  });

  it('limits very skewed frequencies (Fibonacci) to the maximum length', () => {
    const fib = [1, 1];
    while (fib.length < 30) fib.push(fib.at(-1)! + fib.at(-2)!);
    const lengths = huffmanLengths(fib, 15);
    assert.equal(Math.max(...lengths), 15);
    assert.equal(lengths.reduce((sum, l) => sum + 2 ** -l, 0), 1);
  });
});

describe('windowBitsForMemory', () => {
  it('keeps the decoder window within a third of the free heap, 9 to 15 bits', () => {
    assert.equal(windowBitsForMemory(135_000_000), 15);
    assert.equal(windowBitsForMemory(110_000), 15);
    assert.equal(windowBitsForMemory(60_000), 14);
    assert.equal(windowBitsForMemory(20_000), 12);
    assert.equal(windowBitsForMemory(100), 9);
  });
});
