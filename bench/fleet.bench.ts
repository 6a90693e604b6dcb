/**
 * Fleets: memory per virtual board (fleets of 1, 4, 8 and 16 boards, each
 * measured in a process of its own), and a rollout of the real v1.23.0 app to
 * a fleet in three stages against the same rollout to a fleet of one board in
 * the same run, with the broker's message count per board.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { readFile } from 'node:fs/promises';
import { humanSize } from '../src/format/units.js';
import { FIRMWARE } from './formats.bench.js';
import { rehearseRollout } from './fleet-rollout.js';

const MEMORY_FLEETS = [1, 4, 8, 16];
const ROLLOUT_FLEET = 8;

interface MemoryRow {
  readonly boards: number;
  readonly rssBytes: number;
  readonly heapBytes: number;
  readonly bootMs: number;
}

function measureMemory(boards: number): MemoryRow {
  const script = fileURLToPath(new URL('./fleet-memory.js', import.meta.url));
  const output = execFileSync(process.execPath, ['--expose-gc', script, String(boards)], { encoding: 'utf8', timeout: 600_000 });
  return JSON.parse(output.trim().split('\n').at(-1)!) as MemoryRow;
}

export async function benchFleet(): Promise<string[]> {
  const lines = ['fleet: virtual boards following an embedded broker (each fleet in its own process)'];
  for (const boards of MEMORY_FLEETS) {
    const row = measureMemory(boards);
    lines.push(
      `  ${String(boards).padStart(2)} boards: RSS +${humanSize(row.rssBytes).padStart(9)} (${humanSize(row.rssBytes / boards)} per board), ` +
        `JS heap +${humanSize(row.heapBytes)}, all reporting after ${(row.bootMs / 1000).toFixed(1)} s`,
    );
  }
  const firmware = new Uint8Array(await readFile(FIRMWARE));
  const single = await rehearseRollout(firmware, 1);
  const fleet = await rehearseRollout(firmware, ROLLOUT_FLEET);
  lines.push(
    `fleet rollout of the real v1.23.0 app in three stages (embedded broker, esp32-ota serve, compressed download)`,
    `  1 board:   ${(single.rolloutMs / 1000).toFixed(1)} s (baseline), ${single.messagesPerBoard.toFixed(1)} broker messages per board`,
    `  ${ROLLOUT_FLEET} boards:  ${(fleet.rolloutMs / 1000).toFixed(1)} s = ${(fleet.rolloutMs / single.rolloutMs).toFixed(2)}x one board's, ` +
      `${fleet.messagesPerBoard.toFixed(1)} broker messages per board (${(fleet.messagesPerBoard / single.messagesPerBoard).toFixed(2)}x)`,
  );
  return lines;
}
