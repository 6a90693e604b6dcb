/**
 * `esp32-ota sim --fleet N`: N virtual boards that follow a fleet's rollouts
 * over MQTT (src/node/virtual-fleet.ts), to rehearse a rollout on one machine
 * or in CI before real boards get it.
 */
import { statSync } from 'node:fs';
import { hex } from '../../format/bytes.js';
import { isFleetName } from '../../fleet/topics.js';
import { commandLine } from '../../node/flash-file.js';
import { VirtualFleet } from '../../node/virtual-fleet.js';
import { UserError } from '../errors.js';
import { printText, stdout } from '../output.js';
import { describeFaults, networkOptionsOf, type NetworkFlags } from '../network-options.js';

export interface FleetSimOptions extends NetworkFlags {
  fleet?: number;
  broker?: string;
  fleetName?: string;
  prefix?: string;
  flashDir?: string;
  healthFailVersion?: string;
  host: string;
}

export const DEFAULT_FLEET_NAME = 'rehearsal';
const SAVE_INTERVAL_MS = 5000;
const VERSION = /^v?\d+\.\d+\.\d+/;

/** The fleet-only options given without --fleet, as flag names. */
export function strayFleetOptions(options: FleetSimOptions): string[] {
  return [
    options.broker !== undefined && '--broker',
    options.fleetName !== undefined && '--fleet-name',
    options.prefix !== undefined && '--prefix',
    options.flashDir !== undefined && '--flash-dir',
    options.healthFailVersion !== undefined && '--health-fail-version',
  ].filter((flag): flag is string => typeof flag === 'string');
}

export interface FleetSettings {
  readonly size: number;
  readonly broker: string;
  readonly fleet: string;
  readonly prefix?: string;
  readonly flashDir?: string;
  readonly healthFailVersion?: string;
}

/** Checks the fleet options before anything is created; the message names what is wrong and what to give instead. */
export function fleetSettings(options: FleetSimOptions): FleetSettings {
  const size = options.fleet!;
  if (options.broker === undefined) throw new UserError('--fleet needs --broker URL: the MQTT broker the boards connect to, e.g. mqtt://127.0.0.1:1883 (esp32-ota fleet broker starts one)');
  let broker: URL;
  try {
    broker = new URL(options.broker);
  } catch {
    throw new UserError(`--broker wants a URL such as mqtt://127.0.0.1:1883, not '${options.broker}'`);
  }
  if (broker.protocol !== 'mqtt:' && broker.protocol !== 'mqtts:') {
    throw new UserError(`--broker: the boards speak MQTT (mqtt:// or mqtts://), not ${broker.protocol.replace(/:$/, '')}:// ('${options.broker}')`);
  }
  const fleet = options.fleetName ?? DEFAULT_FLEET_NAME;
  if (!isFleetName(fleet)) throw new UserError(`--fleet-name: '${fleet}' has characters a topic name must not have; use letters, digits, '_', '.' and '-'`);
  if (options.prefix !== undefined && !isFleetName(options.prefix)) {
    throw new UserError(`--prefix: '${options.prefix}' has characters a topic name must not have; use letters, digits, '_', '.' and '-'`);
  }
  if (options.healthFailVersion !== undefined && !VERSION.test(options.healthFailVersion)) {
    throw new UserError(`--health-fail-version wants a firmware version as the boards report it (e.g. v1.23.0), not '${options.healthFailVersion}'`);
  }
  if (options.flashDir !== undefined) checkFolder(options.flashDir);
  return {
    size,
    broker: options.broker,
    fleet,
    ...(options.prefix !== undefined && { prefix: options.prefix }),
    ...(options.flashDir !== undefined && { flashDir: options.flashDir }),
    ...(options.healthFailVersion !== undefined && { healthFailVersion: options.healthFailVersion.startsWith('v') ? options.healthFailVersion : `v${options.healthFailVersion}` }),
  };
}

function checkFolder(path: string): void {
  let isFolder: boolean;
  try {
    isFolder = statSync(path).isDirectory();
  } catch {
    throw new UserError(`--flash-dir: the folder ${path} does not exist (create it first; the boards' flash files are made in it)`);
  }
  if (!isFolder) throw new UserError(`--flash-dir: ${path} is not a folder`);
}

/** Runs the fleet until `stopped` resolves (Ctrl-C), printing each board's lines with its id. */
export async function runFleetSimulator(settings: FleetSettings, options: FleetSimOptions, firmware: Uint8Array | undefined, stopped: Promise<void>): Promise<void> {
  const networkOptions = networkOptionsOf(options, options.host);
  const fleet = await VirtualFleet.create({
    ...settings,
    ...(firmware && { firmware }),
    network: () => networkOptions,
    command: commandLine(),
  });
  try {
    for (const { board, id } of fleet.boards) board.onOutput(linePrinter(id));
    await fleet.powerOn();
    const faults = describeFaults(networkOptions.faults ?? {});
    const lines = [
      '',
      `esp32-ota sim: a fleet of ${fleet.boards.length} virtual boards, fleet '${settings.fleet}' on ${settings.broker}${faults ? `; faults on every board: ${faults}` : ''}`,
      '  board  device id     booted                      flash',
      ...fleet.boards.map(({ index, id, board, flashFile }) => {
        const booted = board.booted ? `${board.booted.partition.label} ${hex(board.booted.partition.offset)} ${board.identity?.version ?? ''}` : 'nothing bootable';
        return `  ${String(index).padStart(5)}  ${id}  ${booted.padEnd(26)}  ${flashFile ?? 'in memory'}`;
      }),
    ];
    if (settings.healthFailVersion) lines.push(`  The health check fails on ${settings.healthFailVersion}: boards that update to it roll back.`);
    lines.push(`  Ctrl-C stops them${settings.flashDir ? ` and saves their flash files in ${settings.flashDir}` : ''}.`, '');
    printText(lines.join('\n'));
    let saveFailure: Error | undefined;
    const timer = settings.flashDir ? setInterval(() => void fleet.save().catch((error: Error) => (saveFailure = error)), SAVE_INTERVAL_MS) : undefined;
    await stopped;
    clearInterval(timer);
    if (saveFailure) throw saveFailure;
  } finally {
    await fleet.close();
  }
  printText(`\nesp32-ota sim: the fleet stopped${settings.flashDir ? `; flash files saved in ${settings.flashDir}` : ''}.`);
}

/** Each whole line a board prints, as `[ID] line`. */
function linePrinter(id: string): (bytes: Uint8Array) => void {
  const decoder = new TextDecoder();
  let pending = '';
  return (bytes) => {
    pending += decoder.decode(bytes, { stream: true });
    const lines = pending.split(/\r?\n/);
    pending = lines.pop()!;
    const text = lines.map((line) => `[${id}] ${line}\n`).join('');
    if (text) stdout().write(text);
  };
}
