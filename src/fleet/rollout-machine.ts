/**
 * A rollout as a state machine (docs/fleet.md): fed the devices' statuses and
 * the time, it says what to publish (commands, deletions, its own retained
 * state) and what happened (stages started and ended, results, halt, done).
 * No I/O and no clock of its own: the caller passes `now` (milliseconds).
 */
import { FINAL_RESULTS, isFailure, type DeviceStatus, type FleetCommand, type RolloutState, type UpdateReport } from './payloads.js';
import { formatStage, stageSize } from './plan.js';

export type RolloutEffect =
  | { readonly kind: 'command'; readonly device: string; readonly command: FleetCommand }
  | { readonly kind: 'delete-command'; readonly device: string }
  | { readonly kind: 'state'; readonly state: RolloutState };

export type RolloutEvent =
  | { readonly kind: 'stage-started'; readonly stage: number; readonly selected: readonly string[] }
  | { readonly kind: 'device-joined'; readonly device: string }
  | { readonly kind: 'device-result'; readonly device: string; readonly report: UpdateReport }
  | { readonly kind: 'stage-ended'; readonly stage: number; readonly progress: StageProgress; readonly missing: readonly string[] }
  | { readonly kind: 'halted'; readonly reason: string; readonly deleted: readonly string[] }
  | { readonly kind: 'done'; readonly progress: StageProgress };

export interface RolloutStep {
  readonly effects: readonly RolloutEffect[];
  readonly events: readonly RolloutEvent[];
}

/** The current stage's selection (cumulative: every device selected so far), by where each device is. */
export interface StageProgress {
  /** Index into `stages`. */
  readonly stage: number;
  readonly stages: number;
  readonly fraction: number;
  readonly selected: number;
  readonly succeeded: number;
  readonly failed: number;
  /** Reported `downloading` or `installed`, no result yet. */
  readonly updating: number;
  /** Commanded, nothing reported for this rollout yet. */
  readonly waiting: number;
  /** Left without a result when an earlier stage timed out (or this one did). */
  readonly missing: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends readonly (infer U)[] ? U[] : T[K] };

export class RolloutMachine {
  private readonly current: Mutable<RolloutState>;
  /** This rollout's latest report from each device. */
  private readonly reports = new Map<string, UpdateReport>();
  /** Devices whose retained command this host holds. */
  private readonly commanded = new Set<string>();
  private stageStarted = 0;
  private published: string;

  constructor(
    state: RolloutState,
    private readonly stageTimeoutMs: number,
  ) {
    this.current = { ...state, stages: [...state.stages], order: [...state.order], failures: [...state.failures], missing: [...state.missing] };
    this.published = this.comparable();
  }

  get state(): RolloutState {
    return { ...this.current, stages: [...this.current.stages], order: [...this.current.order], failures: [...this.current.failures], missing: [...this.current.missing] };
  }

  /**
   * Enters the recorded stage (a new rollout's first, or the one a resumed
   * rollout stopped in) with the statuses known now: commands go to its
   * selected devices that have no result, and the stage timer starts.
   * A rollout recorded as done is run again (devices that joined since get
   * their command); a halted one stays halted.
   */
  begin(statuses: Iterable<DeviceStatus>, now: number): RolloutStep {
    const events: RolloutEvent[] = [];
    for (const status of statuses) this.record(status, events);
    if (this.current.state === 'halted') return this.finish([], events, now, true);
    this.current.state = 'running';
    this.stageStarted = now;
    events.push({ kind: 'stage-started', stage: this.current.stage, selected: this.selection() });
    const effects: RolloutEffect[] = [];
    this.advance(now, effects, events);
    return this.finish(effects, events, now, true);
  }

  /** A device's status arrived (retained at subscription, or a change). */
  observe(status: DeviceStatus, now: number): RolloutStep {
    const events: RolloutEvent[] = [];
    this.record(status, events);
    const effects: RolloutEffect[] = [];
    if (this.current.state === 'running') this.advance(now, effects, events);
    return this.finish(effects, events, now);
  }

  /** Time passed: a stage whose timeout has passed ends, its devices with no result are missing. */
  tick(now: number): RolloutStep {
    const deadline = this.deadline();
    if (deadline === undefined || now < deadline) return { effects: [], events: [] };
    const events: RolloutEvent[] = [];
    const effects: RolloutEffect[] = [];
    const left = this.selection().filter((device) => !this.isFinal(device) && !this.current.missing.includes(device));
    this.current.missing.push(...left);
    this.endStage(now, left, events);
    if (this.current.state === 'running') this.advance(now, effects, events);
    return this.finish(effects, events, now);
  }

  /** When the current stage times out, or undefined when the rollout is not running. */
  deadline(): number | undefined {
    return this.current.state === 'running' ? this.stageStarted + this.stageTimeoutMs : undefined;
  }

  /** Everything this host keeps retained on the broker, to publish again after a reconnect (a restarted broker may have lost it). */
  retained(): RolloutEffect[] {
    return [
      { kind: 'state', state: this.state },
      ...[...this.commanded].filter((device) => !this.isFinal(device)).map((device) => ({ kind: 'command' as const, device, command: this.command() })),
    ];
  }

  progress(): StageProgress {
    const selected = this.selection();
    const count = (test: (device: string, report: UpdateReport | undefined) => boolean) => selected.filter((device) => test(device, this.reports.get(device))).length;
    const succeeded = count((_, report) => report?.result === 'success');
    const failed = count((_, report) => isFailure(report?.result));
    const missing = count((device) => !this.isFinal(device) && this.current.missing.includes(device));
    const updating = count((device, report) => report !== undefined && !this.isFinal(device) && !this.current.missing.includes(device));
    return {
      stage: this.current.stage,
      stages: this.current.stages.length,
      fraction: this.current.stages[this.current.stage]!,
      selected: selected.length,
      succeeded,
      failed,
      updating,
      waiting: selected.length - succeeded - failed - missing - updating,
      missing,
    };
  }

  /** The devices the current stage selects: the first ceil(stages[stage] × n) of the order (cumulative). */
  selection(): string[] {
    const order = this.current.order;
    return order.slice(0, stageSize(this.current.stages[this.current.stage]!, order.length));
  }

  report(device: string): UpdateReport | undefined {
    return this.reports.get(device);
  }

  private command(): FleetCommand {
    return { rollout: this.current.id, manifest: this.current.manifest, version: this.current.version, force: false };
  }

  private isFinal(device: string): boolean {
    const result = this.reports.get(device)?.result;
    return result !== undefined && FINAL_RESULTS.includes(result);
  }

  private record(status: DeviceStatus, events: RolloutEvent[]): void {
    const { device, update } = status;
    if (!this.current.order.includes(device)) {
      this.current.order.push(device);
      events.push({ kind: 'device-joined', device });
    }
    if (!update || update.rollout !== this.current.id) return;
    const previous = this.reports.get(device);
    this.reports.set(device, update);
    if (previous?.result !== update.result || previous.error !== update.error) events.push({ kind: 'device-result', device, report: update });
    const failures = this.current.failures;
    if (isFailure(update.result) && !failures.includes(device)) failures.push(device);
    if (!isFailure(update.result) && failures.includes(device)) failures.splice(failures.indexOf(device), 1);
    if (this.isFinal(device) && this.current.missing.includes(device)) this.current.missing.splice(this.current.missing.indexOf(device), 1);
  }

  /** Commands to newly selected devices; halt on too many failures; end stages whose devices all have a result (or are missing). */
  private advance(now: number, effects: RolloutEffect[], events: RolloutEvent[]): void {
    while (this.current.state === 'running') {
      if (this.current.failures.length > this.current.maxFailures) return this.halt(effects, events);
      const selected = this.selection();
      for (const device of selected) {
        if (this.isFinal(device) || this.commanded.has(device)) continue;
        this.commanded.add(device);
        effects.push({ kind: 'command', device, command: this.command() });
      }
      if (selected.some((device) => !this.isFinal(device) && !this.current.missing.includes(device))) return;
      this.endStage(now, [], events);
    }
  }

  private endStage(now: number, missing: string[], events: RolloutEvent[]): void {
    events.push({ kind: 'stage-ended', stage: this.current.stage, progress: this.progress(), missing });
    if (this.current.stage === this.current.stages.length - 1) {
      this.current.state = 'done';
      events.push({ kind: 'done', progress: this.progress() });
      return;
    }
    this.current.stage += 1;
    this.stageStarted = now;
    events.push({ kind: 'stage-started', stage: this.current.stage, selected: this.selection().filter((device) => !this.commanded.has(device) && !this.isFinal(device)) });
  }

  private halt(effects: RolloutEffect[], events: RolloutEvent[]): void {
    const { failures, maxFailures, stage, stages } = this.current;
    const described = failures.map((device) => `${device} ${this.reports.get(device)?.result ?? 'failed'}`).join(', ');
    const reason = `${failures.length} failure${failures.length === 1 ? '' : 's'} (${described}), more than --max-failures ${maxFailures}, in stage ${stage + 1} of ${stages.length} (${formatStage(stages[stage]!)})`;
    // Selected devices that have not started lose their command; those updating finish (an update under way is not cut).
    const deleted = this.selection().filter((device) => !this.reports.has(device));
    for (const device of deleted) {
      this.commanded.delete(device);
      effects.push({ kind: 'delete-command', device });
    }
    this.current.state = 'halted';
    this.current.reason = reason;
    events.push({ kind: 'halted', reason, deleted });
  }

  /** The state is published when anything but its `updated` time changed (and always by begin()). */
  private finish(effects: RolloutEffect[], events: RolloutEvent[], now: number, always = false): RolloutStep {
    const comparable = this.comparable();
    if (always || comparable !== this.published) {
      this.published = comparable;
      this.current.updated = new Date(now).toISOString();
      // The state goes first: a host that stops between the two finds the rollout to resume.
      effects.unshift({ kind: 'state', state: this.state });
    }
    return { effects, events };
  }

  private comparable(): string {
    return JSON.stringify({ ...this.current, updated: undefined });
  }
}
