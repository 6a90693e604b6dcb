/**
 * A rehearsed rollout through faults, the same on every broker: one board is
 * off when the rollout starts and comes back once its command waits for it,
 * one board's downloads are cut every 400 kB (the pull code resumes them with
 * HTTP ranges), and the broker restarts once the first board has succeeded.
 * Every board must end on the new app, confirmed: nothing left unbootable.
 */
import { strict as assert } from 'node:assert';
import type { TestContext } from 'node:test';
import { startRehearsal } from './fleet-e2e.js';

export interface RestartableBroker {
  readonly url: string;
  /** Stops the broker (dropping every connection) and starts it again on the same port. */
  restart(): Promise<void>;
}

const OFFLINE = 3;
const CUT = 1;
const CUT_AFTER_BYTES = 400_000;

export async function rehearseFaults(t: TestContext, broker: RestartableBroker, name: string): Promise<void> {
  const rehearsal = await startRehearsal(t, {
    broker: broker.url,
    name,
    size: 4,
    network: (index) => (index === CUT ? { faults: { resetAfterBytes: CUT_AFTER_BYTES } } : undefined),
  });
  if (!rehearsal) return;
  const { fleet, observer, site } = rehearsal;
  const offline = fleet.boards[OFFLINE]!;
  try {
    await fleet.stop(OFFLINE);
    const rollout = rehearsal.rollout(['--stages', '25%,50%,100%', '--max-failures', '0', '--timeout', '180s']);
    // The offline board returns once the rollout has sent it its command (a retained one: it reads it at connect).
    const returned = observer.waitFor(`a command for the offline board ${offline.id}`, () => observer.commanded.has(offline.id), 200_000).then(async () => {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await fleet.start(OFFLINE);
    });
    // The broker restarts once the first board has succeeded, while the rollout goes on.
    const restarted = observer
      .waitFor('the first success', () => observer.timeline.some((event) => event.result === 'success'), 200_000)
      .then(() => broker.restart());
    const result = await rollout;
    await Promise.all([returned, restarted]);
    const context = `${result.stdout}\n${result.stderr}\n${rehearsal.describe()}`;
    assert.equal(result.code, 0, context);
    assert.match(result.stdout, /Done: 4 of 4 devices run v1\.23\.0\./, context);
    assert.match(result.stderr, /Lost the broker: reconnecting…[^]*Reconnected to the broker/, `the rollout lived through the restart\n${context}`);
    await observer.waitFor('every board on the new app, confirmed', (statuses) => [...statuses.values()].every((s) => s.version === site.version && s.confirmed), 20_000);
    for (const { id, board } of fleet.boards) {
      assert.equal(board.booted?.partition.label, 'ota_1', `board ${id} boots the new app\n${context}`);
      assert.equal(board.identity?.version, site.version);
      assert.equal(observer.statuses.get(id)?.update?.result, 'success');
    }
    assert.equal(offline.board.state, 'running');
    const ranges = site.log.filter((line) => / GET \/micropython\.bin\.deflate 206 /.test(line));
    assert.ok(ranges.length >= 2, `the cut board's download was resumed with ranges (1.1 MB cut every ${CUT_AFTER_BYTES} bytes)\n${site.log.join('\n')}`);
  } finally {
    await rehearsal.close();
  }
}
