/** `esp32-ota fleet status` as a function: the retained statuses, online flags and rollout of a fleet. */
import { DEFAULT_PREFIX, fleetTopics } from '../fleet/topics.js';
import { FleetRecords, type FleetDevice, type IgnoredMessage } from '../fleet/records.js';
import type { RolloutState } from '../fleet/payloads.js';
import { connectBroker, type BrokerOptions, type FleetConnection } from './mqtt-connection.js';

export interface FleetStatusOptions extends BrokerOptions {
  readonly fleet: string;
  readonly prefix?: string;
  /** The longest to listen for retained messages (default 3 s). */
  readonly waitMs?: number;
}

export interface FleetSnapshot {
  readonly broker: string;
  readonly fleet: string;
  readonly prefix: string;
  readonly devices: readonly FleetDevice[];
  readonly rollout: RolloutState | null;
  readonly ignored: readonly IgnoredMessage[];
}

/** A quiet gap this long after the subscription ends the retained messages (brokers send them in one burst). */
export const RETAINED_QUIET_MS = 300;

export async function readFleetStatus(options: FleetStatusOptions): Promise<FleetSnapshot> {
  const topics = fleetTopics(options.fleet, options.prefix ?? DEFAULT_PREFIX);
  const connection = await connectBroker(options, 'esp32-ota-status');
  try {
    const records = new FleetRecords(topics);
    await collectRetained(connection, [topics.allStatuses, topics.allOnline, topics.rollout], (topic, payload) => records.take(topic, payload), options.waitMs ?? 3000);
    return { broker: connection.url, fleet: topics.fleet, prefix: topics.prefix, devices: records.devices(), rollout: records.rollout, ignored: [...records.ignored.values()] };
  } finally {
    await connection.close();
  }
}

/**
 * Subscribes and passes on messages until RETAINED_QUIET_MS pass with none
 * (MQTT does not mark the end of the retained ones), or `maxMs` in all.
 * The handler stays subscribed after this returns.
 */
export async function collectRetained(connection: FleetConnection, topics: readonly string[], handle: (topic: string, payload: string) => void, maxMs: number): Promise<void> {
  let last = Date.now();
  connection.onMessage((topic, payload) => {
    last = Date.now();
    handle(topic, payload);
  });
  const started = Date.now();
  await connection.subscribe(topics);
  last = Math.max(last, Date.now());
  while (Date.now() - last < RETAINED_QUIET_MS && Date.now() - started < maxMs) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(50, RETAINED_QUIET_MS)));
  }
}
