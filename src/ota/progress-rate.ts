/** Rate and time left of a transfer, for people (the CLI's progress bar and the web page). */
import { humanSize } from '../format/units.js';
import type { TransferProgress } from './transfer.js';

export function rateAndEta(progress: TransferProgress): { rate: string; eta: string } {
  const seconds = progress.elapsedMs / 1000;
  const perSecond = seconds > 0 ? progress.ackedBytes / seconds : 0;
  const remaining = perSecond > 0 ? (progress.imageBytes - progress.ackedBytes) / perSecond : NaN;
  return {
    rate: perSecond > 0 ? `${humanSize(Math.round(perSecond))}/s` : '-',
    eta: Number.isFinite(remaining) ? `${Math.ceil(remaining)} s` : '-',
  };
}
