import { strict as assert } from 'node:assert';
import { after, describe, it } from 'node:test';
import type { VirtualEsp32 } from '../../src/device/virtual-esp32.js';
import { buildGeneratedFirmware } from '../../src/device/virtual-firmware.js';
import { extractApp } from '../../src/format/firmware-file.js';
import { nativeSha256 } from '../../src/node/native-hash.js';
import { TransferError } from '../../src/ota/errors.js';
import { FrameType } from '../../src/ota/frames.js';
import { transferImage, type TransferOptions } from '../../src/ota/transfer.js';
import { DeviceError, ReplClient } from '../../src/repl/index.js';
import type { Transport } from '../../src/transport/transport.js';
import { realFirmware } from '../helpers/testdata.js';
import { bootedBoard } from '../helpers/virtual-board.js';
import { compressibleImage, corruptDataFrame, countingTransport, tapWrites, startsFrame } from './transfer-helpers.js';

/** ota_1 of the virtual board's default table; the board runs from ota_0. */
const OTA_1 = 0x1d0000;
const OTA_SIZE = 0x1c0000;
const FAST: TransferOptions = { sha256: nativeSha256, idleTimeoutMs: 1000 };

const boards: VirtualEsp32[] = [];
after(async () => {
  for (const board of boards.splice(0)) await board.stop();
});

async function connected(): Promise<{ board: VirtualEsp32; link: Transport; client: ReplClient }> {
  const board = await bootedBoard();
  boards.push(board);
  const link = board.connect();
  return { board, link, client: new ReplClient(link) };
}

function partitionHolds(board: VirtualEsp32, image: Uint8Array): boolean {
  return Buffer.from(board.flash.read(OTA_1, image.length)).equals(Buffer.from(image));
}

/** Ctrl-C stops a busy loop: the agent gave the interrupt character back (micropython.kbd_intr(3)). */
async function assertCtrlCWorks(client: ReplClient, link: Transport): Promise<void> {
  const program = await client.startProgram('while True:\n    pass\n');
  await new Promise((resolve) => setTimeout(resolve, 50));
  await link.write(Uint8Array.of(0x03));
  const outcome = await program.finish({ timeoutMs: 5000 }).then(
    () => undefined,
    (error: unknown) => error,
  );
  assert.ok(outcome instanceof DeviceError, 'the loop ended with an exception');
  assert.match(outcome.traceback, /KeyboardInterrupt/);
}

describe('transferImage on the virtual ESP32', () => {
  it('writes a generated image into the next OTA partition, byte for byte, and gives Ctrl-C back', async () => {
    const { board, link, client } = await connected();
    const image = buildGeneratedFirmware({ version: 'v1.99.0', buildDate: '2026-01-02', size: 300_000, seed: 5 });
    const counted = countingTransport(link);
    const progress: number[] = [];
    const result = await transferImage(client, counted.transport, image, { ...FAST, onProgress: (p) => progress.push(p.ackedBytes) });
    assert.equal(result.partition, 'ota_1');
    assert.equal(result.bytesWritten, image.length);
    assert.equal(result.sentBlocks, Math.ceil(image.length / 4096));
    assert.equal(result.resumedBlocks, 0);
    assert.equal(result.retransmits, 0);
    assert.equal(result.sha256Hex, Buffer.from(nativeSha256(image)).toString('hex'));
    assert.equal(result.wireBytes - result.agentBytes, counted.written(), 'wireBytes counts every frame byte written');
    assert.ok(partitionHolds(board, image));
    assert.equal(progress.at(-1), image.length);
    assert.ok(progress.every((value, i) => i === 0 || value >= progress[i - 1]!), 'progress only grows');
    await assertCtrlCWorks(client, link);
    assert.equal(await client.evalJson('1+1'), 2, 'the client is back at the raw REPL');
  });

  it('sends the real v1.23.0 image compressed and plain; both read back byte-equal', async (t) => {
    const firmware = realFirmware(t);
    if (!firmware) return;
    const image = extractApp(firmware).bytes;
    assert.equal(image.length, 1_672_800);
    const { board, link, client } = await connected();
    const blocks = Math.ceil(image.length / 4096);
    let before = board.flash.stats();
    const compressed = await transferImage(client, link, image, { ...FAST, compress: 'on' });
    assert.equal(compressed.compression, 'deflate');
    assert.ok(partitionHolds(board, image));
    assert.equal(compressed.eraseUnit, 65536);
    assert.equal(board.flash.stats().blockErases - before.blockErases, Math.ceil(blocks / 16), 'one 64 KiB block erase per 16 blocks, the last group too');
    assert.equal(board.flash.stats().sectorErases, before.sectorErases, 'no sector erases');
    board.flash.erase(OTA_1, OTA_SIZE);
    before = board.flash.stats();
    const plain = await transferImage(client, link, image, { ...FAST, compress: 'off', erase: 'sector' });
    assert.equal(plain.compression, 'none');
    assert.equal(plain.eraseUnit, 4096);
    assert.ok(partitionHolds(board, image));
    assert.equal(board.flash.stats().sectorErases - before.sectorErases, blocks, 'one sector erase per 4 KiB block');
    const ratio = compressed.wireBytes / image.length;
    t.diagnostic(
      `real image ${image.length} B: compressed wire ${compressed.wireBytes} B (ratio ${ratio.toFixed(3)}, window bits ${compressed.windowBits}), ` +
        `plain wire ${plain.wireBytes} B (ratio ${(plain.wireBytes / image.length).toFixed(3)}); agent upload ${compressed.agentBytes} B`,
    );
    assert.ok(ratio < 0.7, `compressed wire/image ${ratio.toFixed(3)} is at most 0.70`);
    assert.ok(plain.wireBytes / image.length < 1.02);
  });

  it('detects a frame damaged in its payload and sends it again', async () => {
    const { board, link, client } = await connected();
    const image = compressibleImage(40 * 4096 + 123, 7);
    const damaged = corruptDataFrame(link, 10, 200);
    const result = await transferImage(client, damaged.transport, image, FAST);
    assert.ok(damaged.flipped());
    assert.ok(result.retransmits >= 1, `retransmits: ${result.retransmits}`);
    assert.ok(partitionHolds(board, image));
  });

  it('finds the frames again after a damaged header and sends the damaged one again', async () => {
    const { board, link, client } = await connected();
    const image = compressibleImage(40 * 4096, 8);
    for (const offset of [0, 3, 5]) {
      // sync byte, sequence number, payload length
      const damaged = corruptDataFrame(link, 12 + offset, offset);
      board.flash.erase(OTA_1, 0x40000);
      const result = await transferImage(client, damaged.transport, image, { ...FAST, compress: offset === 5 ? 'off' : 'on' });
      assert.ok(damaged.flipped());
      assert.ok(result.retransmits >= 1, `offset ${offset}: retransmits ${result.retransmits}`);
      assert.ok(partitionHolds(board, image), `offset ${offset}`);
    }
  });

  it('gets through a noisy link that flips and drops bytes, small window or large', async () => {
    const { board, link, client } = await connected();
    const image = compressibleImage(60 * 4096 + 77, 12);
    for (const [window, seed] of [
      [512, 3],
      [32768, 4],
    ] as const) {
      let state = seed;
      const random = (): number => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
      let framesStarted = false;
      let damage = 0;
      const noisy = tapWrites(link, (data) => {
        framesStarted ||= startsFrame(data, FrameType.Start);
        if (!framesStarted) return data;
        const out: number[] = [];
        for (const byte of data) {
          if (random() >= 1 / 8000) out.push(byte);
          else if ((damage++, random() < 0.5)) out.push(byte ^ (1 << Math.floor(random() * 8)));
          // else: the byte is lost, as a UART overrun loses it
        }
        return Uint8Array.from(out);
      });
      board.flash.erase(OTA_1, 0x40000);
      const result = await transferImage(client, noisy, image, { ...FAST, window });
      assert.ok(damage >= 5, `window ${window}: ${damage} bytes damaged or lost`);
      assert.ok(result.retransmits >= 3, `window ${window}: ${result.retransmits} retransmits`);
      assert.ok(partitionHolds(board, image), `window ${window}`);
    }
  });

  it('refuses an image whose SHA-256 is not the expected one, before sending anything', async () => {
    const { board, client, link } = await connected();
    const image = compressibleImage(8192);
    const before = board.flash.stats().operations;
    await assert.rejects(transferImage(client, link, image, { ...FAST, expectedSha256: '00'.repeat(32) }), (error: unknown) => {
      assert.ok(error instanceof TransferError);
      assert.equal(error.code, 'sha-mismatch');
      return true;
    });
    assert.equal(board.flash.stats().operations, before, 'nothing was written');
  });

  it('has the board refuse data whose SHA-256 differs from the one in the end frame, and gives Ctrl-C back', async () => {
    const { client, link } = await connected();
    const image = compressibleImage(5 * 4096 + 7);
    const wrongHash = () => new Uint8Array(32).fill(0xab);
    await assert.rejects(transferImage(client, link, image, { ...FAST, sha256: wrongHash }), (error: unknown) => {
      assert.ok(error instanceof TransferError);
      assert.equal(error.code, 'sha-mismatch');
      assert.match(error.agentReport ?? '', /^sha received data has SHA-256 [0-9a-f]{64}, expected (ab){32}/);
      return true;
    });
    await assertCtrlCWorks(client, link);
  });

  it('reads the partition back and reports a flash that does not hold what was written', async () => {
    const { board, client, link } = await connected();
    const image = compressibleImage(30 * 4096);
    let tampered = false;
    const result = transferImage(client, link, image, {
      ...FAST,
      onProgress: (p) => {
        // The first 16 blocks are written (one 64 KiB group) once the 17th is acknowledged.
        if (!tampered && p.ackedBytes >= 17 * 4096) {
          tampered = true;
          board.flash.bytes[OTA_1 + 100]! ^= 0x01; // a bit flips in a block already written
        }
      },
    });
    await assert.rejects(result, (error: unknown) => error instanceof TransferError && error.code === 'readback-mismatch');
    assert.ok(tampered);
  });

  it('names the partition problems: too small, running, missing', async () => {
    const { client, link } = await connected();
    const cases: [string, Uint8Array, TransferErrorCodeLike][] = [
      ['next', new Uint8Array(OTA_SIZE + 1), 'partition-too-small'],
      ['ota_0', new Uint8Array(4096), 'running-partition'],
      ['nosuch', new Uint8Array(4096), 'no-partition'],
    ];
    for (const [partition, image, code] of cases) {
      await assert.rejects(transferImage(client, link, image, { ...FAST, partition }), (error: unknown) => error instanceof TransferError && error.code === code);
    }
    await assertCtrlCWorks(client, link);
  });

  it('stops when the caller aborts, and the board is usable afterwards', async () => {
    const { client, link } = await connected();
    const image = compressibleImage(60 * 4096, 3);
    const controller = new AbortController();
    let frames = 0;
    const slow = tapWrites(link, (data) => {
      if (startsFrame(data, FrameType.Data) && ++frames === 10) controller.abort();
      return data;
    });
    await assert.rejects(
      transferImage(client, slow, image, { ...FAST, signal: controller.signal }),
      (error: unknown) => error instanceof TransferError && error.code === 'aborted',
    );
    await assertCtrlCWorks(client, link);
  });
});

type TransferErrorCodeLike = TransferError['code'];
