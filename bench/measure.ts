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
