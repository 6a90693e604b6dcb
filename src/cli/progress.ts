/** Progress of a transfer for people: a bar with bytes, rate and ETA on a terminal, a line per 10% otherwise. */
import cliProgress from 'cli-progress';
import { humanSize, withThousands } from '../format/units.js';
import { rateAndEta } from '../ota/progress-rate.js';
import type { TransferProgress } from '../ota/transfer.js';
import { stderr, type OutputStream } from './output.js';

export interface ProgressReporter {
  update(progress: TransferProgress): void;
  stop(): void;
}

export function progressReporter(stream: OutputStream = stderr()): ProgressReporter {
  // Only a terminal (a real NodeJS.WriteStream) has isTTY set.
  return stream.isTTY ? barReporter(stream as NodeJS.WriteStream) : lineReporter(stream);
}

function barReporter(stream: NodeJS.WriteStream): ProgressReporter {
  const bar = new cliProgress.SingleBar(
    { stream, format: '  {bar} {percentage}% | {done} / {total_h} | {rate} | ETA {eta_text} | on the wire {wire}', hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(progress) {
      const { rate, eta } = rateAndEta(progress);
      const payload = { done: withThousands(progress.ackedBytes), total_h: withThousands(progress.imageBytes), rate, eta_text: eta, wire: humanSize(progress.wireBytes) };
      if (!started) {
        bar.start(progress.imageBytes, progress.ackedBytes, payload);
        started = true;
      } else bar.update(progress.ackedBytes, payload);
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}

function lineReporter(stream: OutputStream): ProgressReporter {
  let nextTenth = 1;
  return {
    update(progress) {
      const tenth = progress.imageBytes > 0 ? Math.floor((progress.ackedBytes / progress.imageBytes) * 10) : 0;
      if (tenth < nextTenth) return;
      nextTenth = tenth + 1;
      const { rate, eta } = rateAndEta(progress);
      stream.write(
        `  ${String(tenth * 10).padStart(3)}%  ${withThousands(progress.ackedBytes).padStart(11)} / ${withThousands(progress.imageBytes)} bytes  ${rate.padStart(12)}  ETA ${eta}\n`,
      );
    },
    stop: () => undefined,
  };
}
