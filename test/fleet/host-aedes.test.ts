/**
 * fleet status / rollout against the embedded broker (aedes, in process, port 0)
 * with simulated boards that follow docs/fleet.md: these exercise the host's
 * logic (stages, halts, resume, timeouts, reconnects); the real board code is
 * tested end to end on virtual boards elsewhere.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { parseRolloutState, rolloutOrder, stageSize } from '../../src/fleet/index.js';
import { startFleetBroker, type FleetBroker } from '../../src/node/mqtt-broker.js';
import { runRollout } from '../../src/node/fleet-rollout.js';
import { readFleetStatus } from '../../src/node/fleet-status.js';
import { manifestServer, retainedMessages, until, type ManifestServer } from '../helpers/fleet-fixture.js';
import { SimulatedBoard, startBoards } from '../helpers/fleet-board.js';
import { runCliInProcess } from '../helpers/run-cli.js';

let broker: FleetBroker;
let manifests: ManifestServer;
const boards: SimulatedBoard[] = [];
/** Who published what (client id, topic), to see that a refused command published nothing. */
const publishes: { client: string; topic: string }[] = [];

before(async () => {
  broker = await startFleetBroker({ port: 0 });
  broker.broker.on('publish', (packet, client) => {
    if (client) publishes.push({ client: client.id, topic: packet.topic });
  });
  manifests = await manifestServer();
});
after(async () => {
  await Promise.all(boards.map((board) => board.stop()));
  await broker.close();
  await manifests.close();
});

async function fleetOf(count: number, fleet: string, options: Partial<Parameters<typeof startBoards>[1]> = {}): Promise<SimulatedBoard[]> {
  const started = await startBoards(count, { broker: broker.url, fleet, ...options });
  boards.push(...started);
  return started;
}

const rolloutArgs = (fleet: string, manifest: string, ...more: string[]) => ['fleet', 'rollout', manifest, '--broker', broker.url, '--fleet', fleet, ...more];

describe('fleet status', () => {
  it('shows the retained statuses as a table and as JSON, ignoring a malformed message with a note', async () => {
    const fleet = await fleetOf(3, 'status-lab');
    await fleet[2]!.dropOff();
    const junk = await import('mqtt').then((m) => m.default.connectAsync(broker.url));
    await junk.publishAsync('esp32-ota/status-lab/devices/junk/status', '{"not": "a status"}', { qos: 1, retain: true });
    await junk.endAsync();
    const text = await runCliInProcess(['fleet', 'status', '--broker', broker.url, '--fleet', 'status-lab']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /Fleet 'status-lab' on mqtt:\/\/127\.0\.0\.1:\d+: 3 devices, 3 on v1\.23\.0; 2 online/);
    assert.match(text.stdout, /DEVICE\s+CHIP\s+VERSION\s+PARTITION\s+STATE\s+CONFIRMED\s+ONLINE\s+LAST UPDATE/);
    assert.match(text.stdout, /board02\s+esp32\s+v1\.23\.0\s+ota_0\s+valid\s+yes\s+no\s+-/);
    assert.match(text.stdout, /No rollout recorded/);
    assert.match(text.stderr, /ignored esp32-ota\/status-lab\/devices\/junk\/status: "device" must be a non-empty string/);
    const json = await runCliInProcess(['fleet', 'status', '--broker', broker.url, '--fleet', 'status-lab', '--json']);
    const shown = JSON.parse(json.stdout);
    assert.deepEqual(
      shown.devices.map((d: { device: string; online: boolean; version: string }) => [d.device, d.online, d.version]),
      [['board00', true, 'v1.23.0'], ['board01', true, 'v1.23.0'], ['board02', false, 'v1.23.0']],
    );
    assert.equal(shown.rollout, null);
    assert.equal(shown.ignored.length, 1);
  });
});

describe('fleet rollout', () => {
  it('rolls out in three stages to done: each stage starts only when the last one has its results', async () => {
    const fleet = await fleetOf(10, 'three');
    const result = await runCliInProcess(rolloutArgs('three', manifests.good, '--stages', '10%,50%,100%', '--max-failures', '0', '--timeout', '20s'), { timeoutMs: 30_000 });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Starting rollout r-\d{8}-[0-9a-f]{6}: v1\.24\.0 to 10 devices of fleet 'three', stages 10%,50%,100%/);
    assert.match(result.stdout, /Stage 1 of 3 \(10%\): 1 selected/);
    assert.match(result.stdout, /Stage 2 of 3 \(50%\): 5 selected, commands to 4/);
    assert.match(result.stdout, /Stage 3 of 3 \(100%\): 10 selected, commands to 5/);
    assert.match(result.stdout, /Done: 10 of 10 devices run v1\.24\.0\./);
    for (const board of fleet) {
      assert.equal(board.version, 'v1.24.0');
      assert.equal(board.commands.length, 1, `${board.id} got one command`);
    }
    const state = parseRolloutState((await retainedMessages(broker.url, 'esp32-ota/three/rollout')).get('esp32-ota/three/rollout')!).value!;
    assert.equal(state.state, 'done');
    assert.equal(state.stage, 2);
    // Stage order: the stage-1 board's success came before any stage-2 command (the order in the output).
    const order = rolloutOrder(state.id, fleet.map((b) => b.id));
    const firstSuccess = result.stdout.indexOf(`${order[0]}: success`);
    const secondStage = result.stdout.indexOf('Stage 2 of 3');
    assert.ok(firstSuccess > 0 && firstSuccess < secondStage);
    const status = await runCliInProcess(['fleet', 'status', '--broker', broker.url, '--fleet', 'three']);
    assert.match(status.stdout, /10 devices, 10 on v1\.24\.0; 10 online/);
    assert.match(status.stdout, new RegExp(`Rollout ${state.id} of v1\\.24\\.0 .*: done, stage 3 of 3`));
    // Run again: the rollout is done, nothing is sent again.
    const again = await runCliInProcess(rolloutArgs('three', manifests.good, '--stages', '10%,50%,100%'), { timeoutMs: 30_000 });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`Resuming rollout ${state.id}`));
    assert.ok(fleet.every((board) => board.commands.length === 1));
  });

  it('halts when failures pass the limit: later stages untouched, the command of a board that had not started deleted; resumes with a higher limit', async () => {
    const fleet = await fleetOf(6, 'halt', { behaviour: 'rollback' });
    const id = 'r-test-halt';
    const order = rolloutOrder(id, fleet.map((b) => b.id));
    const byId = new Map(fleet.map((b) => [b.id, b]));
    // Stage 1 (50 %) selects order[0..2]: order[2] is offline, so it has not started when the others roll back.
    assert.equal(stageSize(0.5, 6), 3);
    await byId.get(order[2]!)!.dropOff();
    const events: string[] = [];
    const outcome = await runRollout(
      { broker: broker.url, fleet: 'halt', manifest: manifests.good, stages: [0.5, 1], maxFailures: 1, stageTimeoutMs: 20_000, rolloutId: id },
      { onEvent: (event) => events.push(event.kind) },
    );
    assert.equal(outcome.result, 'halted');
    assert.match(outcome.reason!, /2 failures \(.*rolled-back.*\), more than --max-failures 1, in stage 1 of 2 \(50%\)/);
    assert.equal(outcome.state.stage, 0);
    assert.ok(!events.includes('stage-ended'));
    for (const device of order.slice(3)) assert.equal(byId.get(device)!.commands.length, 0, `${device} (a later stage) got no command`);
    const commands = await retainedMessages(broker.url, 'esp32-ota/halt/devices/+/command');
    assert.deepEqual([...commands.keys()].sort(), order.slice(0, 2).map((d) => `esp32-ota/halt/devices/${d}/command`).sort());
    // The offline board returns: no command waits for it.
    const returning = byId.get(order[2]!)!;
    await returning.connect();
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(returning.commands.length, 0);
    assert.equal(returning.version, 'v1.23.0');

    // Run again with the same limit: it stays halted and publishes nothing.
    const stays = await runCliInProcess(rolloutArgs('halt', manifests.good, '--max-failures', '1'), { timeoutMs: 20_000 });
    assert.equal(stays.code, 1);
    assert.match(stays.stderr, /rollout r-test-halt halted: .* It stays halted: resume it with --max-failures 2 or more/);
    // With --max-failures 6 it resumes: the deleted command goes out again, then the last stage.
    const resumed = await runCliInProcess(rolloutArgs('halt', manifests.good, '--max-failures', '6', '--timeout', '20s'), { timeoutMs: 30_000 });
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, /Resuming rollout r-test-halt/);
    assert.match(resumed.stdout, /it was halted .*; --max-failures 6 allows its 2 failures/);
    assert.match(resumed.stdout, /Done: 0 of 6 devices run v1\.24\.0, 6 failed/);
    assert.ok(fleet.every((board) => board.commands.length >= 1 && board.version === 'v1.23.0'));
  });

  it('reports a board offline for its whole stage as missing at the timeout (not a failure); it updates when it returns', async () => {
    const fleet = await fleetOf(4, 'missing');
    await fleet[1]!.dropOff();
    const result = await runCliInProcess(rolloutArgs('missing', manifests.good, '--stages', '50%,100%', '--timeout', '1.5s'), { timeoutMs: 30_000 });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /missing at the timeout: board01/);
    assert.match(result.stdout, /Done: 3 of 4 devices run v1\.24\.0, 1 missing \(board01\): their command stays/);
    const state = parseRolloutState((await retainedMessages(broker.url, 'esp32-ota/missing/rollout')).get('esp32-ota/missing/rollout')!).value!;
    assert.deepEqual(state.missing, ['board01']);
    assert.deepEqual(state.failures, []);
    await fleet[1]!.connect();
    await until(() => fleet[1]!.version === 'v1.24.0', 'the returning board to update');
    const status = await readFleetStatus({ broker: broker.url, fleet: 'missing' });
    assert.ok(status.devices.every((d) => d.status?.version === 'v1.24.0'));
  });

  it('is resumed after Ctrl-C with the same id and order; no board acts twice', async () => {
    const fleet = await fleetOf(6, 'interrupt', { stepMs: 150 });
    const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
    const child = spawn(process.execPath, [cli, ...rolloutArgs('interrupt', manifests.good, '--stages', '20%,100%', '--timeout', '20s')]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    await until(() => /Stage 2 of 2/.test(stdout), 'the second stage', 20_000);
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 130, stderr);
    assert.match(stderr, /stopped: rollout r-\d{8}-[0-9a-f]{6} stays recorded as running at stage 2 of 2 on the broker.*run the same command again to resume it/);
    const id = /Starting rollout (r-\S+):/.exec(stdout)![1]!;
    const resumed = await runCliInProcess(rolloutArgs('interrupt', manifests.good, '--stages', '20%,100%', '--timeout', '20s'), { timeoutMs: 30_000 });
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, new RegExp(`Resuming rollout ${id}`));
    assert.match(resumed.stdout, /Done: 6 of 6 devices run v1\.24\.0/);
    for (const board of fleet) {
      assert.equal(board.version, 'v1.24.0');
      assert.deepEqual(new Set(board.commands.map((c) => c.rollout)), new Set([id]));
    }
  });

  it('survives a broker restart mid-rollout: boards and host reconnect and publish their retained state again', async () => {
    const own = await startFleetBroker({ port: 0 });
    const port = own.port;
    let current = own;
    const fleet = await startBoards(5, { broker: own.url, fleet: 'restart', stepMs: 200 });
    boards.push(...fleet);
    const lines: string[] = [];
    const rollout = runRollout(
      { broker: own.url, fleet: 'restart', manifest: manifests.good, stages: [0.2, 1], stageTimeoutMs: 20_000 },
      { onEvent: (event) => lines.push(event.kind), onConnection: (state) => lines.push(state) },
    );
    await until(() => lines.includes('stage-started'), 'the first stage');
    await current.close();
    current = await startFleetBroker({ port });
    const outcome = await rollout;
    try {
      assert.equal(outcome.result, 'done');
      assert.ok(lines.includes('lost') && lines.includes('restored'), lines.join());
      assert.ok(fleet.every((board) => board.version === 'v1.24.0'));
      // The new broker holds the rollout's final state and every board's status again.
      const retained = await retainedMessages(current.url, 'esp32-ota/restart/#');
      assert.equal(parseRolloutState(retained.get('esp32-ota/restart/rollout')!).value!.state, 'done');
      assert.equal([...retained.keys()].filter((topic) => topic.endsWith('/status')).length, 5);
    } finally {
      await Promise.all(fleet.map((board) => board.stop()));
      await current.close();
    }
  });

  it('refuses a bad manifest, a bad broker and bad values with exit 1, publishing nothing', async () => {
    await fleetOf(2, 'refuse');
    const before = publishes.filter((p) => !p.client.startsWith('board-')).length;
    const cases: [string[], RegExp][] = [
      [rolloutArgs('refuse', manifests.absent, '--stages', '100%'), /cannot download .*absent\.json: HTTP 404/],
      [rolloutArgs('refuse', manifests.notJson, '--stages', '100%'), /not-json\.json is not valid JSON/],
      [rolloutArgs('refuse', manifests.noVersion, '--stages', '100%'), /names no "version"/],
      [rolloutArgs('refuse', manifests.badSha, '--stages', '100%'), /"sha" must be 64 hex digits/],
      [rolloutArgs('refuse', manifests.missingFirmware, '--stages', '100%'), /firmware .*nope\.bin is not there: HTTP 404/],
      [rolloutArgs('refuse', manifests.good), /a new rollout needs --stages/],
      [rolloutArgs('nobody', manifests.good, '--stages', '100%'), /no device of this fleet has reported/],
      [['fleet', 'rollout', manifests.good, '--broker', 'mqtt://127.0.0.1:1', '--fleet', 'refuse', '--stages', '100%'], /nothing listens there \(ECONNREFUSED\)/],
    ];
    for (const [args, problem] of cases) {
      const result = await runCliInProcess(args, { timeoutMs: 20_000 });
      assert.equal(result.code, 1, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, problem);
    }
    assert.equal(publishes.filter((p) => !p.client.startsWith('board-')).length, before, 'no host publish');
    assert.equal((await retainedMessages(broker.url, 'esp32-ota/refuse/rollout')).size, 0);
  });

  it('uses credentials and TLS: fleet broker --auth with --tls-cert, status over mqtts:// with --ca', async () => {
    const { readFileSync } = await import('node:fs');
    const tls = { cert: readFileSync(new URL('../../../test/fixtures/tls/server.pem', import.meta.url)), key: readFileSync(new URL('../../../test/fixtures/tls/server.key', import.meta.url)) };
    const secure = await startFleetBroker({ port: 0, auth: { user: 'fleet', password: 's3cret' }, tls, wsPort: 0 });
    const ca = fileURLToPath(new URL('../../../test/fixtures/tls/ca.pem', import.meta.url));
    try {
      const board = await SimulatedBoard.start({ broker: secure.url, fleet: 'tls', id: 'only', username: 'fleet', password: 's3cret', ca: readFileSync(ca) });
      boards.push(board);
      const ok = await runCliInProcess(['fleet', 'status', '--broker', secure.url.replace('mqtts://', 'mqtts://fleet:s3cret@'), '--fleet', 'tls', '--ca', ca]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /only\s+esp32\s+v1\.23\.0/);
      const ws = await runCliInProcess(['fleet', 'status', '--broker', secure.wsUrl!, '--user', 'fleet', '--password', 's3cret', '--fleet', 'tls', '--ca', ca]);
      assert.equal(ws.code, 0, ws.stderr);
      assert.match(ws.stdout, /only\s+esp32/);
      const wrong = await runCliInProcess(['fleet', 'status', '--broker', secure.url, '--user', 'fleet', '--password', 'nope', '--fleet', 'tls', '--ca', ca]);
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /refused the connection: .*user ?name or password/i);
      const untrusted = await runCliInProcess(['fleet', 'status', '--broker', secure.url, '--user', 'fleet', '--password', 's3cret', '--fleet', 'tls']);
      assert.equal(untrusted.code, 1);
      assert.match(untrusted.stderr, /not trusted .*--ca FILE/);
    } finally {
      await secure.close();
    }
  });
});
