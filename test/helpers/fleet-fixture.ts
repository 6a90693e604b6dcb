/** What the fleet host tests share: a firmware folder with manifests served over HTTP, and a look at a broker's retained messages. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import mqtt from 'mqtt';
import { startOtaServer } from '../../src/node/ota-server.js';

export interface ManifestServer {
  /** The manifest of v1.24.0 for esp32. */
  readonly good: string;
  /** Another version (v1.25.0). */
  readonly next: string;
  readonly noVersion: string;
  readonly missingFirmware: string;
  readonly notJson: string;
  readonly badSha: string;
  readonly absent: string;
  close(): Promise<void>;
}

export async function manifestServer(): Promise<ManifestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'esp32-ota-fleet-'));
  const firmware = new Uint8Array(50_000).map((_, i) => (i * 7) & 0xff);
  const sha = createHash('sha256').update(firmware).digest('hex');
  writeFileSync(join(dir, 'fw.bin'), firmware);
  const manifest = (fields: object) => JSON.stringify({ firmware: 'fw.bin', sha, length: firmware.length, version: 'v1.24.0', chip: 'esp32', ...fields });
  writeFileSync(join(dir, 'micropython.json'), manifest({}));
  writeFileSync(join(dir, 'next.json'), manifest({ version: 'v1.25.0' }));
  writeFileSync(join(dir, 'no-version.json'), manifest({ version: undefined }));
  writeFileSync(join(dir, 'missing-firmware.json'), manifest({ firmware: 'nope.bin' }));
  writeFileSync(join(dir, 'bad-sha.json'), manifest({ sha: 'xyz' }));
  writeFileSync(join(dir, 'not-json.json'), '{"firmware": ');
  const server = await startOtaServer({ root: dir, host: '127.0.0.1', port: 0 });
  return {
    good: `${server.url}micropython.json`,
    next: `${server.url}next.json`,
    noVersion: `${server.url}no-version.json`,
    missingFirmware: `${server.url}missing-firmware.json`,
    notJson: `${server.url}not-json.json`,
    badSha: `${server.url}bad-sha.json`,
    absent: `${server.url}absent.json`,
    close: async () => {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The retained messages under `filter` (topic → payload), read with a client of its own. */
export async function retainedMessages(broker: string, filter: string, options: { username?: string; password?: string } = {}): Promise<Map<string, string>> {
  const client = await mqtt.connectAsync(broker, { clientId: `look-${Math.random().toString(16).slice(2, 8)}`, reconnectPeriod: 0, ...options });
  const messages = new Map<string, string>();
  client.on('message', (topic, payload, packet) => {
    if (packet.retain) messages.set(topic, payload.toString('utf8'));
  });
  await client.subscribeAsync(filter, { qos: 1 });
  await new Promise((resolve) => setTimeout(resolve, 300));
  await client.endAsync();
  return messages;
}

/** Polls until `test` holds (or fails after `timeoutMs`). */
export async function until(test: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!test()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
