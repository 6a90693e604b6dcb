/**
 * Fleet rollouts end to end on the embedded broker (`esp32-ota fleet
 * broker`'s): virtual boards running the real `ota.fleet`, the real v1.23.0
 * app served by `esp32-ota serve`'s code, `esp32-ota fleet rollout` and
 * `fleet status` as a user runs them. A good release reaches every board in
 * three stages and is confirmed; a release whose health check fails rolls
 * back on the first stage and halts the rollout before any other board is touched.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { startFleetBroker, type FleetBroker } from '../../src/node/mqtt-broker.js';
import { startRehearsal, STARTING_VERSION } from '../helpers/fleet-e2e.js';
import { assertRolledOut } from '../helpers/fleet-checks.js';

let broker: FleetBroker;
before(async () => {
  broker = await startFleetBroker({ port: 0 });
});
after(() => broker.close());

describe('a fleet rollout on the embedded broker', () => {
  it('brings the real v1.23.0 app to every board in three stages, confirmed, and fleet status shows it', async (t) => {
    const rehearsal = await startRehearsal(t, { broker: broker.url, name: 'e2e', size: 4 });
    if (!rehearsal) return;
    try {
      await assertRolledOut(rehearsal, ['--stages', '25%,50%,100%']);
    } finally {
      await rehearsal.close();
    }
  });

  it('a release whose health check fails: the first stage rolls back, the rollout halts, no later board is touched', async (t) => {
    const rehearsal = await startRehearsal(t, { broker: broker.url, name: 'e2e-bad', size: 4, healthFailVersion: 'v1.23.0' });
    if (!rehearsal) return;
    try {
      const otadataBefore = rehearsal.fleet.boards.map(({ board }) => otadataHex(board.flash.bytes));
      const result = await rehearsal.rollout(['--stages', '25%,50%,100%', '--max-failures', '0', '--timeout', '120s']);
      const context = `${result.stdout}\n${result.stderr}\n${rehearsal.describe()}`;
      assert.equal(result.code, 1, context);
      assert.match(result.stderr, /rollout r-[\w-]+ halted: /, context);
      assert.match(result.stdout, /^Halted\..*No later stage was started\./m, context);
      const statuses = rehearsal.observer.statuses;
      const touched = [...statuses.values()].filter((status) => status.update !== null);
      assert.equal(touched.length, 1, `only the first stage's board was given the update\n${context}`);
      const [first] = touched;
      assert.equal(first!.update!.result, 'rolled-back', context);
      assert.ok(first!.update!.error, 'the board says why');
      assert.equal(first!.version, STARTING_VERSION, 'it runs its old firmware again');
      assert.equal(first!.partition, 'ota_0');
      assert.equal(first!.confirmed, true);
      for (const { id, board, index } of rehearsal.fleet.boards) {
        assert.equal(board.booted?.partition.label, 'ota_0', `board ${id} boots its old firmware`);
        assert.equal(board.identity?.version, STARTING_VERSION);
        if (id === first!.device) {
          assert.deepEqual(rehearsal.observer.results.get(id), ['downloading', 'installed', 'rolled-back'], context);
        } else {
          assert.equal(board.boots, 1, `board ${id} of a later stage was never reset`);
          assert.deepEqual(otadataHex(board.flash.bytes), otadataBefore[index], `board ${id}'s otadata is untouched`);
          assert.equal(rehearsal.observer.results.get(id), undefined);
        }
      }
    } finally {
      await rehearsal.close();
    }
  });
});

/** The otadata partition (0xd000, 8 KiB, in the virtual board's layout) as hex. */
function otadataHex(flash: Uint8Array): string {
  return Buffer.from(flash.subarray(0xd000, 0xf000)).toString('hex');
}
