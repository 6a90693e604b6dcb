/**
 * Thousands of mutated inputs through every parser: each must either succeed
 * or throw FormatError, never anything else (no TypeError, RangeError, hang).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FormatError } from '../../src/format/errors.js';
import { inspectAppImage, parseAppImage, verifyAppImage, appImageLength, looksLikeAppImage } from '../../src/format/app-image.js';
import { buildAppImage } from '../../src/format/app-image-builder.js';
import { extractApp, identifyFirmware } from '../../src/format/firmware-file.js';
import { buildCombinedImage } from '../../src/format/flash-image-builder.js';
import { encodeOtadata, makeOtaSelectEntry, parseOtadata, OtaImageState } from '../../src/format/otadata.js';
import { encodePartitionTable, parsePartitionTable, validatePartitionTable } from '../../src/format/partition-table.js';
import { formatPartitionCsv, parsePartitionCsv } from '../../src/format/partition-csv.js';
import { findMicroPythonIdentity } from '../../src/format/micropython-identity.js';
import { OTA_TABLE } from '../helpers/testdata.js';

const RUNS = 2000;

/** Random edits: flip bits, overwrite bytes, cut the end, insert or delete a run. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.constantFrom(0x00, 0xff, 0x7f, 0x80, 0xe9, 0xaa, 0x50) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), data: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ kind: fc.constant('u32' as const), at: fc.nat(), value: fc.constantFrom(0, 0xffffffff, 0x7fffffff, 0x80000000, 0x10000) }),
);

type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(input: Uint8Array, edits: Mutation[], focus: number): Uint8Array {
  let bytes: Uint8Array = input.slice();
  for (const edit of edits) {
    if (bytes.length === 0) break;
    // Most edits land near the structure (header, tables), some anywhere.
    const at = edit.at % 3 === 0 ? edit.at % bytes.length : edit.at % Math.min(bytes.length, focus);
    switch (edit.kind) {
      case 'flip':
        bytes[at]! ^= 1 << edit.bit;
        break;
      case 'set':
        bytes[at] = edit.value;
        break;
      case 'truncate':
        bytes = bytes.subarray(0, at);
        break;
      case 'insert': {
        const next = new Uint8Array(bytes.length + edit.data.length);
        next.set(bytes.subarray(0, at));
        next.set(edit.data, at);
        next.set(bytes.subarray(at), at + edit.data.length);
        bytes = next;
        break;
      }
      case 'delete': {
        const length = Math.min(edit.length, bytes.length - at);
        const next = new Uint8Array(bytes.length - length);
        next.set(bytes.subarray(0, at));
        next.set(bytes.subarray(at + length), at);
        bytes = next;
        break;
      }
      case 'u32':
        if (at + 4 <= bytes.length) new DataView(bytes.buffer, bytes.byteOffset).setUint32(at, edit.value, true);
        break;
    }
  }
  return bytes;
}

function onlyFormatErrors(run: () => unknown): void {
  try {
    run();
  } catch (error) {
    if (!(error instanceof FormatError)) {
      assert.fail(`threw ${(error as Error)?.name}: ${(error as Error)?.message} instead of a FormatError`);
    }
    assert.ok(error.message.length > 0);
  }
}

function fuzz(name: string, seedInput: Uint8Array, focus: number, parse: (bytes: Uint8Array) => unknown): void {
  it(`${name}: ${RUNS} mutated inputs, nothing but FormatError`, () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 6 }), (edits) => {
        const input = mutate(seedInput, edits, focus);
        onlyFormatErrors(() => parse(input));
      }),
      { numRuns: RUNS },
    );
  });
}

describe('fuzz: every parser on mutated input', () => {
  const app = buildAppImage({ size: 0x800, version: 'v1.0.0' });
  const combined = buildCombinedImage({ chip: 'esp32', table: OTA_TABLE, apps: { ota_0: app } });
  const table = encodePartitionTable(OTA_TABLE);
  const otadata = encodeOtadata([makeOtaSelectEntry(1, OtaImageState.VALID), makeOtaSelectEntry(2, OtaImageState.NEW)]);
  const csv = new TextEncoder().encode(formatPartitionCsv(OTA_TABLE));

  fuzz('app image', app, 0x140, (bytes) => {
    looksLikeAppImage(bytes);
    inspectAppImage(bytes);
    onlyFormatErrors(() => parseAppImage(bytes));
    onlyFormatErrors(() => appImageLength(bytes));
    verifyAppImage(bytes, { expectedChip: 'esp32' });
  });
  fuzz('combined image', combined, 0x7200, (bytes) => {
    const file = identifyFirmware(bytes);
    extractApp(bytes, file);
  });
  fuzz('partition table', table, 0x100, (bytes) => validatePartitionTable(parsePartitionTable(bytes)));
  fuzz('otadata', otadata, 0x1020, (bytes) => parseOtadata(bytes));
  fuzz('partition CSV', csv, csv.length, (bytes) => parsePartitionCsv(new TextDecoder().decode(bytes)));
  fuzz('MicroPython identity', app, app.length, (bytes) => findMicroPythonIdentity(bytes));

  it('random bytes of any length through identifyFirmware', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 0x9000 }), fc.constantFrom(0xe9, 0xaa, 0x00), (bytes, first) => {
        if (bytes.length > 0) bytes[0] = first;
        onlyFormatErrors(() => identifyFirmware(bytes));
      }),
      { numRuns: 500 },
    );
  });
});
