/** Fleets for people and scripts: the devices table, the rollout's line, stage progress. */
import type { RolloutState, UpdateReport } from '../../fleet/payloads.js';
import { formatStage, formatStages, stageSize } from '../../fleet/plan.js';
import type { FleetDevice } from '../../fleet/records.js';
import type { StageProgress } from '../../fleet/rollout-machine.js';
import type { FleetSnapshot } from '../../node/fleet-status.js';
import { renderTable } from '../text-table.js';

const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;

export function updateText(update: UpdateReport | null): string {
  if (!update) return '-';
  return `${update.result} ${update.version} (${update.rollout})${update.error ? `: ${update.error}` : ''}`;
}

export function fleetStatusText(snapshot: FleetSnapshot): string {
  const { devices } = snapshot;
  const lines = [`Fleet '${snapshot.fleet}' on ${snapshot.broker}: ${plural(devices.length, 'device')}${devices.length ? `, ${versionsSummary(devices)}` : ''}`];
  if (devices.length === 0) {
    lines.push(`  no device has reported under ${snapshot.prefix}/${snapshot.fleet}/devices/ (check --fleet and --prefix; boards publish a retained status when they connect)`);
  } else {
    const yesNo = (value: boolean | null | undefined) => (value === null || value === undefined ? '?' : value ? 'yes' : 'no');
    lines.push(
      renderTable(
        [{ header: 'DEVICE' }, { header: 'CHIP' }, { header: 'VERSION' }, { header: 'PARTITION' }, { header: 'STATE' }, { header: 'CONFIRMED' }, { header: 'ONLINE' }, { header: 'LAST UPDATE' }],
        devices.map(({ device, status, online }) => [
          device,
          status?.chip ?? '?',
          status?.version ?? '?',
          status?.partition ?? '-',
          status?.state ?? '?',
          yesNo(status?.confirmed),
          yesNo(online),
          status ? updateText(status.update) : '(no status)',
        ]),
      ),
    );
  }
  lines.push(snapshot.rollout ? rolloutLine(snapshot.rollout) : 'No rollout recorded.');
  return lines.join('\n');
}

function versionsSummary(devices: readonly FleetDevice[]): string {
  const counts = new Map<string, number>();
  for (const { status } of devices) counts.set(status?.version ?? '?', (counts.get(status?.version ?? '?') ?? 0) + 1);
  const online = devices.filter((device) => device.online).length;
  return `${[...counts].map(([version, count]) => `${count} on ${version}`).join(', ')}; ${online} online`;
}

/** One line (two when halted) about the recorded rollout. */
export function rolloutLine(state: RolloutState): string {
  const fraction = state.stages[state.stage]!;
  const stage = `stage ${state.stage + 1} of ${state.stages.length} (${formatStage(fraction)}: ${plural(stageSize(fraction, state.order.length), 'device')} of ${state.order.length})`;
  const failures = `${plural(state.failures.length, 'failure')} (at most ${state.maxFailures} allowed)`;
  const missing = state.missing.length ? `, missing: ${state.missing.join(', ')}` : '';
  const line = `Rollout ${state.id} of ${state.version} (${state.manifest}), stages ${formatStages(state.stages)}: ${state.state}, ${stage}, ${failures}${missing}; updated ${state.updated}`;
  return state.state === 'halted' && state.reason ? `${line}\n  halted: ${state.reason}` : line;
}

export function progressText(progress: StageProgress): string {
  return (
    `stage ${progress.stage + 1} of ${progress.stages} (${formatStage(progress.fraction)}): ${progress.selected} selected, ${progress.succeeded} succeeded, ` +
    `${progress.failed} failed, ${progress.updating} updating, ${progress.waiting} waiting, ${progress.missing} missing`
  );
}

export function fleetStatusJson(snapshot: FleetSnapshot) {
  return {
    broker: snapshot.broker,
    fleet: snapshot.fleet,
    prefix: snapshot.prefix,
    devices: snapshot.devices.map(({ device, status, online }) => ({
      device,
      online,
      chip: status?.chip ?? null,
      version: status?.version ?? null,
      partition: status?.partition ?? null,
      state: status?.state ?? null,
      confirmed: status?.confirmed ?? null,
      update: status?.update ?? null,
      package: status?.package ?? null,
      time: status?.time ?? null,
    })),
    rollout: snapshot.rollout,
    ignored: snapshot.ignored,
  };
}
