/**
 * The host-driven OTA transfer of the real 1.6 MB MicroPython image to the
 * virtual ESP32 over throttled UART links (115,200 and 921,600 baud, 8N1),
 * against a peer measured in the same run: the same image as base64 text in
 * plain raw-REPL exec calls, one `Partition.writeblocks` per 4 KiB block, the
 * way simple host tools do it. Goals: (a) wire bytes ÷ image bytes ≤ 0.70;
 * (b) time ÷ max(wire time, flash busy time) ≤ 1.10; (c) ours ≥ 2x faster.
 * The virtual flash accounts its datasheet busy time but does not wait for it.
 */
import { readFile } from 'node:fs/promises';
import { extractApp } from '../src/format/firmware-file.js';
import { nativeSha256 } from '../src/node/native-hash.js';
import { freshFlash, virtualBoard } from '../src/node/virtual-board.js';
import { transferImage } from '../src/ota/transfer.js';
import { ReplClient } from '../src/repl/repl-client.js';
import { throttle } from '../src/transport/throttled.js';
import { tapWrites } from '../src/transport/tap.js';
import type { Transport } from '../src/transport/transport.js';
import type { VirtualEsp32 } from '../src/device/virtual-esp32.js';
import { FIRMWARE } from './formats.bench.js';

const BLOCK = 4096;
/** The 115,200-baud base64 peer sends this many blocks and is scaled to the whole image (it would take ~3 minutes). */
const SLOW_PEER_BLOCKS = 20;

interface Run {
  ms: number;
  wireBytes: number;
  busyMs: number;
}

export async function benchTransfer(): Promise<string[]> {
  const image = extractApp(new Uint8Array(await readFile(FIRMWARE))).bytes;
  const blocks = Math.ceil(image.length / BLOCK);
  const lines = [
    `transfer: real image ${image.length.toLocaleString('en')} bytes to the virtual ESP32 over throttled 8N1 links`,
    '  (flash busy time: datasheet timing the virtual flash accounts but does not wait for)',
  ];
  for (const baud of [921_600, 115_200]) {
    const bytesPerSecond = baud / 10;
    const ours = await onBoard(baud, async (client, link) => {
      const result = await transferImage(client, link, image, { sha256: nativeSha256 });
      if (result.compression !== 'deflate') throw new Error('the transfer did not compress');
    });
    const wireMs = (ours.wireBytes / bytesPerSecond) * 1000;
    const bound = Math.max(wireMs, ours.busyMs);
    lines.push(
      `  ${baud.toLocaleString('en')} baud, ours: ${seconds(ours.ms)}, ${ours.wireBytes.toLocaleString('en')} bytes sent`,
      `    (a) wire ÷ image                     ${(ours.wireBytes / image.length).toFixed(3)}   (goal ≤ 0.70)`,
      `    (b) time ÷ max(wire ${seconds(wireMs)}, flash busy ${seconds(ours.busyMs)}) ${(ours.ms / bound).toFixed(3)}   (goal ≤ 1.10; time ÷ wire time alone ${(ours.ms / wireMs).toFixed(3)})`,
    );
    const peerBlocks = baud < 500_000 ? SLOW_PEER_BLOCKS : blocks;
    let decodeMs = 0;
    const peer = await onBoard(baud, async (client) => {
      await base64Peer(client, image, peerBlocks);
      decodeMs = await base64DecodeMs(client);
    });
    const scale = blocks / peerBlocks;
    const peerMs = peer.ms * scale;
    // What the peer would take with a C a2b_base64, as on a real board: the fair comparison.
    const fairPeerMs = peerMs - decodeMs * blocks;
    lines.push(
      `    (c) base64 exec peer: ${seconds(peerMs)}${scale > 1 ? ` (${peerBlocks} blocks in ${seconds(peer.ms)}, scaled ×${scale.toFixed(1)})` : ''}, ` +
        `${Math.round(peer.wireBytes * scale).toLocaleString('en')} bytes sent (${((peer.wireBytes * scale) / image.length).toFixed(3)} of the image)`,
      `        without the virtual board's pure-Python a2b_base64 (${decodeMs.toFixed(1)} ms a block): ${seconds(fairPeerMs)}; ` +
        `ours is ${(fairPeerMs / ours.ms).toFixed(2)}x faster (goal ≥ 2x; ${(peerMs / ours.ms).toFixed(2)}x as measured)`,
    );
  }
  return lines;
}

/**
 * The cost of the base64 framing that a browser's WebREPL link needs (a text
 * frame must be UTF-8), against binary frames in the same run: the real image,
 * compressed, to the virtual board over an unthrottled link. The time includes
 * the virtual board's pure-Python a2b_base64 (a board has it in C).
 */
export async function benchTextFraming(): Promise<string[]> {
  const image = extractApp(new Uint8Array(await readFile(FIRMWARE))).bytes;
  const runs: Record<string, Run> = {};
  for (const framing of ['binary', 'base64'] as const) {
    runs[framing] = await onBoard(undefined, async (client, link) => {
      const result = await transferImage(client, link, image, { sha256: nativeSha256, framing });
      if (result.framing !== framing) throw new Error(`asked for ${framing} framing, got ${result.framing}`);
    });
  }
  const [binary, base64] = [runs['binary']!, runs['base64']!];
  return [
    'transfer framing for text-only links (a browser on WebREPL): base64 vs binary frames, real image, unthrottled link',
    `  wire bytes: binary ${binary.wireBytes.toLocaleString('en')}, base64 ${base64.wireBytes.toLocaleString('en')}: ratio ${(base64.wireBytes / binary.wireBytes).toFixed(3)} ` +
      `(${(base64.wireBytes / image.length).toFixed(3)} of the image; bound 4/3 = 1.333 on the frames)`,
    `  time: binary ${seconds(binary.ms)}, base64 ${seconds(base64.ms)}: ratio ${(base64.ms / binary.ms).toFixed(2)} (the virtual board decodes base64 in pure Python)`,
  ];
}

/** A fresh board, a throttled link to it that counts what the host sends, the time and flash busy time of `work`. */
async function onBoard(baud: number | undefined, work: (client: ReplClient, link: Transport) => Promise<void>): Promise<Run> {
  const board = virtualBoard(freshFlash());
  await board.powerOn();
  await board.idle();
  try {
    const link = board.connect();
    const { transport, written } = counting(baud === undefined ? link : throttle(link, { bitsPerSecond: baud }));
    const client = new ReplClient(transport, { timeoutMs: 60_000 });
    const busyBefore = busy(board);
    const start = performance.now();
    await work(client, transport);
    const ms = performance.now() - start;
    return { ms, wireBytes: written(), busyMs: busy(board) - busyBefore };
  } finally {
    await board.stop();
  }
}

/** One exec per block: `p.writeblocks(k, a2b_base64(...))` through the raw REPL (raw-paste when offered, as mpremote). */
async function base64Peer(client: ReplClient, image: Uint8Array, blocks: number): Promise<void> {
  await client.enterRawRepl();
  await client.exec("import esp32, binascii\np = esp32.Partition(esp32.Partition.RUNNING).get_next_update()");
  const padded = new Uint8Array(BLOCK);
  for (let k = 0; k < blocks; k++) {
    let block = image.subarray(k * BLOCK, (k + 1) * BLOCK);
    if (block.length < BLOCK) {
      padded.fill(0xff).set(block);
      block = padded;
    }
    await client.exec(`p.writeblocks(${k}, binascii.a2b_base64(b'${Buffer.from(block).toString('base64')}'))`);
  }
}

/**
 * Milliseconds the board's a2b_base64 takes for one block. The interpreter of
 * the virtual board has micropython-lib's pure-Python binascii.a2b_base64
 * (tens of ms a block); an ESP32 has it in C (well under a millisecond).
 */
async function base64DecodeMs(client: ReplClient): Promise<number> {
  const text = Buffer.from(new Uint8Array(BLOCK).map((_, i) => (i * 7) & 0xff)).toString('base64');
  const out = await client.exec(
    `import binascii, time\nt = time.ticks_us()\nfor i in range(8): binascii.a2b_base64(b'${text}')\nprint(time.ticks_diff(time.ticks_us(), t) / 8000)`,
  );
  return Number(new TextDecoder().decode(out).trim());
}

function busy(board: VirtualEsp32): number {
  return board.flash.stats().busyMs;
}

function counting(inner: Transport): { transport: Transport; written: () => number } {
  let written = 0;
  return { transport: tapWrites(inner, (data) => (written += data.length)), written: () => written };
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const line of await benchTransfer()) console.log(line);
}
