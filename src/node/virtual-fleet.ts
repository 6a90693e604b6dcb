/**
 * A fleet of virtual ESP32 boards on one machine, to rehearse rollouts: each
 * board has its own flash (in memory, or a flash file per board in a folder,
 * locked while it runs), its own device id (machine.unique_id()), its own
 * network (so faults hit one board), the `ota` package in /lib/ota and a
 * main.py that runs `ota.fleet` against the fleet's broker with a health check.
 * Boards are powered on together and can be switched off, cut and switched on
 * one by one.
 */
import { join } from 'node:path';
import { sha256 } from '../format/hash.js';
import { toHex } from '../format/bytes.js';
import type { VirtualEsp32 } from '../device/virtual-esp32.js';
import type { SharedFlash } from '../device/nor-flash.js';
import { loadBoardPackage, PACKAGE_DIRECTORY } from '../ota/board-package.js';
import { checkFlashFilePath, loadFlashFile, lockFlashFile, saveFlashFile, type FlashLock } from './flash-file.js';
import { HostNetwork, type HostNetworkOptions } from './host-network.js';
import { freshFlash, virtualBoard, type FreshFlashOptions } from './virtual-board.js';

export interface VirtualFleetOptions {
  /** How many boards (1 or more). */
  readonly size: number;
  /** The broker as the boards reach it: mqtt://HOST:PORT (or mqtts://), with user:password@ when it needs them. */
  readonly broker: string;
  /** The fleet name (`[A-Za-z0-9_.-]`). */
  readonly fleet: string;
  /** The topic prefix (default esp32-ota). */
  readonly prefix?: string;
  /** A folder with one flash file per board (board-00.bin …): loaded when there, else created; default in memory. */
  readonly flashDir?: string;
  /** For new flashes: the app in the first app slot (default the generated firmware of the bundled MicroPython). */
  readonly firmware?: FreshFlashOptions['firmware'];
  /** The health check fails on boards that run this firmware version (e.g. 'v1.23.0'): a firmware that does not come up. */
  readonly healthFailVersion?: string;
  /** Each board's network (by index): access point, faults, routes; default a plain one. */
  readonly network?: (index: number) => HostNetworkOptions | undefined;
  /** Who locks the flash files (shown to a second esp32-ota that finds them locked). */
  readonly command?: string;
}

export interface FleetBoard {
  readonly index: number;
  /** The device id the board reports: machine.unique_id() as 12 hex digits. */
  readonly id: string;
  readonly board: VirtualEsp32;
  readonly network: HostNetwork;
  /** The board's flash file, when the fleet has a flash folder. */
  readonly flashFile?: string;
}

/** The device id of board `index` of fleet `fleet`: the same on every run, so a flash folder and the broker's retained statuses keep matching. */
export function fleetDeviceId(fleet: string, index: number): string {
  return toHex(sha256(new TextEncoder().encode(`esp32-ota virtual fleet ${fleet} board ${index}`)).subarray(0, 6));
}

/** What each board runs at boot: ota.fleet with the fleet's settings and a health check. */
export function fleetMainPy(options: Pick<VirtualFleetOptions, 'broker' | 'fleet' | 'prefix' | 'healthFailVersion'>): string {
  const failing = options.healthFailVersion === undefined ? 'None' : JSON.stringify(options.healthFailVersion);
  return [
    '# Written by esp32-ota (virtual fleet): follow the fleet\'s rollouts.',
    'import ota.fleet, ota.status',
    '',
    `FAILING_VERSION = ${failing}`,
    '',
    '',
    'def health_check():',
    '    # The app\'s own check after an update; here: the rehearsal\'s failing version does not come up.',
    '    return ota.status.firmware_version() != FAILING_VERSION',
    '',
    '',
    `ota.fleet.run(${JSON.stringify(options.broker)}, ${JSON.stringify(options.fleet)}, health=health_check${options.prefix ? `, prefix=${JSON.stringify(options.prefix)}` : ''})`,
    '',
  ].join('\n');
}

const OUTPUT_KEPT = 16 * 1024;

export class VirtualFleet {
  private readonly outputs: string[];

  private constructor(
    readonly boards: readonly FleetBoard[],
    private readonly locks: FlashLock[],
  ) {
    this.outputs = boards.map(() => '');
    for (const { index, board } of boards) {
      const decoder = new TextDecoder();
      board.onOutput((bytes) => {
        this.outputs[index] = (this.outputs[index] + decoder.decode(bytes, { stream: true })).slice(-OUTPUT_KEPT);
      });
    }
  }

  /** Makes the boards (flashes loaded or created, files written), switched off. */
  static async create(options: VirtualFleetOptions): Promise<VirtualFleet> {
    if (!Number.isInteger(options.size) || options.size < 1) throw new RangeError(`a fleet has 1 or more boards, not ${options.size}`);
    const files = await boardFiles(options);
    const locks: FlashLock[] = [];
    const boards: FleetBoard[] = [];
    try {
      for (let index = 0; index < options.size; index++) {
        const flashFile = options.flashDir === undefined ? undefined : join(options.flashDir, `board-${String(index).padStart(2, '0')}.bin`);
        let flash: SharedFlash;
        if (flashFile !== undefined) {
          const existing = checkFlashFilePath(flashFile);
          locks.push(lockFlashFile(flashFile, options.command ?? 'esp32-ota virtual fleet'));
          flash = existing ? await loadFlashFile(flashFile) : freshFlash({ ...(options.firmware && { firmware: options.firmware }) });
        } else {
          flash = freshFlash({ ...(options.firmware && { firmware: options.firmware }) });
        }
        const network = new HostNetwork(options.network?.(index) ?? {});
        const id = fleetDeviceId(options.fleet, index);
        const board = virtualBoard(flash, { network, uniqueId: id });
        for (const [path, data] of files) board.writeFile(path, data);
        boards.push({ index, id, board, network, ...(flashFile !== undefined && { flashFile }) });
      }
    } catch (error) {
      for (const lock of locks) lock.release();
      throw error;
    }
    return new VirtualFleet(boards, locks);
  }

  /** Powers every board on together; resolves when all have booted. */
  async powerOn(): Promise<void> {
    await Promise.all(this.boards.map(({ board }) => board.powerOn()));
  }

  /** Switches board `index` on again (after stop or a power cut). */
  async start(index: number): Promise<void> {
    await this.at(index).board.powerOn();
  }

  /** Switches board `index` off at once (its connections drop without a goodbye, so the broker sends its last will). */
  async stop(index: number): Promise<void> {
    await this.at(index).board.stop();
  }

  /** Cuts board `index`'s power after `operations` more flash operations (0: at the next one): the chip stays off until start(). */
  cutPower(index: number, operations = 0): void {
    this.at(index).board.flash.cutPowerAfter(operations);
  }

  /** The last 16 KiB of what board `index` printed (its boot logs and ota.fleet's lines). */
  output(index: number): string {
    return this.outputs[this.at(index).index]!;
  }

  /** Saves each board's flash to its file (no-op in memory). */
  async save(): Promise<void> {
    for (const { board, flashFile } of this.boards) if (flashFile !== undefined) await saveFlashFile(flashFile, board.flash);
  }

  /** Stops every board, saves the flash files and releases their locks. */
  async close(): Promise<void> {
    try {
      await Promise.all(this.boards.map(({ board }) => board.stop()));
      for (const { network } of this.boards) network.close();
      await this.save();
    } finally {
      for (const lock of this.locks.splice(0)) lock.release();
    }
  }

  private at(index: number): FleetBoard {
    const board = this.boards[index];
    if (!board) throw new RangeError(`the fleet has boards 0 to ${this.boards.length - 1}, not ${index}`);
    return board;
  }
}

/** The files every board gets before it boots: the ota package in /lib/ota and main.py. */
async function boardFiles(options: VirtualFleetOptions): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  const board = await loadBoardPackage();
  for (const file of board.files) files.set(`${PACKAGE_DIRECTORY}/${file.name}`, file.bytes);
  files.set('/main.py', new TextEncoder().encode(fleetMainPy(options)));
  return files;
}
