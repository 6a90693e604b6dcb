import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  BLANK_ENTRY,
  OTADATA_SIZE,
  OtaImageState,
  activeEntryIndex,
  decodeOtaSelectEntry,
  encodeOtaSelectEntry,
  encodeOtadata,
  entryProblem,
  isEntryValid,
  makeOtaSelectEntry,
  otaSelectCrc,
  otaSlotOfSeq,
  parseOtadata,
  type OtaData,
} from '../../src/format/otadata.js';
import { FormatError } from '../../src/format/errors.js';
import { crc32 } from '../../src/format/crc32.js';

describe('otadata CRC', () => {
  it('matches binascii.crc32(struct.pack("<I", seq), 0xFFFFFFFF)', () => {
    // Vectors from CPython's binascii, an independent implementation.
    assert.equal(otaSelectCrc(1), 0x4743989a);
    assert.equal(otaSelectCrc(2), 0x55f63774);
    assert.equal(otaSelectCrc(3), 0xed4a5011);
    assert.equal(otaSelectCrc(16), 0xafe6a860);
    assert.equal(otaSelectCrc(0xfffffffe), 0x99f8b879);
  });

  it('is the standard CRC-32 (check value of "123456789")', () => {
    assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
  });
});

const entryArbitrary = fc.record({
  seq: fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.constantFrom(0xffffffff, 1, 2)),
  label: fc.uint8Array({ minLength: 20, maxLength: 20 }),
  state: fc.constantFrom(0, 1, 2, 3, 4, 0xffffffff, 7),
  crc: fc.integer({ min: 0, max: 0xffffffff }),
}).map((entry) => ({ ...entry })); // fast-check records have a null prototype

describe('otadata codec', () => {
  it('round-trips any entry through encode and decode', () => {
    fc.assert(
      fc.property(entryArbitrary, (entry) => {
        const bytes = encodeOtaSelectEntry(entry);
        assert.equal(bytes.length, 32);
        assert.deepEqual(decodeOtaSelectEntry(bytes), entry);
        assert.deepEqual(encodeOtaSelectEntry(decodeOtaSelectEntry(bytes)), bytes);
      }),
    );
  });

  it('round-trips a whole partition: parse(encode(x)) == x and encode(parse(bytes)) == bytes', () => {
    fc.assert(
      fc.property(entryArbitrary, entryArbitrary, (a, b) => {
        const bytes = encodeOtadata([a, b]);
        assert.equal(bytes.length, OTADATA_SIZE);
        const parsed = parseOtadata(bytes);
        assert.deepEqual(parsed, [a, b]);
        assert.deepEqual(encodeOtadata(parsed), bytes);
      }),
    );
  });

  it('lays entry 1 out at the start of the second sector, little-endian', () => {
    const bytes = encodeOtadata([BLANK_ENTRY, makeOtaSelectEntry(2, OtaImageState.NEW)]);
    assert.deepEqual([...bytes.subarray(0x1000, 0x1004)], [2, 0, 0, 0]);
    assert.deepEqual([...bytes.subarray(0x1018, 0x101c)], [0, 0, 0, 0]);
    assert.deepEqual([...bytes.subarray(0x101c, 0x1020)], [0x74, 0x37, 0xf6, 0x55]);
    assert.ok(bytes.subarray(0, 32).every((b) => b === 0xff));
  });

  it('refuses a truncated dump with the offset where it ends', () => {
    assert.throws(() => parseOtadata(new Uint8Array(0x1010)), (error: unknown) => {
      assert.ok(error instanceof FormatError);
      assert.equal(error.offset, 0x1010);
      assert.match(error.message, /otadata truncated: 4112 bytes/);
      return true;
    });
  });
});

describe('otadata validity, as bootloader_common_ota_select_valid', () => {
  it('counts NEW, PENDING_VERIFY, VALID and UNDEFINED entries with a good CRC as valid', () => {
    for (const state of [OtaImageState.NEW, OtaImageState.PENDING_VERIFY, OtaImageState.VALID, OtaImageState.UNDEFINED]) {
      assert.equal(isEntryValid(makeOtaSelectEntry(5, state)), true, `state ${state}`);
    }
  });

  it('rejects INVALID, ABORTED, blank and bad-CRC entries, and says why', () => {
    assert.equal(entryProblem(makeOtaSelectEntry(5, OtaImageState.INVALID)), 'state INVALID');
    assert.equal(entryProblem(makeOtaSelectEntry(5, OtaImageState.ABORTED)), 'state ABORTED');
    assert.equal(entryProblem(BLANK_ENTRY), 'blank (erased)');
    const badCrc = { ...makeOtaSelectEntry(5, OtaImageState.VALID), crc: 0x12345678 };
    assert.equal(isEntryValid(badCrc), false);
    assert.match(entryProblem(badCrc)!, /^bad CRC 0x12345678 \(expected 0x[0-9a-f]{8}\)$/);
    assert.equal(entryProblem(makeOtaSelectEntry(5, OtaImageState.VALID)), undefined);
  });

  it('picks the valid entry with the larger seq, entry 0 on a tie', () => {
    const valid1 = makeOtaSelectEntry(1, OtaImageState.VALID);
    const new2 = makeOtaSelectEntry(2, OtaImageState.NEW);
    // The seed would pick entry 0 here, because entry 1 is not in state VALID.
    assert.equal(activeEntryIndex([valid1, new2]), 1);
    assert.equal(activeEntryIndex([new2, valid1]), 0);
    assert.equal(activeEntryIndex([valid1, valid1]), 0);
    assert.equal(activeEntryIndex([makeOtaSelectEntry(9, OtaImageState.ABORTED), valid1]), 1);
    assert.equal(activeEntryIndex([BLANK_ENTRY, BLANK_ENTRY]), undefined);
  });

  it('maps a seq to its slot as (seq - 1) % count, with uint32 wrap-around', () => {
    assert.equal(otaSlotOfSeq(1, 2), 0);
    assert.equal(otaSlotOfSeq(2, 2), 1);
    assert.equal(otaSlotOfSeq(7, 3), 0);
    assert.equal(otaSlotOfSeq(0, 2), 1); // (0 - 1) as uint32 is 0xffffffff, odd
    assert.equal(otaSlotOfSeq(0, 3), 0xffffffff % 3);
  });

  it('active entry agrees with a brute-force reading of the rule for any pair', () => {
    fc.assert(
      fc.property(entryArbitrary, entryArbitrary, fc.boolean(), fc.boolean(), (a, b, fixA, fixB) => {
        const pair: OtaData = [fixA ? { ...a, crc: otaSelectCrc(a.seq) } : a, fixB ? { ...b, crc: otaSelectCrc(b.seq) } : b];
        const valid = pair.map(
          (e) => e.seq !== 0xffffffff && e.state !== 3 && e.state !== 4 && e.crc === otaSelectCrc(e.seq),
        );
        const expected = valid[0] && valid[1] ? (pair[0].seq >= pair[1].seq ? 0 : 1) : valid[0] ? 0 : valid[1] ? 1 : undefined;
        assert.equal(activeEntryIndex(pair), expected);
      }),
    );
  });
});
