/**
 * Fleet rollouts end to end on Debian's mosquitto (installed by .ci/run):
 * the same three-stage rollout of the real v1.23.0 app to virtual boards as
 * on the embedded broker, and the same faults with mosquitto itself
 * restarted (SIGTERM, started again on its port, retained messages lost).
 */
import { after, before, describe, it } from 'node:test';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { startRehearsal } from '../helpers/fleet-e2e.js';
import { assertRolledOut } from '../helpers/fleet-checks.js';
import { rehearseFaults } from '../helpers/fleet-faults.js';

let mosquitto: Mosquitto;
before(async () => {
  mosquitto = await startMosquitto();
});
after(() => mosquitto.close());

describe('a fleet rollout on mosquitto', () => {
  it('brings the real v1.23.0 app to every board in three stages, confirmed, and fleet status shows it', async (t) => {
    const rehearsal = await startRehearsal(t, { broker: mosquitto.url, name: 'e2e-mosquitto', size: 4 });
    if (!rehearsal) return;
    try {
      await assertRolledOut(rehearsal, ['--stages', '25%,50%,100%']);
    } finally {
      await rehearsal.close();
    }
  });

  it('through faults: a board offline at its stage returns, a cut download resumes, mosquitto restarts mid-rollout', async (t) => {
    await rehearseFaults(
      t,
      {
        url: mosquitto.url,
        restart: async () => {
          await mosquitto.stop();
          await mosquitto.start();
        },
      },
      'e2e-mosquitto-faults',
    );
  });
});
