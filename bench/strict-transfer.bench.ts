/**
 * The host-driven OTA transfer of the real 1.6 MB MicroPython image to a
 * board-faithful virtual ESP32 (259-byte stdin ring, the console's rate,
 * flash operations that block for their datasheet time, ×1): a UART at
 * 115,200 baud, the same board switched to 921,600 for the transfer
 * (options.baud), a UART at 921,600, and USB-CDC. Each run against bounds
 * from the same run:
 *   physical: max(wire time, flash busy time with 64 KiB block erases)
 *   serial:   wire time + flash busy time (flash operations block the
 *             interpreter, and the ring holds only 259 bytes meanwhile)
 * wire time: the host→board bytes at the rates they were sent (agent upload
 * included). "other" = time − serial bound: round trips of the window and the
 * interpreter's CPU. Goals: time ÷ physical ≤ 1.15, wire ÷ image ≤ 0.70.
 */
import { readFile } from 'node:fs/promises';
import { describeConsole, type StrictBoardOptions } from '../src/device/board-console.js';
import type { VirtualEsp32 } from '../src/device/virtual-esp32.js';
import { extractApp } from '../src/format/firmware-file.js';
import { nativeSha256 } from '../src/node/native-hash.js';
import { freshFlash, virtualBoard } from '../src/node/virtual-board.js';
import { transferImage, type TransferOptions, type TransferResult } from '../src/ota/transfer.js';
import { ReplClient } from '../src/repl/repl-client.js';
import { FIRMWARE } from './formats.bench.js';

interface Link {
  readonly name: string;
  readonly board: StrictBoardOptions;
  readonly options?: TransferOptions;
}

const LINKS: Link[] = [
  { name: 'UART 115,200', board: { console: 'uart', baud: 115_200 } },
  { name: 'UART 115,200 → 921,600', board: { console: 'uart', baud: 115_200 }, options: { baud: 921_600 } },
  { name: 'UART 921,600', board: { console: 'uart', baud: 921_600 } },
  // USB holds bytes back instead of dropping them: a window larger than the ring is safe.
  { name: 'USB-CDC', board: { console: 'usb-cdc' }, options: { window: 16_384 } },
];

interface Run {
  result: TransferResult;
  ms: number;
  wireMs: number;
  busyMs: number;
  dropped: number;
  /** The agent's own account (its @T report): waiting for stdin, in writeblocks, from its first frame to its result. */
  agent: { waitMs: number; flashMs: number; totalMs: number } | undefined;
}

export async function benchStrictTransfer(only?: string): Promise<string[]> {
  const image = extractApp(new Uint8Array(await readFile(FIRMWARE))).bytes;
  const lines = [
    `strict transfer: real image ${image.length.toLocaleString('en')} bytes to a board-faithful virtual ESP32 (flash time ×1, real time, 64 KiB block erases)`,
    '  bounds from the same run: physical = max(wire, flash busy); serial = wire + flash busy; other = time − serial (round trips, interpreter CPU)',
  ];
  let peer: Run | undefined;
  for (const link of LINKS.filter((l) => !only || l.name === only)) {
    const run = await onStrictBoard(link, image);
    const physical = Math.max(run.wireMs, run.busyMs);
    const serial = run.wireMs + run.busyMs;
    lines.push(
      `  ${link.name.padEnd(24)} ${seconds(run.ms).padStart(7)}  time ÷ physical ${(run.ms / physical).toFixed(2)}  time ÷ serial ${(run.ms / serial).toFixed(2)}  ` +
        `(wire ${seconds(run.wireMs)}, flash ${seconds(run.busyMs)}, other ${seconds(run.ms - serial)})  wire ÷ image ${(run.result.wireBytes / image.length).toFixed(3)}  ` +
        `frames at ${run.result.baud?.toLocaleString('en') ?? 'USB'}${run.result.baud ? ' baud' : ''}, window ${run.result.window}, retransmits ${run.result.retransmits}, dropped ${run.dropped}` +
        (peer && link.options?.baud ? `  ÷ UART 115,200 run ${(run.ms / peer.ms).toFixed(2)}` : ''),
    );
    if (run.agent) {
      const { waitMs, flashMs, totalMs } = run.agent;
      lines.push(
        `  ${''.padEnd(24)} agent: waiting for stdin ${seconds(waitMs)}, in writeblocks ${seconds(flashMs)}, interpreter CPU ${seconds(totalMs - waitMs - flashMs)} of ${seconds(totalMs)}`,
      );
    }
    if (link.name === 'UART 115,200') peer = run;
  }
  lines.push(`  ${describeConsole(LINKS[0]!.board)}`);
  return lines;
}

async function onStrictBoard(link: Link, image: Uint8Array): Promise<Run> {
  const board = virtualBoard(freshFlash(), { strict: link.board });
  await board.powerOn();
  await board.idle();
  try {
    const transport = board.connect();
    let output = '';
    transport.onData((chunk) => (output = (output + Buffer.from(chunk).toString('latin1')).slice(-4096)));
    const client = new ReplClient(transport, { timeoutMs: 60_000 });
    const busyBefore = busy(board);
    const start = performance.now();
    const result = await transferImage(client, transport, image, { sha256: nativeSha256, ...link.options });
    const ms = performance.now() - start;
    if (result.compression !== 'deflate') throw new Error('the transfer did not compress');
    const [, wait, flash, total] = (/@T wait=(\d+) flash=(\d+) total=(\d+)/.exec(output) ?? []).map(Number);
    const agent = total ? { waitMs: wait! / 1000, flashMs: flash! / 1000, totalMs: total / 1000 } : undefined;
    return { result, ms, wireMs: board.consoleWireMs, busyMs: busy(board) - busyBefore, dropped: board.droppedInput, agent };
  } finally {
    await board.stop();
  }
}

function busy(board: VirtualEsp32): number {
  return board.flash.stats().busyMs;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

// Alone: `node dist/bench/strict-transfer.bench.js ['UART 921,600']` (one link by its name).
if (import.meta.url === `file://${process.argv[1]}`) {
  for (const line of await benchStrictTransfer(process.argv[2])) console.log(line);
}
