/** What the broker holds about a fleet, built from the messages of its topics: statuses, online flags, the rollout. */
import { parseOnline, parseRolloutState, parseStatus, type DeviceStatus, type RolloutState } from './payloads.js';
import type { FleetTopics } from './topics.js';

export interface FleetDevice {
  readonly device: string;
  /** null: only an online flag was seen. */
  readonly status: DeviceStatus | null;
  /** null: no online flag was seen. */
  readonly online: boolean | null;
}

/** A message this tool cannot read: reported once per topic and ignored. */
export interface IgnoredMessage {
  readonly topic: string;
  readonly problem: string;
}

export type FleetMessage =
  | { readonly kind: 'status'; readonly status: DeviceStatus }
  | { readonly kind: 'online'; readonly device: string; readonly online: boolean }
  | { readonly kind: 'rollout'; readonly state: RolloutState }
  | { readonly kind: 'ignored'; readonly message: IgnoredMessage }
  /** Deletions (empty payloads), commands and progress: nothing to record. */
  | { readonly kind: 'other' };

export class FleetRecords {
  readonly statuses = new Map<string, DeviceStatus>();
  readonly online = new Map<string, boolean>();
  rollout: RolloutState | null = null;
  readonly ignored = new Map<string, IgnoredMessage>();

  constructor(readonly topics: FleetTopics) {}

  /** Records one message and says what it was. */
  take(topic: string, payload: string): FleetMessage {
    if (payload === '') return { kind: 'other' };
    const ignore = (problem: string): FleetMessage => {
      const message = { topic, problem };
      this.ignored.set(topic, message);
      return { kind: 'ignored', message };
    };
    if (topic === this.topics.rollout) {
      const parsed = parseRolloutState(payload);
      if (parsed.problem !== undefined) return ignore(parsed.problem);
      this.rollout = parsed.value;
      return { kind: 'rollout', state: parsed.value };
    }
    const target = this.topics.parse(topic);
    if (target?.kind === 'status') {
      const parsed = parseStatus(payload, target.device);
      if (parsed.problem !== undefined) return ignore(parsed.problem);
      this.statuses.set(target.device, parsed.value);
      this.ignored.delete(topic);
      return { kind: 'status', status: parsed.value };
    }
    if (target?.kind === 'online') {
      const parsed = parseOnline(payload);
      if (parsed.problem !== undefined) return ignore(parsed.problem);
      this.online.set(target.device, parsed.value);
      return { kind: 'online', device: target.device, online: parsed.value };
    }
    return { kind: 'other' };
  }

  /** Every device seen, by id. */
  devices(): FleetDevice[] {
    return [...new Set([...this.statuses.keys(), ...this.online.keys()])].sort().map((device) => ({
      device,
      status: this.statuses.get(device) ?? null,
      online: this.online.get(device) ?? null,
    }));
  }
}
