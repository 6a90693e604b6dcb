/**
 * A rehearsed rollout through faults on the embedded broker: a board offline
 * when its stage starts, a download cut every 400 kB, the broker restarted
 * mid-rollout (test/helpers/fleet-faults.ts).
 */
import { after, describe, it } from 'node:test';
import { startFleetBroker, type FleetBroker } from '../../src/node/mqtt-broker.js';
import { rehearseFaults } from '../helpers/fleet-faults.js';

let broker: FleetBroker | undefined;
after(() => broker?.close());

describe('a fleet rollout through faults on the embedded broker', () => {
  it('a board offline at its stage updates when it returns; a cut download resumes; the broker restarts mid-rollout; every board ends on the new app', async (t) => {
    broker = await startFleetBroker({ port: 0 });
    const port = broker.port;
    await rehearseFaults(
      t,
      {
        url: broker.url,
        restart: async () => {
          await broker!.close();
          broker = await startFleetBroker({ port });
        },
      },
      'e2e-faults',
    );
  });
});
