import { strict as assert } from 'node:assert';
import { after, describe, it } from 'node:test';
import type { VirtualEsp32 } from '../../src/device/virtual-esp32.js';
import { nativeSha256 } from '../../src/node/native-hash.js';
import { deflateBlocks } from '../../src/ota/compression.js';
import { TransferError } from '../../src/ota/errors.js';
import { FRAME_HEADER_SIZE } from '../../src/ota/frames.js';
import { transferImage, type TransferOptions } from '../../src/ota/transfer.js';
import { ReplClient } from '../../src/repl/index.js';
import { bootedBoard } from '../helpers/virtual-board.js';
import { NorFlash, createSharedFlash } from '../../src/device/nor-flash.js';
import { runBootloader } from '../../src/device/bootloader.js';
import { compressibleImage, cutAfterDataFrames } from './transfer-helpers.js';

const OTA_1 = 0x1d0000;
const BLOCK = 4096;
const FAST: TransferOptions = { sha256: nativeSha256, idleTimeoutMs: 800 };

const boards: VirtualEsp32[] = [];
after(async () => {
  for (const board of boards.splice(0)) await board.stop();
});

/** Frame bytes of a transfer that sends blocks [first, end) as one compressed run: start frame, one frame per block, end frame. */
function runFrameBytes(image: Uint8Array, first: number): number {
  const pieces = deflateBlocks(image.subarray(first * BLOCK), { windowBits: 15 });
  return pieces.reduce((sum, piece) => sum + FRAME_HEADER_SIZE + piece.length, 0) + (FRAME_HEADER_SIZE + 6) + (FRAME_HEADER_SIZE + 36);
}

describe('an interrupted transfer, resumed', () => {
  const image = compressibleImage(96 * BLOCK + 1000, 11); // 97 blocks, the last one partial
  const blocks = Math.ceil(image.length / BLOCK);

  for (const fraction of [0.1, 0.5, 0.99]) {
    it(`cut at ${fraction * 100}%: the partition stays incomplete, and resume sends only the blocks not yet written`, async () => {
      const board = await bootedBoard();
      boards.push(board);
      const sent = Math.floor(blocks * fraction);

      const first = board.connect();
      await assert.rejects(transferImage(new ReplClient(first), cutAfterDataFrames(first, sent), image, FAST), (error: unknown) => {
        assert.ok(error instanceof TransferError, String(error));
        assert.equal(error.code, 'link-lost');
        return true;
      });
      const tail = image.subarray((blocks - 1) * BLOCK);
      assert.ok(!Buffer.from(board.flash.read(OTA_1 + (blocks - 1) * BLOCK, tail.length)).equals(Buffer.from(tail)), 'the last block is not written');
      // A reset now (on a copy of the flash, so this transfer's board carries on) boots the old firmware.
      const copy = new NorFlash(createSharedFlash(board.flash.size));
      copy.bytes.set(board.flash.bytes);
      assert.equal(runBootloader(copy, { chip: board.chip, rollbackEnabled: true, resetReason: 'POWERON_RESET' }).partition.label, 'ota_0');

      if (fraction !== 0.1) {
        // Let the old agent give up on its own (idle timeout); at 10% the new host comes at once and takes over.
        await board.idle();
      }
      // At 10% the old agent still waits for frames (Ctrl-C off) when the new host connects.
      const second = board.connect();
      const result = await transferImage(new ReplClient(second), second, image, { ...FAST, resume: true });
      assert.equal(result.resumedBlocks, sent, 'every block written before the cut is kept');
      assert.equal(result.sentBlocks, blocks - sent);
      assert.equal(result.retransmits, 0);
      assert.equal(result.wireBytes - result.agentBytes, runFrameBytes(image, sent), 'exactly the frames of the missing blocks went over the link');
      assert.equal(result.bytesWritten, image.length - sent * BLOCK);
      assert.ok(Buffer.from(board.flash.read(OTA_1, image.length)).equals(Buffer.from(image)), 'the partition holds the image');
    });
  }

  it('resumes with nothing to send when the partition already holds the image', async () => {
    const board = await bootedBoard();
    boards.push(board);
    const link = board.connect();
    const client = new ReplClient(link);
    await transferImage(client, link, image, FAST);
    const erases = board.flash.stats().sectorErases;
    const again = await transferImage(client, link, image, { ...FAST, resume: true });
    assert.equal(again.resumedBlocks, blocks);
    assert.equal(again.sentBlocks, 0);
    assert.equal(board.flash.stats().sectorErases, erases, 'nothing was erased or written');
  });
});
