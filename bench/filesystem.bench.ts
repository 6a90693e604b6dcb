/**
 * The virtual board's littlefs `/` (issue 13):
 * (a) a 256-byte write through the raw REPL, as mpremote's `fs cp` sends a
 *     file (`w(b'...')` per 256 bytes), at the start and at the end of a
 *     400 KiB copy (goal: the last within 1.5x of the first: no cost that
 *     grows with what the filesystem holds);
 * (b) `esp32-ota fs put -d` of 400 KiB (the first 400 KiB of the real
 *     firmware image) against real mpremote `fs cp` of the same file, both
 *     through the same throttled 460,800-baud link (goal: ≥ 3x its bytes/s).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BoardFileStore } from '../src/fs/board-store.js';
import { nativeSha256 } from '../src/node/native-hash.js';
import { freshFlash, virtualBoard } from '../src/node/virtual-board.js';
import { ReplClient } from '../src/repl/repl-client.js';
import { throttle } from '../src/transport/throttled.js';
import type { VirtualEsp32 } from '../src/device/virtual-esp32.js';
import { FIRMWARE } from './formats.bench.js';

const FILE_BYTES = 400 * 1024;
const CHUNK = 256;
const SAMPLE = 40;
const BAUD = 460_800;
const TOOLS = fileURLToPath(new URL('../../../shared/tools/micropython', import.meta.url));

export async function benchFilesystem(): Promise<string[]> {
  const data = new Uint8Array(await readFile(FIRMWARE)).slice(0, FILE_BYTES);
  const lines = [`filesystem: the virtual board's littlefs /, a ${FILE_BYTES.toLocaleString('en')}-byte file (the start of the real firmware image)`];
  const { first, last } = await writeTimes(data);
  lines.push(
    `  (a) 256-byte REPL write (mpremote's fs cp pattern), median of ${SAMPLE}: first ${first.toFixed(2)} ms, last ${last.toFixed(2)} ms; ` +
      `last ÷ first ${(last / first).toFixed(2)}   (goal ≤ 1.5)`,
  );
  const ours = await onThrottledBoard(async (board) => {
    const client = new ReplClient(throttle(board.connect(), { bitsPerSecond: BAUD }), { timeoutMs: 60_000 });
    await client.enterRawRepl();
    const start = performance.now();
    await new BoardFileStore(client, { sha256: nativeSha256 }).writeFile('/big.bin', data);
    return performance.now() - start;
  });
  const peer = await mpremoteCopy(data);
  const rate = (ms: number) => `${((FILE_BYTES / ms) * 1000 / 1024).toFixed(1)} KiB/s`;
  lines.push(
    `  (b) through a throttled ${BAUD.toLocaleString('en')}-baud link: esp32-ota fs put -d ${(ours / 1000).toFixed(1)} s (${rate(ours)}), ` +
      (typeof peer === 'number'
        ? `mpremote fs cp ${(peer / 1000).toFixed(1)} s (${rate(peer)}); ours ÷ mpremote bytes/s ${(peer / ours).toFixed(2)}   (goal ≥ 3)`
        : `mpremote not measured: ${peer}`),
  );
  return lines;
}

/** Times each `w(b'...')` of a 400 KiB copy through the raw REPL; medians of the first and last SAMPLE. */
async function writeTimes(data: Uint8Array): Promise<{ first: number; last: number }> {
  return onThrottledBoard(async (board) => {
    const client = new ReplClient(board.connect(), { timeoutMs: 60_000 });
    await client.enterRawRepl();
    const copy = async (name: string, bytes: Uint8Array): Promise<number[]> => {
      await client.exec(`f=open('${name}','wb')\nw=f.write`);
      const times: number[] = [];
      for (let at = 0; at < bytes.length; at += CHUNK) {
        const chunk = bytes.subarray(at, at + CHUNK);
        const start = performance.now();
        await client.exec(`w(b'${[...chunk].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('')}')`);
        times.push(performance.now() - start);
      }
      await client.exec('f.close()');
      return times;
    };
    // Warm the host and the interpreter (JIT, first allocations) on a small file first, then time the copy.
    await copy('warm.bin', data.subarray(0, SAMPLE * CHUNK));
    await client.exec("import os\nos.remove('warm.bin')");
    const times = await copy('big.bin', data);
    return { first: median(times.slice(0, SAMPLE)), last: median(times.slice(-SAMPLE)) };
  });
}

async function onThrottledBoard<T>(work: (board: VirtualEsp32) => Promise<T>): Promise<T> {
  const board = virtualBoard(freshFlash());
  await board.powerOn();
  await board.idle();
  try {
    return await work(board);
  } finally {
    await board.stop();
  }
}

/** Real mpremote (MicroPython's tools, Debian's python3-serial) through a TCP port whose board side is throttled; ms, or why not. */
async function mpremoteCopy(data: Uint8Array): Promise<number | string> {
  const folder = await mkdtemp(join(tmpdir(), 'esp32-ota-bench-'));
  try {
    await writeFile(join(folder, 'big.bin'), data);
    return await onThrottledBoard(async (board) => {
      const sockets = new Set<Socket>();
      const server = createServer((socket) => {
        sockets.add(socket);
        socket.setNoDelay(true);
        const link = throttle(board.connect(), { bitsPerSecond: BAUD });
        link.onData((bytes) => socket.write(bytes));
        socket.on('data', (bytes) => void link.write(new Uint8Array(bytes)).catch(() => socket.destroy()));
        socket.on('close', () => void link.close());
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      try {
        const start = performance.now();
        const failure = await new Promise<string | undefined>((resolve) =>
          execFile(
            '/usr/bin/python3',
            ['-m', 'mpremote', 'connect', `socket://127.0.0.1:${port}`, 'fs', 'cp', join(folder, 'big.bin'), ':big.bin'],
            { env: { ...process.env, PYTHONPATH: TOOLS }, timeout: 600_000 },
            (error, _stdout, stderr) => resolve(error ? `${error.message} ${stderr}`.trim() : undefined),
          ),
        );
        if (failure) return failure.slice(0, 200);
        return performance.now() - start;
      } finally {
        for (const socket of sockets) socket.destroy();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    });
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const line of await benchFilesystem()) console.log(line);
}
