/**
 * What a fleet rehearsal needs around the virtual fleet: a firmware site (the
 * real v1.23.0 app and its compressed, manifest-described form, served by
 * `esp32-ota serve`'s code) and an observer of the fleet's topics that keeps
 * the retained statuses and counts messages per device (docs/fleet.md).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { extractApp, identifyFirmware } from '../../src/format/firmware-file.js';
import { nativeSha256 } from '../../src/node/native-hash.js';
import { startOtaServer, type OtaServer } from '../../src/node/ota-server.js';
import { blockDeflateFile, describeImage } from '../../src/ota/manifest.js';
import { prepareImage } from '../../src/ota/preflight.js';

export interface FirmwareSite {
  readonly server: OtaServer;
  /** The manifest's URL. */
  readonly manifest: string;
  readonly version: string;
  /** One line per request, as `esp32-ota serve` logs them. */
  readonly log: string[];
  close(): Promise<void>;
}

/** The app of a combined firmware file (or the app image itself), compressed and described in micropython.json, served on port 0. */
export async function firmwareSite(firmware: Uint8Array, { wbits = 12 } = {}): Promise<FirmwareSite> {
  const file = identifyFirmware(firmware);
  const app = file.kind === 'app-image' ? firmware.subarray(0, file.appLength) : extractApp(firmware, file).bytes;
  const root = mkdtempSync(join(tmpdir(), 'esp32-ota-fleet-site-'));
  const compressed = blockDeflateFile(app, wbits);
  writeFileSync(join(root, 'micropython.bin'), app);
  writeFileSync(join(root, 'micropython.bin.deflate'), compressed);
  const described = describeImage(prepareImage(app, { sha256: nativeSha256 }), 'micropython.bin', nativeSha256);
  const manifest = {
    ...described,
    compression: { method: 'deflate', wbits, firmware: 'micropython.bin.deflate', sha: Buffer.from(nativeSha256(compressed)).toString('hex'), length: compressed.length },
  };
  writeFileSync(join(root, 'micropython.json'), JSON.stringify(manifest));
  const log: string[] = [];
  const server = await startOtaServer({ root, log: (line) => log.push(line) });
  return {
    server,
    manifest: `${server.url}micropython.json`,
    version: described.version ?? '',
    log,
    close: async () => {
      await server.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** A device's retained status, as docs/fleet.md gives it (the fields the tests read). */
export interface DeviceStatus {
  readonly device: string;
  readonly version: string;
  readonly partition: string;
  readonly state: string;
  readonly confirmed: boolean;
  readonly update: { readonly rollout: string; readonly version: string; readonly result: string; readonly error: string | null } | null;
}

export interface FleetObserver {
  /** The latest status of each device (retained ones included). */
  readonly statuses: Map<string, DeviceStatus>;
  /** Messages seen per device id (every topic under devices/ID/), and on the rollout topic. */
  readonly messages: Map<string, number>;
  /** Every update result each device reported, in order. */
  readonly results: Map<string, string[]>;
  /** Devices that have been sent a (non-empty) command. */
  readonly commanded: Set<string>;
  /** Every new update result, as it came: which device, which result. */
  readonly timeline: { readonly device: string; readonly result: string }[];
  /** Resolves when `check` holds (checked at every status and command); rejects after `timeoutMs` with what was seen. */
  waitFor(what: string, check: (statuses: Map<string, DeviceStatus>) => boolean, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

/** Subscribes to PREFIX/FLEET/# on `broker` (reconnecting when the broker restarts). */
export async function observeFleet(broker: string, fleet: string, prefix = 'esp32-ota'): Promise<FleetObserver> {
  const client: MqttClient = await mqtt.connectAsync(broker, { reconnectPeriod: 200, connectTimeout: 5000 });
  const statuses = new Map<string, DeviceStatus>();
  const messages = new Map<string, number>();
  const results = new Map<string, string[]>();
  const timeline: { device: string; result: string }[] = [];
  const commanded = new Set<string>();
  const waiters = new Set<() => void>();
  const base = `${prefix}/${fleet}/`;
  client.on('message', (topic, payload) => {
    if (!topic.startsWith(base)) return;
    const parts = topic.slice(base.length).split('/');
    const key = parts[0] === 'devices' ? parts[1]! : parts[0]!;
    messages.set(key, (messages.get(key) ?? 0) + 1);
    if (parts[0] === 'devices' && parts[2] === 'command' && payload.length > 0) {
      commanded.add(key);
      for (const wake of [...waiters]) wake();
    }
    if (parts[0] === 'devices' && parts[2] === 'status' && payload.length > 0) {
      const status = JSON.parse(payload.toString('utf8')) as DeviceStatus;
      statuses.set(key, status);
      if (status.update) {
        const list = results.get(key) ?? [];
        if (list.at(-1) !== status.update.result) {
          list.push(status.update.result);
          timeline.push({ device: key, result: status.update.result });
        }
        results.set(key, list);
      }
      for (const wake of [...waiters]) wake();
    }
  });
  await client.subscribeAsync(`${base}#`, { qos: 1 });
  return {
    statuses,
    messages,
    results,
    timeline,
    commanded,
    waitFor: (what, check, timeoutMs) =>
      new Promise<void>((resolve, reject) => {
        const wake = () => {
          if (!check(statuses)) return;
          clearTimeout(timer);
          waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(wake);
          const seen = [...statuses.values()].map((s) => `${s.device}: ${s.version} ${s.partition} ${s.state}${s.update ? ` ${s.update.result}${s.update.error ? ` (${s.update.error})` : ''}` : ''}`);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; statuses:\n  ${seen.join('\n  ')}`));
        }, timeoutMs);
        waiters.add(wake);
        wake();
      }),
    close: async () => {
      await client.endAsync(true);
    },
  };
}
