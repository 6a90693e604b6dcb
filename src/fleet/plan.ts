/** The rollout plan: stages from the command line, the fixed order of devices, and which devices a stage selects. */
import { toHex } from '../format/bytes.js';
import { sha256 as defaultSha256, type Sha256 } from '../format/hash.js';
import { FleetError } from './errors.js';

/** `5%,25%,100%` → [0.05, 0.25, 1]: percentages of the fleet, cumulative, increasing, each above 0 and at most 100 %. */
export function parseStages(text: string): number[] {
  const parts = text.split(',').map((part) => part.trim());
  const stages = parts.map((part) => {
    const match = /^(\d+(?:\.\d+)?)%$/.exec(part);
    if (!match) throw new FleetError(`--stages wants percentages of the fleet separated by commas, like 5%,25%,100%; '${part}' is not one`);
    const percent = Number(match[1]);
    if (percent <= 0 || percent > 100) throw new FleetError(`--stages: ${part} is not above 0 % and at most 100 %`);
    return percent / 100;
  });
  for (let i = 1; i < stages.length; i++) {
    if (stages[i]! <= stages[i - 1]!) throw new FleetError(`--stages are cumulative and must increase: ${parts[i]} follows ${parts[i - 1]}`);
  }
  return stages;
}

export function formatStage(fraction: number): string {
  return `${Number((fraction * 100).toFixed(4))}%`;
}

export const formatStages = (stages: readonly number[]): string => stages.map(formatStage).join(',');

/**
 * How many devices of `total` a stage of `fraction` selects: ceil(fraction × total).
 * The product is rounded to 9 decimals first, so 7 % of 100 is 7 and not 8
 * (0.07 × 100 is 7.000000000000001 in binary floating point).
 */
export function stageSize(fraction: number, total: number): number {
  return Math.min(total, Math.ceil(Number((fraction * total).toFixed(9))));
}

/** The rollout's fixed order: devices sorted by the SHA-256 of `id + device` (hex), a reproducible random-looking sample. */
export function rolloutOrder(id: string, devices: Iterable<string>, sha256: Sha256 = defaultSha256): string[] {
  const encoder = new TextEncoder();
  return [...new Set(devices)]
    .map((device) => ({ device, key: toHex(sha256(encoder.encode(id + device))) }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((entry) => entry.device);
}

/** `r-YYYYMMDD-xxxxxx`: the day it started and six hex digits of the SHA-256 of the manifest, version and start time. */
export function newRolloutId(manifest: string, version: string, now: number, sha256: Sha256 = defaultSha256): string {
  const iso = new Date(now).toISOString();
  const digest = toHex(sha256(new TextEncoder().encode(`${manifest}\n${version}\n${iso}`)));
  return `r-${iso.slice(0, 10).replaceAll('-', '')}-${digest.slice(0, 6)}`;
}
