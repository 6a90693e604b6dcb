/**
 * Starting `fleet rollout`: a new rollout, or the one recorded on the broker
 * resumed (same manifest and version), or a halted one that stays halted.
 */
import type { Sha256 } from '../format/hash.js';
import { FleetError } from './errors.js';
import type { DeviceStatus, RolloutState } from './payloads.js';
import { formatStages, newRolloutId, rolloutOrder, stageSize } from './plan.js';

export interface RolloutRequest {
  readonly manifest: string;
  readonly version: string;
  /** Required for a new rollout; a resumed one keeps its own. */
  readonly stages?: readonly number[];
  /** Default 0 for a new rollout; a resumed one keeps its own unless this is given. */
  readonly maxFailures?: number;
  readonly now: number;
  /** A fixed id for a new rollout (tests, benchmarks: its order is then known in advance); default r-YYYYMMDD-xxxxxx. */
  readonly id?: string;
}

export type RolloutStart =
  /** `deleteCommands`: retained commands of the rollout this one replaces, to devices that had not started it. */
  | { readonly kind: 'new'; readonly state: RolloutState; readonly replaced: RolloutState | null; readonly deleteCommands: readonly string[] }
  | { readonly kind: 'resume'; readonly state: RolloutState; readonly notes: readonly string[] }
  | { readonly kind: 'stays-halted'; readonly state: RolloutState; readonly reason: string };

export function planRolloutStart(recorded: RolloutState | undefined, request: RolloutRequest, statuses: ReadonlyMap<string, DeviceStatus>, sha256?: Sha256): RolloutStart {
  if (recorded && recorded.manifest === request.manifest && recorded.version === request.version) return resume(recorded, request);
  if (statuses.size === 0) throw new FleetError('no device of this fleet has reported (no retained status on the broker): there is nothing to roll out to; check --broker, --fleet and --prefix');
  if (!request.stages) throw new FleetError('a new rollout needs --stages, e.g. --stages 5%,25%,100%');
  const id = request.id ?? newRolloutId(request.manifest, request.version, request.now, sha256);
  const time = new Date(request.now).toISOString();
  const state: RolloutState = {
    id,
    manifest: request.manifest,
    version: request.version,
    stages: [...request.stages],
    maxFailures: request.maxFailures ?? 0,
    order: rolloutOrder(id, statuses.keys(), sha256),
    stage: 0,
    state: 'running',
    reason: null,
    failures: [],
    missing: [],
    started: time,
    updated: time,
  };
  const deleteCommands = recorded
    ? recorded.order.slice(0, stageSize(recorded.stages[recorded.stage]!, recorded.order.length)).filter((device) => statuses.get(device)?.update?.rollout !== recorded.id)
    : [];
  return { kind: 'new', state, replaced: recorded ?? null, deleteCommands };
}

function resume(recorded: RolloutState, request: RolloutRequest): RolloutStart {
  const notes: string[] = [];
  if (request.stages && formatStages(request.stages) !== formatStages(recorded.stages)) {
    notes.push(`it keeps its stages ${formatStages(recorded.stages)} (--stages ${formatStages(request.stages)} would apply to a new rollout)`);
  }
  const maxFailures = request.maxFailures ?? recorded.maxFailures;
  const failures = recorded.failures.length;
  if (recorded.state === 'halted') {
    if (failures > maxFailures) {
      const reason = `rollout ${recorded.id} halted: ${recorded.reason ?? 'too many failures'}. It stays halted: resume it with --max-failures ${failures} or more, or roll out a fixed firmware (another manifest)`;
      return { kind: 'stays-halted', state: recorded, reason };
    }
    notes.push(`it was halted (${recorded.reason ?? 'too many failures'}); --max-failures ${maxFailures} allows its ${failures} failure${failures === 1 ? '' : 's'}`);
  }
  if (maxFailures !== recorded.maxFailures && recorded.state !== 'halted') notes.push(`--max-failures is now ${maxFailures} (was ${recorded.maxFailures})`);
  return { kind: 'resume', state: { ...recorded, maxFailures, state: recorded.state === 'halted' ? 'running' : recorded.state, reason: recorded.state === 'halted' ? null : recorded.reason }, notes };
}
