/** The fleet's MQTT topic names (docs/fleet.md): PREFIX/FLEET/devices/ID/{status,online,command,progress} and PREFIX/FLEET/rollout. */
import { FleetError } from './errors.js';

export const DEFAULT_PREFIX = 'esp32-ota';

const NAME = /^[A-Za-z0-9_.-]+$/;

/** A name that can stand in a topic level: only [A-Za-z0-9_.-], so no MQTT wildcard or separator. */
export function isFleetName(name: string): boolean {
  return NAME.test(name);
}

/** Throws when `name` holds anything but [A-Za-z0-9_.-] (MQTT wildcards and separators included). */
export function checkFleetName(what: string, name: string): string {
  if (!isFleetName(name)) throw new FleetError(`${what} '${name}' may hold only letters, digits, '_', '.' and '-' (it is part of MQTT topic names)`);
  return name;
}

export type DeviceTopicKind = 'status' | 'online' | 'command' | 'progress';

export interface FleetTopics {
  readonly prefix: string;
  readonly fleet: string;
  readonly rollout: string;
  /** Subscriptions: every device's status, online flag, command. */
  readonly allStatuses: string;
  readonly allOnline: string;
  readonly allCommands: string;
  device(id: string, kind: DeviceTopicKind): string;
  /** The device and kind of a device topic of this fleet, or undefined for any other topic. */
  parse(topic: string): { device: string; kind: DeviceTopicKind } | undefined;
}

export function fleetTopics(fleet: string, prefix = DEFAULT_PREFIX): FleetTopics {
  checkFleetName('the prefix', prefix);
  checkFleetName('the fleet name', fleet);
  const base = `${prefix}/${fleet}`;
  const kinds: readonly DeviceTopicKind[] = ['status', 'online', 'command', 'progress'];
  return {
    prefix,
    fleet,
    rollout: `${base}/rollout`,
    allStatuses: `${base}/devices/+/status`,
    allOnline: `${base}/devices/+/online`,
    allCommands: `${base}/devices/+/command`,
    device: (id, kind) => `${base}/devices/${checkFleetName('the device id', id)}/${kind}`,
    parse(topic) {
      if (!topic.startsWith(`${base}/devices/`)) return undefined;
      const parts = topic.slice(base.length + 9).split('/');
      if (parts.length !== 2 || !isFleetName(parts[0]!) || !kinds.includes(parts[1] as DeviceTopicKind)) return undefined;
      return { device: parts[0]!, kind: parts[1] as DeviceTopicKind };
    },
  };
}
