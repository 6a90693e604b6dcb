/**
 * An end-to-end fleet rehearsal for the tests: a virtual fleet on a broker,
 * the real v1.23.0 app on `esp32-ota serve`'s code, an observer of the
 * fleet's topics, and `esp32-ota fleet rollout | status` run as a user runs
 * them (in this process).
 */
import type { TestContext } from 'node:test';
import { VirtualFleet, type VirtualFleetOptions } from '../../src/node/virtual-fleet.js';
import { firmwareSite, observeFleet, type FirmwareSite, type FleetObserver } from './fleet-rehearsal.js';
import { runCliInProcess, type CliResult } from './run-cli.js';
import { realFirmware } from './testdata.js';

/** The generated firmware every new virtual board starts with (the bundled interpreter's version). */
export const STARTING_VERSION = 'v1.27.0';

export interface Rehearsal {
  readonly fleet: VirtualFleet;
  readonly site: FirmwareSite;
  readonly observer: FleetObserver;
  readonly broker: string;
  readonly name: string;
  /** `esp32-ota fleet rollout MANIFEST --broker --fleet ARGS…` */
  rollout(args: readonly string[], timeoutMs?: number): Promise<CliResult>;
  /** `esp32-ota fleet status --broker --fleet ARGS…` */
  status(args?: readonly string[]): Promise<CliResult>;
  /** Everything a failed check needs: each board's last lines. */
  describe(): string;
  close(): Promise<void>;
}

/**
 * Starts the boards and waits until each has reported the starting firmware;
 * undefined (the test skipped, saying why) without the real firmware.
 */
export async function startRehearsal(
  t: TestContext,
  options: { broker: string; name: string; size: number } & Pick<VirtualFleetOptions, 'healthFailVersion' | 'network'>,
): Promise<Rehearsal | undefined> {
  const firmware = realFirmware(t);
  if (!firmware) return undefined;
  const site = await firmwareSite(firmware);
  const observer = await observeFleet(options.broker, options.name);
  const fleet = await VirtualFleet.create({ size: options.size, broker: options.broker, fleet: options.name, ...(options.healthFailVersion && { healthFailVersion: options.healthFailVersion }), ...(options.network && { network: options.network }) });
  const rehearsal: Rehearsal = {
    fleet,
    site,
    observer,
    broker: options.broker,
    name: options.name,
    rollout: (args, timeoutMs = 240_000) => runCliInProcess(['fleet', 'rollout', site.manifest, '--broker', options.broker, '--fleet', options.name, ...args], { timeoutMs }),
    status: (args = []) => runCliInProcess(['fleet', 'status', '--broker', options.broker, '--fleet', options.name, ...args]),
    describe: () => fleet.boards.map(({ index, id }) => `--- board ${index} (${id}):\n${fleet.output(index).split('\n').slice(-25).join('\n')}`).join('\n'),
    close: async () => {
      await fleet.close();
      await observer.close();
      await site.close();
    },
  };
  try {
    await fleet.powerOn();
    await observer.waitFor(
      `${options.size} boards reporting ${STARTING_VERSION}`,
      (statuses) => statuses.size === options.size && [...statuses.values()].every((status) => status.version === STARTING_VERSION && status.confirmed),
      30_000 + options.size * 5_000,
    );
  } catch (error) {
    const boards = rehearsal.describe();
    await rehearsal.close();
    throw new Error(`${(error as Error).message}\n${boards}`, { cause: error });
  }
  return rehearsal;
}
