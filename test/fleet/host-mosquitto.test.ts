/** The host side against Debian's mosquitto (a standard broker, not ours): a rollout to done with a broker restart in the middle, and fleet status. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseRolloutState } from '../../src/fleet/index.js';
import { runRollout } from '../../src/node/fleet-rollout.js';
import { manifestServer, retainedMessages, until, type ManifestServer } from '../helpers/fleet-fixture.js';
import { startBoards, type SimulatedBoard } from '../helpers/fleet-board.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { runCliInProcess } from '../helpers/run-cli.js';

let mosquitto: Mosquitto;
let manifests: ManifestServer;
let boards: SimulatedBoard[] = [];

before(async () => {
  mosquitto = await startMosquitto();
  manifests = await manifestServer();
});
after(async () => {
  await Promise.all(boards.map((board) => board.stop()));
  await mosquitto.close();
  await manifests.close();
});

describe('fleet against mosquitto', () => {
  it('rolls out in three stages to done across a mosquitto restart, and fleet status shows it', async () => {
    boards = await startBoards(8, { broker: mosquitto.url, fleet: 'mosq', stepMs: 150 });
    const events: string[] = [];
    const rollout = runRollout(
      { broker: mosquitto.url, fleet: 'mosq', manifest: manifests.good, stages: [0.125, 0.5, 1], maxFailures: 0, stageTimeoutMs: 30_000 },
      { onEvent: (event) => events.push(event.kind), onConnection: (state) => events.push(state) },
    );
    await until(() => events.filter((kind) => kind === 'stage-started').length >= 2, 'the second stage', 20_000);
    await mosquitto.stop();
    await new Promise((resolve) => setTimeout(resolve, 200));
    await mosquitto.start();
    const outcome = await rollout;
    assert.equal(outcome.result, 'done');
    assert.ok(events.includes('lost') && events.includes('restored'), events.join());
    assert.equal(events.filter((kind) => kind === 'stage-started').length, 3);
    assert.ok(boards.every((board) => board.version === 'v1.24.0'));
    const retained = await retainedMessages(mosquitto.url, 'esp32-ota/mosq/rollout');
    assert.equal(parseRolloutState(retained.get('esp32-ota/mosq/rollout')!).value!.state, 'done');
    const status = await runCliInProcess(['fleet', 'status', '--broker', mosquitto.url, '--fleet', 'mosq']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /8 devices, 8 on v1\.24\.0; 8 online/);
    assert.match(status.stdout, /done, stage 3 of 3/);
  });
});
