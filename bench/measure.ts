/** Timing helpers for benchmarks: median of repeated runs after a warm-up. */
import { performance } from 'node:perf_hooks';

export interface Timing {
  readonly medianMs: number;
  readonly minMs: number;
  readonly runs: number;
}

export function measure(run: () => unknown, { runs = 21, warmup = 8 } = {}): Timing {
  for (let i = 0; i < warmup; i++) run();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    run();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return { medianMs: times[Math.floor(times.length / 2)]!, minMs: times[0]!, runs };
}

export function formatRow(name: string, timing: Timing, baseline?: Timing): string {
  const ratio = baseline ? `${(timing.medianMs / baseline.medianMs).toFixed(2)}x` : 'baseline';
  return `  ${name.padEnd(58)} ${timing.medianMs.toFixed(2).padStart(9)} ms   ${ratio}`;
}

/**
 * Times `baseline` and each candidate alternately, run after run, so drift
 * (JIT tiers, GC, other load on the machine) hits all of them alike.
 */
export function measureInterleaved(baseline: () => unknown, candidates: (() => unknown)[], { runs = 31, warmup = 8 } = {}): Timing[] {
  const all = [baseline, ...candidates];
  for (let i = 0; i < warmup; i++) for (const run of all) run();
  const times = all.map(() => [] as number[]);
  for (let i = 0; i < runs; i++) {
    all.forEach((run, index) => {
      const start = performance.now();
      run();
      times[index]!.push(performance.now() - start);
    });
  }
  return times.map((list) => {
    list.sort((a, b) => a - b);
    return { medianMs: list[Math.floor(list.length / 2)]!, minMs: list[0]!, runs };
  });
}
