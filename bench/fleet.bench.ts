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
import { rehearseRollout, type RolloutFigures } from './fleet-rollout.js';

const MEMORY_FLEETS = [1, 4, 8, 16, 32];
const ROLLOUT_FLEET = 16;

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
  let first: MemoryRow | undefined;
  for (const boards of MEMORY_FLEETS) {
    const row = measureMemory(boards);
    first ??= row;
    const added = boards > 1 ? `, ${humanSize((row.rssBytes - first.rssBytes) / (boards - 1))} per board added to one` : '';
    lines.push(
      `  ${String(boards).padStart(2)} boards: RSS +${humanSize(row.rssBytes).padStart(9)} (${humanSize(row.rssBytes / boards)} per board${added}), ` +
        `JS heap +${humanSize(row.heapBytes)}, all reporting after ${(row.bootMs / 1000).toFixed(1)} s (${(row.bootMs / 1000 / boards).toFixed(2)} s per board)`,
    );
  }
  const firmware = new Uint8Array(await readFile(FIRMWARE));
  const single = await rehearseRollout(firmware, 1);
  const fleet = await rehearseRollout(firmware, ROLLOUT_FLEET);
  const messages = (figures: RolloutFigures) =>
    `${figures.messagesPerBoard.toFixed(1)} broker messages per board (${figures.boardMessagesPerBoard.toFixed(1)} from the board, ${(figures.messagesPerBoard - figures.boardMessagesPerBoard).toFixed(1)} from the rollout)`;
  lines.push(
    `fleet rollout of the real v1.23.0 app, stages 12%,50%,100% (embedded broker, esp32-ota serve, compressed download; fleet rollout timed start to end)`,
    `  ${String(1).padStart(2)} board:  ${(single.rolloutMs / 1000).toFixed(1).padStart(5)} s (baseline), ${messages(single)}`,
    `  ${String(ROLLOUT_FLEET).padStart(2)} boards: ${(fleet.rolloutMs / 1000).toFixed(1).padStart(5)} s = ${(fleet.rolloutMs / single.rolloutMs).toFixed(2)}x one board's, ${messages(fleet)}`,
  );
  return lines;
}
