/**
 * A board offline through its whole stage, on the embedded broker. (The
 * other faults, a board that returns during its stage, a cut download and
 * the broker restarted mid-rollout, run on mosquitto: e2e-mosquitto.test.ts.)
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { startFleetBroker } from '../../src/node/mqtt-broker.js';
import { startRehearsal } from '../helpers/fleet-e2e.js';

describe('a board that stays offline through its stage', () => {
  it('is reported missing at the stage timeout (not a failure), and updates from its retained command when it returns', async (t) => {
    const broker = await startFleetBroker({ port: 0 });
    const rehearsal = await startRehearsal(t, { broker: broker.url, name: 'e2e-missing', size: 2 });
    if (!rehearsal) return broker.close();
    const { fleet, observer, site } = rehearsal;
    const offline = fleet.boards[1]!;
    try {
      await fleet.stop(1);
      const result = await rehearsal.rollout(['--stages', '50%,100%', '--max-failures', '0', '--timeout', '15s']);
      const context = `${result.stdout}\n${result.stderr}\n${rehearsal.describe()}`;
      assert.equal(result.code, 0, context);
      assert.match(result.stdout, new RegExp(`missing at the timeout: ${offline.id}`), context);
      assert.match(result.stdout, new RegExp(`Done: 1 of 2 devices run v1\\.23\\.0, 1 missing \\(${offline.id}\\): their command stays`), context);
      assert.equal(observer.statuses.get(offline.id)?.update, null, 'it never heard of the rollout while it was off');
      await fleet.start(1);
      await observer.waitFor(`${offline.id} on the new app`, (statuses) => statuses.get(offline.id)?.version === site.version && statuses.get(offline.id)?.confirmed === true, 60_000);
      assert.deepEqual(observer.results.get(offline.id), ['downloading', 'installed', 'success']);
      assert.equal(offline.board.booted?.partition.label, 'ota_1');
    } finally {
      await rehearsal.close();
      await broker.close();
    }
  });
});
