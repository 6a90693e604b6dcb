import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toHex } from '../../src/format/bytes.js';
import {
  BoardFrameReader,
  encodeFrame,
  encodeFrames,
  handshakeResponse,
  htmlPage,
  parseUpgradeRequest,
  requestHeadEnd,
  type FrameEvent,
} from '../../src/webrepl/board-websocket.js';

function masked(opcode: number, payload: Uint8Array, mask: number[], fin = true): Uint8Array {
  const header = payload.length < 126 ? [(fin ? 0x80 : 0) | opcode, 0x80 | payload.length] : [(fin ? 0x80 : 0) | opcode, 0x80 | 126, payload.length >> 8, payload.length & 0xff];
  return Uint8Array.from([...header, ...mask, ...payload.map((byte, i) => byte ^ mask[i & 3]!)]);
}

function unmasked(opcode: number, payload: Uint8Array): Uint8Array {
  return Uint8Array.from([0x80 | opcode, payload.length, ...payload]);
}

/** Data events merged into [text, hex] runs; other events by kind. */
function summary(events: FrameEvent[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const event of events) {
    if (event.kind !== 'data') {
      out.push([event.kind, '']);
      continue;
    }
    const kind = event.text ? 'text' : 'binary';
    const last = out[out.length - 1];
    if (last && last[0] === kind) last[1] += toHex(event.payload);
    else out.push([kind, toHex(event.payload)]);
  }
  return out;
}

describe('the board’s WebSocket framing', () => {
  it('writes frames as modwebsocket.c: FIN, unmasked, 7-bit or 16-bit length', () => {
    assert.equal(toHex(encodeFrame(1, new TextEncoder().encode('Password: '))), '810a' + toHex(new TextEncoder().encode('Password: ')));
    assert.equal(toHex(encodeFrame(2, new Uint8Array(125)).subarray(0, 2)), '827d');
    assert.equal(toHex(encodeFrame(2, new Uint8Array(126)).subarray(0, 4)), '827e007e');
    assert.equal(toHex(encodeFrame(1, new Uint8Array(0xffff)).subarray(0, 4)), '817effff');
    assert.throws(() => encodeFrame(1, new Uint8Array(0x10000)), /65535/);
    const frames = encodeFrames(1, new Uint8Array(0x10000 + 5));
    assert.deepEqual(
      frames.map((frame) => frame.length),
      [4 + 0xffff, 2 + 6],
    );
  });

  it('reads masked and unmasked frames, fed in any split', () => {
    const payload = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff);
    const stream = Uint8Array.from([
      ...masked(1, Uint8Array.of(0x31, 0x0d), [1, 2, 3, 4]),
      ...masked(2, payload, [0xde, 0xad, 0xbe, 0xef]),
      ...unmasked(1, Uint8Array.of(0x80, 0xff, 0x00)), // webrepl_cli style, not UTF-8
    ]);
    const expected = [
      ['text', '310d'],
      ['binary', toHex(payload)],
      ['text', '80ff00'],
    ];
    for (const step of [stream.length, 1, 3, 7, 64]) {
      const reader = new BoardFrameReader();
      const events: FrameEvent[] = [];
      for (let at = 0; at < stream.length; at += step) events.push(...reader.feed(stream.subarray(at, at + step)));
      assert.deepEqual(summary(events), expected, `step ${step}`);
    }
  });

  it('carries the last data type over continuation frames and skips ping and pong', () => {
    const reader = new BoardFrameReader();
    const events = reader.feed(
      Uint8Array.from([
        ...masked(2, Uint8Array.of(1, 2), [9, 9, 9, 9], false),
        ...masked(9, Uint8Array.of(0x70, 0x69), [5, 6, 7, 8]), // ping: ignored, no pong
        ...masked(0, Uint8Array.of(3), [1, 1, 1, 1]),
        ...masked(10, new Uint8Array(0), [0, 0, 0, 0]), // pong
        ...unmasked(1, Uint8Array.of(0x41)),
      ]),
    );
    assert.deepEqual(summary(events), [
      ['binary', '010203'],
      ['text', '41'],
    ]);
  });

  it('reports a close frame and stops there', () => {
    const reader = new BoardFrameReader();
    const events = reader.feed(Uint8Array.from([...masked(8, Uint8Array.of(0x03, 0xe8), [1, 2, 3, 4]), ...unmasked(1, Uint8Array.of(0x41))]));
    assert.deepEqual(summary(events), [['close', '']]);
    assert.deepEqual(reader.feed(unmasked(1, Uint8Array.of(0x42))), []);
  });

  it('gives up on a 64-bit length, as the board does', () => {
    const reader = new BoardFrameReader();
    assert.deepEqual(summary(reader.feed(Uint8Array.of(0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0))), [['unsupported-length', '']]);
  });

  it('passes empty data frames without events (not EOF)', () => {
    const reader = new BoardFrameReader();
    assert.deepEqual(summary(reader.feed(Uint8Array.from([...unmasked(1, new Uint8Array(0)), ...unmasked(1, Uint8Array.of(0x43))]))), [['text', '43']]);
  });
});

describe('the board’s WebSocket handshake', () => {
  const request = (headers: string): string => `GET / HTTP/1.1\r\n${headers}\r\n`;

  it('finds the end of the request head', () => {
    const bytes = Uint8Array.from(Buffer.from('GET / HTTP/1.1\r\nA: b\r\n\r\n\x81\x00', 'latin1'));
    assert.equal(requestHeadEnd(bytes), bytes.length - 2);
    assert.equal(requestHeadEnd(new TextEncoder().encode('GET / HTTP/1.1\r\nA: b\r\n')), -1);
  });

  it('upgrades what webrepl.py upgrades, webrepl_cli’s "foo" key included', () => {
    assert.deepEqual(parseUpgradeRequest(request('Host: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: foo\r\n')), { upgrade: true, key: 'foo' });
    assert.equal(parseUpgradeRequest(request('Connection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\n')).upgrade, true);
    assert.equal(parseUpgradeRequest(request('Connection: Upgrade\r\nUpgrade: websocket\r\n')).upgrade, false, 'no key');
    assert.equal(parseUpgradeRequest(request('Upgrade: websocket\r\nSec-WebSocket-Key: k\r\n')).upgrade, false, 'no Connection');
    assert.equal(parseUpgradeRequest(request('Connection: Upgrade\r\nUpgrade: h2c\r\nSec-WebSocket-Key: k\r\n')).upgrade, false);
    assert.equal(parseUpgradeRequest(request('Accept: text/html\r\n')).upgrade, false);
  });

  it('answers with webrepl.py’s exact bytes', () => {
    assert.equal(handshakeResponse('s3pPLMBiTxaQ9kYGzzhZRbK+xOo='), 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n');
    assert.equal(htmlPage(), 'HTTP/1.0 200 OK\r\n\r\n<base href="https://micropython.org/webrepl/"></base>\r\n<script src="webrepl_content.js"></script>\r\n');
  });
});
