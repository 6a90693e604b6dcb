/**
 * ota.fleet end to end on one virtual board: main.py runs ota.fleet.run
 * against a real broker (aedes); the test plays the host with MQTT.js
 * (retained commands, reading the retained statuses) and serves generated
 * firmware with esp32-ota serve. Shown: a failed download changes nothing;
 * an update is downloaded, reset into, health-checked, confirmed and reported
 * `success`; a firmware that fails its health check is rolled back by the
 * bootloader and reported `rolled-back`, and its command is not retried after
 * a reset; a broker restart is followed by a reconnect and a fresh status.
 */
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { buildGeneratedFirmware } from '../../src/device/virtual-firmware.js';
import { nativeSha256 } from '../../src/node/native-hash.js';
import { startOtaServer, type OtaServer } from '../../src/node/ota-server.js';
import { bundledMicroPythonVersion } from '../../src/node/virtual-board.js';
import { installBoardPackage } from '../../src/ota/board-package.js';
import { describeImage } from '../../src/ota/manifest.js';
import { prepareImage } from '../../src/ota/preflight.js';
import { networkBoard, type NetworkBoard } from '../helpers/network-board.js';
import { startTestBroker, type TestBroker } from '../helpers/mqtt-broker.js';

const GOOD = buildGeneratedFirmware({ version: 'v1.30.0', buildDate: '2026-02-02', size: 0xc000, seed: 11 });
const BAD = buildGeneratedFirmware({ version: 'v1.31.0', buildDate: '2026-02-03', size: 0xc000, seed: 12 });
const CRASHING = buildGeneratedFirmware({ version: 'v1.32.0', buildDate: '2026-02-04', size: 0xc000, seed: 13 });
const PREFIX = 'esp32-ota/lab/devices/';
/** ota/__init__.py's __version__ must be package.json's. */
const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../../../device/ota/package.json', import.meta.url), 'utf8')) as { version: string }).version;

interface Status {
  device: string;
  fleet: string;
  chip: string;
  version: string;
  partition: string;
  state: string;
  confirmed: boolean;
  update: { rollout: string; version: string | null; result: string; error: string | null } | null;
  package: string;
  time: number;
}

const site = mkdtempSync(join(tmpdir(), 'esp32-ota-fleet-'));
let broker: TestBroker;
let server: OtaServer;
let board: NetworkBoard;
let host: MqttClient;
let device = '';
let output = '';
const statuses: Status[] = [];
const online: string[] = [];
const progress: { rollout: string; bytes: number; total: number }[] = [];

function publishManifest(name: string, app: Uint8Array, firmware: string): void {
  writeFileSync(join(site, firmware), app);
  writeFileSync(join(site, name), JSON.stringify(describeImage(prepareImage(app, { sha256: nativeSha256 }), firmware, nativeSha256)));
}

/** The host's view: every status and online flag and progress message the board publishes, as they come. */
async function hostClient(url: string): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { clientId: `test-host-${Date.now()}`, reconnectPeriod: 200 });
  client.on('message', (topic, payload) => {
    if (!topic.startsWith(PREFIX) || payload.length === 0) return;
    device = topic.slice(PREFIX.length).split('/')[0]!;
    if (topic.endsWith('/status')) statuses.push(JSON.parse(payload.toString()) as Status);
    else if (topic.endsWith('/online')) online.push(payload.toString());
    else if (topic.endsWith('/progress')) progress.push(JSON.parse(payload.toString()) as (typeof progress)[number]);
  });
  await client.subscribeAsync(`${PREFIX}+/+`, { qos: 1 });
  return client;
}

async function until<T>(what: string, value: () => T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = value();
    if (found !== undefined && found !== false) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; the board printed:\n${output.slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Publishes a retained command and waits for the board's final result for it; returns the results it went through. */
async function command(rollout: string, manifest: string, version: string): Promise<{ results: string[]; last: Status }> {
  const from = statuses.length;
  await host.publishAsync(`${PREFIX}${device}/command`, JSON.stringify({ rollout, manifest: `${server.url}${manifest}`, version, force: false }), { qos: 1, retain: true });
  const last = await until(`the result of ${rollout}`, () =>
    statuses.slice(from).find((s) => s.update?.rollout === rollout && ['success', 'failed', 'rolled-back'].includes(s.update.result)),
  );
  const results = statuses.slice(from).filter((s) => s.update?.rollout === rollout).map((s) => s.update!.result);
  return { results: results.filter((result, i) => result !== results[i - 1]), last };
}

function otadata(): string {
  const table = board.board.booted!.table;
  const partition = table.partitions.find((p) => p.type === 1 && p.subtype === 0)!;
  return Buffer.from(board.board.flash.read(partition.offset, 0x2000)).toString('hex');
}

const MAIN_PY = (url: string) => `import sys
import machine
import ota.fleet

def health():
    # the app's check: v1.31.0 is a "broken" release in this test, and v1.32.0 one that crashes at boot
    if "v1.31.0" in sys.version:
        raise RuntimeError("the sensor does not answer")
    if "v1.32.0" in sys.version:
        machine.reset()

ota.fleet.run("${url}", "lab", health=health)
`;

before(async () => {
  publishManifest('good.json', GOOD, 'good.bin');
  publishManifest('bad.json', BAD, 'bad.bin');
  publishManifest('crashing.json', CRASHING, 'crashing.bin');
  writeFileSync(join(site, 'missing.json'), JSON.stringify({ ...JSON.parse(readFileSync(join(site, 'good.json'), 'utf8')), firmware: 'nowhere.bin' }));
  broker = await startTestBroker();
  server = await startOtaServer({ root: site, log: () => undefined });
  host = await hostClient(broker.url);
  board = await networkBoard();
  board.board.onOutput((bytes) => (output += new TextDecoder().decode(bytes)));
  await installBoardPackage(board.client, { sha256: nativeSha256 });
  board.board.writeFile('/main.py', new TextEncoder().encode(MAIN_PY(broker.url)));
  await board.board.reset();
});

after(async () => {
  await board?.stop();
  await host?.endAsync(true);
  await server?.close();
  await broker?.close();
  rmSync(site, { recursive: true, force: true });
});

describe('ota.fleet on a virtual board (main.py: ota.fleet.run) against aedes and esp32-ota serve', () => {
  it('publishes its retained status and online flag at connect', async () => {
    const first = await until('the first status', () => statuses[0]);
    assert.match(first.device, /^[0-9a-f]{12}$/);
    assert.deepEqual({ ...first, time: 0, device: '' }, { device: '', fleet: 'lab', chip: 'esp32', version: bundledMicroPythonVersion(), partition: 'ota_0', state: 'valid', confirmed: true, update: null, package: PACKAGE_VERSION, time: 0 });
    assert.deepEqual(online, ['1']);
  });

  it('a failed download (firmware 404) is reported `failed` and sets nothing to boot', async () => {
    const before = otadata();
    const { results, last } = await command('r-404', 'missing.json', 'v1.30.0');
    assert.deepEqual(results, ['downloading', 'failed']);
    assert.match(last.update!.error!, /HTTPError: HTTP 404 Not Found for http:\/\/127\.0\.0\.1:\d+\/nowhere\.bin/);
    assert.equal(last.partition, 'ota_0');
    assert.equal(otadata(), before, 'otadata unchanged');
  });

  it('an update is downloaded (progress at most every 10 %), installed, reset into, health-checked, confirmed: `success`', async () => {
    const { results, last } = await command('r-good', 'good.json', 'v1.30.0');
    assert.deepEqual(results, ['downloading', 'installed', 'success']);
    assert.deepEqual({ version: last.version, partition: last.partition, state: last.state, confirmed: last.confirmed }, { version: 'v1.30.0', partition: 'ota_1', state: 'valid', confirmed: true });
    const ours = progress.filter((p) => p.rollout === 'r-good');
    assert.ok(ours.length >= 5 && ours.length <= 10, `${ours.length} progress messages`);
    assert.ok(ours.every((p, i) => p.total === GOOD.length && (i === 0 || p.bytes > ours[i - 1]!.bytes)));
    assert.equal(ours.at(-1)!.bytes, GOOD.length);
    assert.deepEqual(online.slice(-3), ['1', '0', '1'], 'offline for the reset, online again');
  });

  it('a command for the version it runs is answered `success` at once, without a download', async () => {
    const { results } = await command('r-same', 'good.json', 'v1.30.0');
    assert.deepEqual(results, ['success']);
  });

  it('a firmware that fails its health check is rolled back by the bootloader, reported `rolled-back`, and not retried after a reset', async () => {
    const boots = board.board.boots;
    const { results, last } = await command('r-bad', 'bad.json', 'v1.31.0');
    assert.deepEqual(results, ['downloading', 'installed', 'rolled-back']);
    assert.equal(last.update!.error, 'the health check raised RuntimeError: the sensor does not answer');
    assert.deepEqual({ version: last.version, partition: last.partition, confirmed: last.confirmed }, { version: 'v1.30.0', partition: 'ota_1', confirmed: true });
    assert.equal(board.board.boots, boots + 2, 'booted the new firmware, then the old one again');
    assert.match(output, /fleet: resetting unconfirmed: the bootloader boots ota_1 again/);
    const from = statuses.length;
    await board.board.reset();
    const again = await until('the status after a reset', () => statuses.slice(from).find((s) => s.update?.rollout === 'r-bad'));
    assert.equal(again.update!.result, 'rolled-back', 'the retained command of r-bad is not tried again');
    assert.equal(again.version, 'v1.30.0');
    assert.ok(!statuses.slice(from).some((s) => s.update?.result === 'downloading'));
  });

  it('a firmware that resets before it confirms is rolled back by the bootloader, and the old one reports `rolled-back`', async () => {
    const { results, last } = await command('r-crash', 'crashing.json', 'v1.32.0');
    assert.deepEqual(results, ['downloading', 'installed', 'rolled-back']);
    assert.equal(last.update!.error, 'the new firmware did not confirm itself (no health check passed on ota_0): the bootloader went back to ota_1');
    assert.deepEqual({ version: last.version, partition: last.partition, confirmed: last.confirmed }, { version: 'v1.30.0', partition: 'ota_1', confirmed: true });
  });

  it('reconnects after a broker restart and publishes its status again', async () => {
    // Counted before the restart, so the restart's loss is the next one. (Not the "connected"
    // lines: the board logs "connected" only after publishing its status and subscribing, so
    // the line of the connection before the restart may still be on its way now.)
    const lossesBefore = (output.match(/fleet: connection lost/g) ?? []).length;
    await host.endAsync(true);
    statuses.length = 0;
    online.length = 0;
    await broker.restart(300);
    host = await hostClient(broker.url);
    const status = await until('a status on the restarted broker', () => statuses[0]);
    assert.equal(status.version, 'v1.30.0');
    assert.equal(status.update!.rollout, 'r-crash');
    // Retained on the new broker: the host may have subscribed after the board published both.
    assert.deepEqual(await until('the online flag on the restarted broker', () => online.length > 0 && online), ['1']);
    await until('the log of the loss and of the new connection', () => {
      const afterLoss = output.split('fleet: connection lost').slice(lossesBefore + 1);
      return afterLoss.length > 0 && afterLoss.join('').includes('fleet: connected');
    });
  });
});

describe('ota.fleet.Fleet polled from an app loop', () => {
  it('poll() returns while the broker is unreachable (backing off), then connects, keeps the connection alive with pings, and acts on a command', async () => {
    const app = await networkBoard();
    try {
      await installBoardPackage(app.client, { sha256: nativeSha256 });
      const closed = await startTestBroker();
      await closed.close(); // a port where nothing listens
      const away = await app.run(
        `import ota.fleet\nf = ota.fleet.Fleet("${closed.url}", "poll-lab", device_id="poller")\nf.poll()\nprint(f.connected, f.backoff)\nf.poll()\nprint(f.connected, f.backoff)`,
      );
      assert.match(away, /fleet: connecting to 127\.0\.0\.1:\d+ as esp32-ota-poller\nfleet: connection lost \(OSError\(104,?\)\); reconnecting in 1 s\nFalse 2000\nFalse 2000\n$/, 'the second poll, within the backoff, does not connect');
      let pings = 0;
      broker.aedes.on('ping', (_packet, client) => client.id === 'esp32-ota-poller' && pings++);
      const from = statuses.length;
      const live = await app.run(`f = ota.fleet.Fleet("${broker.url}", "lab", device_id="poller", keepalive=1)\nfor i in range(30):\n    f.poll(100)\nprint(f.connected)`);
      assert.match(live, /fleet: connected; following esp32-ota\/lab\/devices\/poller\/command\nTrue\n$/);
      assert.ok(pings >= 3, `${pings} pings in 3 s with keepalive 1 s`);
      assert.equal(statuses.slice(from).find((s) => s.device === 'poller')?.update, null);
      await host.publishAsync(`${PREFIX}poller/command`, JSON.stringify({ rollout: 'r-poll', manifest: `${server.url}missing.json`, version: 'v1.30.0' }), { qos: 1, retain: true });
      const acted = await app.run('for i in range(50):\n    f.poll(100)\n    if f.state.get("result") == "failed":\n        break\nprint(f.state["rollout"], f.state["result"])');
      assert.match(acted, /r-poll failed\n$/);
      await until('the failed status of the polled board', () => statuses.find((s) => s.device === 'poller' && s.update?.result === 'failed'));
    } finally {
      await app.stop();
    }
  });
});
