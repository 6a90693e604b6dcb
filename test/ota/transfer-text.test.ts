import { strict as assert } from 'node:assert';
import { after, describe, it } from 'node:test';
import type { VirtualEsp32 } from '../../src/device/virtual-esp32.js';
import { buildGeneratedFirmware } from '../../src/device/virtual-firmware.js';
import { nativeSha256 } from '../../src/node/native-hash.js';
import { FrameType, decodeFrame, encodeFrame, encodeWireFrame } from '../../src/ota/frames.js';
import { transferImage } from '../../src/ota/transfer.js';
import { ReplClient } from '../../src/repl/index.js';
import type { Transport } from '../../src/transport/transport.js';
import { bootedBoard } from '../helpers/virtual-board.js';

const OTA_1 = 0x1d0000;
const boards: VirtualEsp32[] = [];
after(async () => {
  for (const board of boards.splice(0)) await board.stop();
});

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The board's UART seen as a browser sees WebREPL: textOnly, and every write
 * and every chunk received must be valid UTF-8 (a browser fails the WebSocket
 * otherwise). `damage` may change a write first.
 */
function textLink(inner: Transport, damage: (data: Uint8Array) => Uint8Array = (data) => data): { transport: Transport; problems: string[]; written: () => number } {
  const problems: string[] = [];
  let written = 0;
  const check = (what: string, data: Uint8Array): void => {
    try {
      strictUtf8.decode(data);
    } catch {
      problems.push(`${what} of ${data.length} bytes is not UTF-8`);
    }
  };
  inner.onData((chunk) => check('received chunk', chunk));
  const transport: Transport = {
    textOnly: true,
    get description() {
      return inner.description;
    },
    get closed() {
      return inner.closed;
    },
    write: (data) => {
      check('write', data);
      written += data.length;
      return inner.write(damage(data));
    },
    onData: (listener) => inner.onData(listener),
    onClose: (listener) => inner.onClose(listener),
    close: () => inner.close(),
  };
  return { transport, problems, written: () => written };
}

async function connected(): Promise<{ board: VirtualEsp32; link: Transport }> {
  const board = await bootedBoard();
  boards.push(board);
  return { board, link: board.connect() };
}

describe('base64 wire frames', () => {
  it('are the binary frame as base64: 16 characters of header starting with p, then the payload', () => {
    const payload = Uint8Array.from({ length: 1000 }, (_, i) => (i * 37) & 0xff);
    const wire = encodeWireFrame('base64', FrameType.Data, 7, payload);
    const text = new TextDecoder().decode(wire);
    assert.match(text, /^p[A-Za-z0-9+/]{15}[A-Za-z0-9+/]+=*$/);
    assert.equal(text.length, 16 + Math.ceil(1000 / 3) * 4);
    const binary = new Uint8Array([...Buffer.from(text.slice(0, 16), 'base64'), ...Buffer.from(text.slice(16), 'base64')]);
    assert.deepEqual(binary, encodeFrame(FrameType.Data, 7, payload));
    const decoded = decodeFrame(binary);
    assert.ok(!('error' in decoded) && decoded.seq === 7);
    assert.deepEqual(encodeWireFrame('binary', FrameType.Data, 7, payload), encodeFrame(FrameType.Data, 7, payload));
  });
});

describe('transfer over a text-only link (base64 framing)', () => {
  it('writes the image byte for byte, with only UTF-8 on the link both ways, and no raw paste', async () => {
    const { board, link } = await connected();
    const text = textLink(link);
    const client = new ReplClient(text.transport);
    const image = buildGeneratedFirmware({ version: 'v1.99.0', buildDate: '2026-01-02', size: 200_000, seed: 9 });
    const result = await transferImage(client, text.transport, image, { sha256: nativeSha256 });
    assert.equal(result.framing, 'base64');
    assert.equal(result.compression, 'deflate');
    assert.deepEqual(text.problems, []);
    assert.equal(client.rawPasteSupported, false, 'raw paste is never asked for on a text-only link');
    assert.ok(Buffer.from(board.flash.read(OTA_1, image.length)).equals(Buffer.from(image)));
  });

  it('a damaged character in a base64 frame is resent, and the image still reads back equal', async () => {
    const { board, link } = await connected();
    let dataFrames = 0;
    let flipped = false;
    const text = textLink(link, (data) => {
      // A base64 frame starts with 'p' (0xA7 >> 2); its 2nd byte holds the type's top bits.
      if (flipped || data[0] !== 0x70 || data.length < 200) return data;
      if (++dataFrames !== 3) return data;
      flipped = true;
      const copy = data.slice();
      copy[100] = copy[100] === 0x41 ? 0x42 : 0x41;
      return copy;
    });
    const client = new ReplClient(text.transport);
    const image = buildGeneratedFirmware({ version: 'v1.99.1', buildDate: '2026-01-02', size: 60_000, seed: 3 });
    const result = await transferImage(client, text.transport, image, { sha256: nativeSha256 });
    assert.ok(flipped);
    assert.ok(result.retransmits >= 1, 'the damaged frame was sent again');
    assert.ok(Buffer.from(board.flash.read(OTA_1, image.length)).equals(Buffer.from(image)));
  });

  it('binary framing on the same board is the default when the link carries bytes', async () => {
    const { link } = await connected();
    const client = new ReplClient(link);
    const image = buildGeneratedFirmware({ version: 'v1.99.2', buildDate: '2026-01-02', size: 20_000, seed: 4 });
    const result = await transferImage(client, link, image, { sha256: nativeSha256 });
    assert.equal(result.framing, 'binary');
  });
});
