import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { crc32 } from '../../src/format/crc32.js';
import {
  FRAME_HEADER_SIZE,
  FRAME_SYNC,
  FrameType,
  MAX_PAYLOAD,
  decodeFrame,
  encodeFrame,
  endPayload,
  parseAgentLine,
  startPayload,
} from '../../src/ota/frames.js';

describe('frames', () => {
  const payload = new TextEncoder().encode('a block of image data');

  it('lays out the header as documented', () => {
    const frame = encodeFrame(FrameType.Data, 0x1234, payload);
    const view = new DataView(frame.buffer);
    assert.equal(frame.length, FRAME_HEADER_SIZE + payload.length);
    assert.equal(frame[0], FRAME_SYNC);
    assert.equal(frame[1], 0x44);
    assert.equal(view.getUint16(2, true), 0x1234);
    assert.equal(view.getUint16(4, true), payload.length);
    assert.equal(view.getUint32(6, true), crc32(payload));
    assert.equal(view.getUint16(10, true), crc32(frame.subarray(0, 10)) & 0xffff);
    assert.deepEqual(decodeFrame(frame), { type: FrameType.Data, seq: 0x1234, payload });
  });

  it('notices any single damaged byte, in the header or in the payload', () => {
    const frame = encodeFrame(FrameType.Data, 7, payload);
    for (let at = 0; at < frame.length; at++) {
      for (const flip of [0x01, 0x80, 0xff]) {
        const damaged = frame.slice();
        damaged[at]! ^= flip;
        const decoded = decodeFrame(damaged);
        assert.ok('error' in decoded, `byte ${at} ^ ${flip} is caught`);
        const expected = at === 0 ? 'sync' : at < FRAME_HEADER_SIZE ? ['header', 'short'] : 'payload';
        if (Array.isArray(expected)) assert.ok(expected.includes(decoded.error));
        else assert.equal(decoded.error, expected);
      }
    }
  });

  it('refuses sequence numbers and payloads that do not fit', () => {
    assert.throws(() => encodeFrame(FrameType.Data, 0x10000), RangeError);
    assert.throws(() => encodeFrame(FrameType.Data, 1, new Uint8Array(MAX_PAYLOAD + 1)), RangeError);
    assert.equal(encodeFrame(FrameType.Data, 1, new Uint8Array(MAX_PAYLOAD)).length, MAX_PAYLOAD + FRAME_HEADER_SIZE);
  });

  it('packs the start and end payloads little-endian', () => {
    assert.deepEqual([...startPayload(0x01020304, 1, 15)], [4, 3, 2, 1, 1, 15]);
    const sha = new Uint8Array(32).fill(0xcd);
    const end = endPayload(1_672_800, sha);
    assert.equal(new DataView(end.buffer).getUint32(0, true), 1_672_800);
    assert.deepEqual(end.subarray(4), sha);
    assert.throws(() => endPayload(1, new Uint8Array(31)), RangeError);
  });
});

describe('parseAgentLine', () => {
  it('reads the agent lines as a board prints them (cooked \\r\\n)', () => {
    assert.deepEqual(parseAgentLine('@H 1 win=256 max=8192 mem=104512 deflate=1 part=ota_1 addr=1900544 size=1835008 blocks=409\r\n'), {
      kind: 'hello',
      version: 1,
      fields: { win: '256', max: '8192', mem: '104512', deflate: '1', part: 'ota_1', addr: '1900544', size: '1835008', blocks: '409' },
    });
    assert.deepEqual(parseAgentLine('@Q 16 0000abcd ffffffff\r'), { kind: 'crcs', first: 16, crcs: [0xabcd, 0xffffffff] });
    assert.deepEqual(parseAgentLine('@R\r'), { kind: 'ready' });
    assert.deepEqual(parseAgentLine('@C 2048'), { kind: 'credit', consumed: 2048 });
    assert.deepEqual(parseAgentLine('@W 2048\r'), { kind: 'starving', consumed: 2048 });
    assert.deepEqual(parseAgentLine('@A 12 38000 40960\r'), { kind: 'ack', seq: 12, start: 38000, consumed: 40960 });
    assert.deepEqual(parseAgentLine('@N 12 40960'), { kind: 'nak', seq: 12, consumed: 40960 });
    const sha = '751da117e2cb4e6036f59d709d55ee2adf150e5f63e8d9fcc02b2b9d8743aaf8';
    assert.deepEqual(parseAgentLine(`@E ${sha} 1672800\r`), { kind: 'done', sha256Hex: sha, length: 1672800 });
    assert.deepEqual(parseAgentLine('@F toosmall the image has 3 bytes, partition ota_1 only 2\r'), {
      kind: 'failed',
      code: 'toosmall',
      message: 'the image has 3 bytes, partition ota_1 only 2',
    });
  });

  it('ignores other output and malformed reports', () => {
    for (const line of ['', '\r', 'W (1234) boot: a warning', '@', '@Z 1', '@A x 1', '@A 1 2', '@C', '@E nothex 12', '@Q 0 xyz', '@H v1']) {
      assert.equal(parseAgentLine(line), undefined, JSON.stringify(line));
    }
    assert.deepEqual(parseAgentLine('noise before @C 5'), { kind: 'credit', consumed: 5 });
  });
});
