/**
 * The virtual ESP32: how long a boot takes and what a raw-REPL command costs,
 * each next to a baseline in the same run (a bare interpreter start, a bare
 * execute() on the interpreter).
 */
import { performance } from 'node:perf_hooks';
import { MicroPythonWorker } from '../src/device/micropython/micropython-worker.js';
import { freshFlash, virtualBoard } from '../src/node/virtual-board.js';
import { ReplClient } from '../src/repl/index.js';

interface Sample {
  medianMs: number;
}

async function time(runs: number, run: () => Promise<void>): Promise<Sample> {
  await run();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await run();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return { medianMs: times[Math.floor(times.length / 2)]! };
}

const row = (name: string, sample: Sample, baseline?: Sample) =>
  `  ${name.padEnd(58)} ${sample.medianMs.toFixed(2).padStart(9)} ms   ${baseline ? `${(sample.medianMs / baseline.medianMs).toFixed(2)}x` : 'baseline'}`;

export async function benchDevice(): Promise<string[]> {
  const bareStart = await time(5, async () => {
    const worker = await MicroPythonWorker.start();
    await worker.terminate();
  });
  const coldBoot = await time(5, async () => {
    const board = virtualBoard(freshFlash());
    await board.powerOn();
    await board.idle();
    await board.stop();
  });
  const board = virtualBoard(freshFlash());
  await board.powerOn();
  await board.idle();
  const warmReset = await time(10, async () => {
    await board.reset('SW_CPU_RESET');
    await board.idle();
  });

  const worker = await MicroPythonWorker.start();
  const ignore = () => undefined;
  const bareExecute = await time(200, async () => {
    await worker.execute('pass', 'exec', ignore);
  });
  await worker.terminate();
  const client = new ReplClient(board.connect());
  await client.enterRawRepl();
  const rawRoundTrip = await time(200, async () => {
    await client.exec('pass');
  });
  await board.stop();

  return [
    'virtual ESP32 (median of repeated runs):',
    row('bare interpreter start (worker thread + WebAssembly)', bareStart),
    row('power-on to >>> (bootloader, verify, interpreter, modules)', coldBoot, bareStart),
    row('hard reset to >>> (interpreter thread reused)', warmReset, bareStart),
    row('bare execute("pass") on the interpreter', bareExecute),
    row('raw REPL exec("pass") through the board (incl. file save)', rawRoundTrip, bareExecute),
  ];
}
