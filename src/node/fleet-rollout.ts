/**
 * `esp32-ota fleet rollout` as a function: checks the manifest, reads the
 * fleet from the broker, starts or resumes the rollout, and drives the
 * rollout state machine with the devices' statuses and the clock until it is
 * done, halted, or interrupted (an AbortSignal), publishing what it says.
 */
import { FleetRecords, type IgnoredMessage } from '../fleet/records.js';
import { RolloutMachine, type RolloutEffect, type RolloutEvent, type StageProgress } from '../fleet/rollout-machine.js';
import { planRolloutStart, type RolloutStart } from '../fleet/start.js';
import { DEFAULT_PREFIX, fleetTopics, type FleetTopics } from '../fleet/topics.js';
import type { RolloutState } from '../fleet/payloads.js';
import { checkRolloutManifest, type RolloutManifest } from './fleet-manifest.js';
import { collectRetained } from './fleet-status.js';
import { connectBroker, parseBrokerUrl, type BrokerOptions, type FleetConnection } from './mqtt-connection.js';

export interface RolloutOptions extends BrokerOptions {
  readonly fleet: string;
  readonly prefix?: string;
  /** The manifest's http(s) URL, as the boards reach it. */
  readonly manifest: string;
  /** Cumulative fractions, e.g. [0.05, 0.25, 1]; needed for a new rollout. */
  readonly stages?: readonly number[];
  readonly maxFailures?: number;
  /** How long a stage waits for its devices' results. */
  readonly stageTimeoutMs: number;
  /** The longest to listen for the broker's retained messages at the start (default 5 s). */
  readonly waitMs?: number;
  /** A fixed id for a new rollout, so that its order (rolloutOrder(id, devices)) is known in advance: for tests and benchmarks. */
  readonly rolloutId?: string;
  /** Stops the rollout where it is (it stays resumable). */
  readonly signal?: AbortSignal;
}

export interface RolloutEvents {
  /** The manifest passed its checks. */
  onManifest?(manifest: RolloutManifest): void;
  /** Connected, the fleet read, and what this run does: a new rollout, or a resumed one. */
  onStart?(start: RolloutStart, devices: number): void;
  onEvent?(event: RolloutEvent, progress: StageProgress): void;
  /** A retained message on the fleet's topics that is not in the documented shape (ignored). */
  onIgnored?(message: IgnoredMessage): void;
  onConnection?(state: 'lost' | 'restored'): void;
}

export interface RolloutOutcome {
  /** halted: by failures now, or it was halted and stays so (nothing published then). */
  readonly result: 'done' | 'halted' | 'interrupted';
  /** false: stopped (or refused to go on) before anything was published. */
  readonly published: boolean;
  readonly state: RolloutState;
  readonly progress: StageProgress | null;
  /** Why it halted. */
  readonly reason: string | null;
}

export async function runRollout(options: RolloutOptions, events: RolloutEvents = {}): Promise<RolloutOutcome> {
  const topics = fleetTopics(options.fleet, options.prefix ?? DEFAULT_PREFIX);
  parseBrokerUrl(options.broker);
  const manifest = await checkRolloutManifest(options.manifest);
  events.onManifest?.(manifest);
  const connection = await connectBroker(options, 'esp32-ota-rollout');
  try {
    return await drive(connection, topics, manifest, options, events);
  } finally {
    await connection.close();
  }
}

async function drive(connection: FleetConnection, topics: FleetTopics, manifest: RolloutManifest, options: RolloutOptions, events: RolloutEvents): Promise<RolloutOutcome> {
  const records = new FleetRecords(topics);
  // Set once the fleet is read: from then on, statuses drive it.
  const active: { machine?: RolloutMachine } = {};
  let wake: () => void = () => undefined;
  const pending: Promise<void>[] = [];
  const publish = (effect: RolloutEffect) => {
    const [topic, payload] =
      effect.kind === 'state' ? [topics.rollout, JSON.stringify(effect.state)] : [topics.device(effect.device, 'command'), effect.kind === 'command' ? JSON.stringify(effect.command) : ''];
    // A publish that fails because the link dropped is sent again after the reconnect (see onReconnect).
    pending.push(connection.publish(topic, payload, { retain: true }).catch(() => undefined));
  };
  const apply = (step: { effects: readonly RolloutEffect[]; events: readonly RolloutEvent[] }) => {
    step.effects.forEach(publish);
    for (const event of step.events) events.onEvent?.(event, active.machine!.progress());
  };

  await collectRetained(
    connection,
    [topics.allStatuses, topics.allOnline, topics.rollout],
    (topic, payload) => {
      const message = records.take(topic, payload);
      if (message.kind === 'ignored') events.onIgnored?.(message.message);
      else if (message.kind === 'status' && active.machine) {
        apply(active.machine.observe(message.status, Date.now()));
        wake();
      }
    },
    options.waitMs ?? 5000,
  );

  const start = planRolloutStart(
    records.rollout ?? undefined,
    { manifest: manifest.url, version: manifest.version, now: Date.now(), ...(options.rolloutId && { id: options.rolloutId }), ...(options.stages && { stages: options.stages }), ...(options.maxFailures !== undefined && { maxFailures: options.maxFailures }) },
    records.statuses,
  );
  events.onStart?.(start, records.statuses.size);
  if (start.kind === 'stays-halted') return { result: 'halted', published: false, state: start.state, progress: null, reason: start.reason };
  if (options.signal?.aborted) return { result: 'interrupted', published: false, state: start.state, progress: null, reason: null };
  if (start.kind === 'new') for (const device of start.deleteCommands) publish({ kind: 'delete-command', device });

  const running = (active.machine = new RolloutMachine(start.state, options.stageTimeoutMs));
  connection.onDisconnect(() => events.onConnection?.('lost'));
  connection.onReconnect(() => {
    events.onConnection?.('restored');
    // A restarted broker lost what this host keeps retained.
    running.retained().forEach(publish);
  });
  apply(running.begin(records.statuses.values(), Date.now()));

  const interrupted = await new Promise<boolean>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => finish(true);
    const finish = (stopped: boolean) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      wake = () => undefined;
      resolve(stopped);
    };
    wake = () => {
      clearTimeout(timer);
      if (running.state.state !== 'running') return finish(false);
      const deadline = running.deadline()!;
      timer = setTimeout(() => {
        apply(running.tick(Date.now()));
        wake();
      }, Math.max(0, deadline - Date.now()));
    };
    if (options.signal?.aborted) return finish(true);
    options.signal?.addEventListener('abort', onAbort);
    wake();
  });
  // What was published reaches the broker before the connection closes (bounded: the broker may be gone).
  await Promise.race([Promise.all(pending), new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
  const state = running.state;
  return {
    result: interrupted ? 'interrupted' : state.state === 'done' ? 'done' : 'halted',
    published: true,
    state,
    progress: running.progress(),
    reason: state.reason,
  };
}
