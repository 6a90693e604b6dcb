/**
 * One rehearsed rollout for the fleet benchmark: N virtual boards on an
 * embedded broker, the app served by `esp32-ota serve`'s code, and
 * `esp32-ota fleet rollout` run as a user runs it (in this process), timed
 * from the command's start to its end; the broker counts the publishes it
 * receives on the fleet's topics.
 */
import { performance } from 'node:perf_hooks';
import { main } from '../src/cli/program.js';
import { VirtualFleet } from '../src/node/virtual-fleet.js';
import { startFleetBroker } from '../src/node/mqtt-broker.js';
import { firmwareSite, observeFleet } from '../test/helpers/fleet-rehearsal.js';

export interface RolloutFigures {
  readonly boards: number;
  readonly rolloutMs: number;
  /** Publishes the broker received on the fleet's topics during the rollout, per board. */
  readonly messagesPerBoard: number;
  /** Of those, the boards' own (status, online, progress). */
  readonly boardMessagesPerBoard: number;
}

const STAGES = '12%,50%,100%';

export async function rehearseRollout(firmware: Uint8Array, boards: number): Promise<RolloutFigures> {
  const name = `bench${boards}`;
  const broker = await startFleetBroker({ port: 0 });
  const site = await firmwareSite(firmware);
  const observer = await observeFleet(broker.url, name);
  const fleet = await VirtualFleet.create({ size: boards, broker: broker.url, fleet: name });
  try {
    await fleet.powerOn();
    await observer.waitFor(`${boards} statuses`, (statuses) => statuses.size === boards, 60_000 + boards * 10_000);
    let publishes = 0;
    let fromBoards = 0;
    broker.broker.on('publish', (packet, client) => {
      if (!client || !packet.topic.startsWith(`esp32-ota/${name}/`)) return;
      publishes++;
      if (/\/devices\/[^/]+\/(status|online|progress)$/.test(packet.topic)) fromBoards++;
    });
    const quiet = { write: () => true };
    const started = performance.now();
    const code = await main(
      ['fleet', 'rollout', site.manifest, '--broker', broker.url, '--fleet', name, '--stages', STAGES, '--max-failures', '0', '--timeout', '600s'],
      { stdout: quiet, stderr: quiet },
    );
    const rolloutMs = performance.now() - started;
    if (code !== 0) throw new Error(`fleet rollout exited with ${code}`);
    const updated = [...observer.statuses.values()].filter((status) => status.version === site.version && status.confirmed);
    if (updated.length !== boards) throw new Error(`only ${updated.length} of ${boards} boards run ${site.version}, confirmed`);
    return { boards, rolloutMs, messagesPerBoard: publishes / boards, boardMessagesPerBoard: fromBoards / boards };
  } finally {
    await fleet.close();
    await observer.close();
    await site.close();
    await broker.close();
  }
}
