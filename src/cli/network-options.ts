/** `esp32-ota sim` flags for the virtual board's network: the access point, faults, routes. */
import type { Command } from 'commander';
import type { HostNetworkOptions, NetworkFaults } from '../node/host-network.js';
import { UserError } from './errors.js';
import { DECIMAL_MULTIPLIERS, integerOption } from './option-values.js';

export interface NetworkFlags {
  wifi?: string;
  wifiAtBoot: boolean;
  latency?: number;
  bandwidth?: number;
  resetAfter?: number;
  dnsFail?: boolean;
  route: string[];
}

export function addNetworkFlags(command: Command): Command {
  return command
    .option('--wifi <ssid:key>', "the virtual Wi-Fi access point (default esp32-ota-sim:micropython); a board's connect() with another SSID or key fails as on a board")
    .option('--no-wifi-at-boot', 'the station starts inactive and disconnected (boot.py must connect), as on a board')
    .option('--latency <ms>', 'fault: added to every connection set-up and every received piece of data', integerOption('--latency', { unit: 'milliseconds' }))
    .option(
      '--bandwidth <bytes/s>',
      'fault: received bytes per second, per connection (k and M suffixes: 100k)',
      integerOption('--bandwidth', { min: 1, unit: 'bytes per second', multipliers: DECIMAL_MULTIPLIERS }),
    )
    .option(
      '--reset-after <bytes>',
      'fault: every TCP connection is reset after this many received bytes (k and M suffixes)',
      integerOption('--reset-after', { unit: 'bytes', multipliers: DECIMAL_MULTIPLIERS }),
    )
    .option('--dns-fail', 'fault: host names do not resolve (OSError -202 on the board)')
    .option('--route <name:port=host:port>', 'connections to NAME:PORT go to HOST:PORT (repeatable), e.g. pool.ntp.org:123=127.0.0.1:1123', collect, []);
}

export function networkOptionsOf(flags: NetworkFlags, listenHost: string): HostNetworkOptions {
  const faults: NetworkFaults = {
    ...(flags.latency !== undefined && { latencyMs: flags.latency }),
    ...(flags.bandwidth !== undefined && { bytesPerSecond: flags.bandwidth }),
    ...(flags.resetAfter !== undefined && { resetAfterBytes: flags.resetAfter }),
    ...(flags.dnsFail && { dnsFailure: true }),
  };
  const routes: Record<string, string> = {};
  for (const route of flags.route) {
    const match = /^([^=]+:\d+)=([^=]+:\d+)$/.exec(route);
    if (!match) throw new UserError(`--route wants NAME:PORT=HOST:PORT, not '${route}'`);
    routes[match[1]!] = match[2]!;
  }
  return {
    ...(flags.wifi !== undefined && { accessPoint: parseAccessPoint(flags.wifi) }),
    connectedAtBoot: flags.wifiAtBoot,
    faults,
    routes,
    listenHost,
  };
}

/** A short description of the faults in effect, or '' when there are none. */
export function describeFaults(faults: NetworkFaults): string {
  const parts = [
    faults.latencyMs !== undefined && `latency ${faults.latencyMs} ms`,
    faults.bytesPerSecond !== undefined && `${faults.bytesPerSecond} bytes/s`,
    faults.resetAfterBytes !== undefined && `reset after ${faults.resetAfterBytes} bytes`,
    faults.dnsFailure && 'DNS failing',
  ].filter(Boolean);
  return parts.join(', ');
}

function parseAccessPoint(text: string): { ssid: string; key: string } {
  const at = text.indexOf(':');
  const ssid = at === -1 ? text : text.slice(0, at);
  const key = at === -1 ? '' : text.slice(at + 1);
  if (ssid.length === 0 || ssid.length > 32) throw new UserError(`--wifi wants SSID:KEY with an SSID of 1 to 32 characters, not '${text}'`);
  if (key.length > 0 && (key.length < 8 || key.length > 63)) throw new UserError('--wifi: a WPA2 key has 8 to 63 characters (or none, for an open network)');
  return { ssid, key };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
