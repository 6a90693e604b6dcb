/**
 * The host-driven OTA transfer of the real 1.6 MB MicroPython image to a
 * board-faithful virtual ESP32 (259-byte stdin ring, the console's rate,
 * flash operations that block for their datasheet time, ×1), over a UART at
 * 115,200 and 921,600 baud and over USB-CDC, before and after the transfer's
 * 64 KiB block erases. Each run against bounds from the same run:
 *   physical: max(wire bytes ÷ link rate, flash busy time with 64 KiB block erases)
 *   serial:   wire time + flash busy time (nothing overlapped)
 * Goals: time ÷ physical ≤ 1.15, wire ÷ image ≤ 0.70.
 */
import { readFile } from 'node:fs/promises';
import { consoleWire, describeConsole, type StrictBoardOptions } from '../src/device/board-console.js';
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
  /** The window for this link: a UART loses what its ring cannot hold, USB holds it back. */
  readonly window?: number;
}

const LINKS: Link[] = [
  { name: 'UART 115,200', board: { console: 'uart', baud: 115_200 } },
  { name: 'UART 921,600', board: { console: 'uart', baud: 921_600 } },
  { name: 'USB-CDC', board: { console: 'usb-cdc' }, window: 16_384 },
];

interface Run {
  result: TransferResult;
  ms: number;
  busyMs: number;
  dropped: number;
}

export async function benchStrictTransfer(): Promise<string[]> {
  const image = extractApp(new Uint8Array(await readFile(FIRMWARE))).bytes;
  const lines = [
    `strict transfer: real image ${image.length.toLocaleString('en')} bytes to a board-faithful virtual ESP32 (flash time ×1, real time)`,
    '  bounds from the same run: physical = max(wire ÷ rate, flash busy with 64 KiB block erases); serial = wire ÷ rate + flash busy',
  ];
  for (const link of LINKS) {
    const wire = consoleWire(link.board);
    const bytesPerMs = wire.bitsPerSecond / (wire.bitsPerByte ?? 10) / 1000;
    lines.push(`  ${link.name}: ${describeConsole(link.board)}${link.window ? `, window ${link.window}` : ''}`);
    const after = await onStrictBoard(link, image, { erase: 'block' });
    const before = await onStrictBoard(link, image, { erase: 'sector' });
    const blockFlashMs = after.busyMs;
    for (const [label, run] of [
      ['before (a sector erase per 4 KiB)', before],
      ['after (64 KiB block erases)', after],
    ] as const) {
      const wireMs = run.result.wireBytes / bytesPerMs;
      const physical = Math.max(wireMs, blockFlashMs);
      lines.push(
        `    ${label.padEnd(34)} ${seconds(run.ms).padStart(7)}  wire ÷ image ${(run.result.wireBytes / image.length).toFixed(3)}  ` +
          `time ÷ physical ${(run.ms / physical).toFixed(2)} (wire ${seconds(wireMs)}, flash ${seconds(blockFlashMs)})  ` +
          `time ÷ serial ${(run.ms / (wireMs + run.busyMs)).toFixed(2)} (flash busy this run ${seconds(run.busyMs)})  ` +
          `retransmits ${run.result.retransmits}, dropped ${run.dropped}`,
      );
    }
  }
  return lines;
}

async function onStrictBoard(link: Link, image: Uint8Array, options: TransferOptions): Promise<Run> {
  const board = virtualBoard(freshFlash(), { strict: link.board });
  await board.powerOn();
  await board.idle();
  try {
    const transport = board.connect();
    const client = new ReplClient(transport, { timeoutMs: 60_000 });
    const busyBefore = busy(board);
    const start = performance.now();
    const result = await transferImage(client, transport, image, { sha256: nativeSha256, ...(link.window && { window: link.window }), ...options });
    const ms = performance.now() - start;
    if (result.compression !== 'deflate') throw new Error('the transfer did not compress');
    return { result, ms, busyMs: busy(board) - busyBefore, dropped: board.droppedInput };
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

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const line of await benchStrictTransfer()) console.log(line);
}
