/**
 * The virtual board's network: a 1.6 MB download by the board's `requests`
 * (whole, and streamed in 4 KiB reads of .raw) against Node's own HTTP client
 * fetching the same file from the same server, interleaved in the same run.
 */
import { performance } from 'node:perf_hooks';
import { get } from 'node:http';
import { freshFlash, virtualBoard } from '../src/node/virtual-board.js';
import { ReplClient } from '../src/repl/index.js';
import { httpFixture } from '../test/helpers/http-fixture.js';

const RUNS = 7;

function nodeDownload(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get(url, (response) => {
      let length = 0;
      response.on('data', (chunk: Buffer) => (length += chunk.length));
      response.on('end', () => resolve(length));
    }).on('error', reject);
  });
}

const median = (times: number[]) => [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]!;

export async function benchNetwork(): Promise<string[]> {
  const http = await httpFixture();
  const url = `${http.url}/firmware.bin`;
  const board = virtualBoard(freshFlash());
  await board.powerOn();
  await board.idle();
  const client = new ReplClient(board.connect());
  await client.enterRawRepl();
  await client.exec('import requests, gc');
  const runs = {
    node: async () => {
      if ((await nodeDownload(url)) !== http.body.length) throw new Error('node download was short');
    },
    whole: async () => {
      const out = await client.exec(`print(len(requests.get('${url}').content)); gc.collect()`, { timeoutMs: 60_000 });
      if (!new TextDecoder().decode(out).startsWith(String(http.body.length))) throw new Error('board download was short');
    },
    streamed: async () => {
      await client.exec(
        `r = requests.get('${url}', stream=True)\nn = 0\nwhile True:\n    p = r.raw.read(4096)\n    if not p:\n        break\n    n += len(p)\nr.close()\nassert n == ${http.body.length}`,
        { timeoutMs: 60_000 },
      );
    },
    roundTrip: async () => {
      // 1000 host calls that answer at once: what each socket call costs in the bridge.
      await client.exec("import _esp32_net\nfor _ in range(1000):\n    _esp32_net.call('{\"op\": \"poll\", \"sockets\": []}')");
    },
  };
  const times: Record<keyof typeof runs, number[]> = { node: [], whole: [], streamed: [], roundTrip: [] };
  for (const run of Object.values(runs)) await run();
  for (let i = 0; i < RUNS; i++) {
    for (const [name, run] of Object.entries(runs) as [keyof typeof runs, () => Promise<void>][]) {
      const start = performance.now();
      await run();
      times[name].push(performance.now() - start);
    }
  }
  await board.stop();
  await http.close();

  const node = median(times.node);
  const megabytes = http.body.length / 1e6;
  const row = (name: string, ms: number, ratio: string) => `  ${name.padEnd(58)} ${ms.toFixed(2).padStart(9)} ms   ${ratio}`;
  const rate = (ms: number) => `${(megabytes / (ms / 1000)).toFixed(1)} MB/s`;
  return [
    'network (virtual board, 1.6 MB over loopback HTTP)',
    row(`node:http get, baseline (${rate(node)})`, node, 'baseline'),
    row(`board requests.get().content (${rate(median(times.whole))})`, median(times.whole), `${(median(times.whole) / node).toFixed(2)}x`),
    row(`board requests stream=True, .raw.read(4096) (${rate(median(times.streamed))})`, median(times.streamed), `${(median(times.streamed) / node).toFixed(2)}x`),
    row('one bridge call (host round trip), per call', median(times.roundTrip) / 1000, `${(median(times.roundTrip) / 1000 / node).toFixed(4)}x`),
  ];
}
