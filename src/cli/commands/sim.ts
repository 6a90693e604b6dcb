import type { Command } from 'commander';
import { identifyFirmware, extractApp } from '../../format/firmware-file.js';
import { parsePartitionCsv } from '../../format/partition-csv.js';
import { PartitionType, validatePartitionTable } from '../../format/partition-table.js';
import { hex } from '../../format/bytes.js';
import { humanSize } from '../../format/units.js';
import { DEFAULT_FLASH_SIZE } from '../../device/virtual-firmware.js';
import { CONSOLE_KINDS, DEFAULT_UART_BAUD, describeConsole, type ConsoleKind, type StrictBoardOptions } from '../../device/board-console.js';
import type { VirtualEsp32 } from '../../device/virtual-esp32.js';
import { checkFlashFilePath, commandLine, loadFlashFile, lockFlashFile, saveFlashFile, type FlashLock } from '../../node/flash-file.js';
import { freshFlash, virtualBoard } from '../../node/virtual-board.js';
import { WEBREPL_PASSWORD_VARIABLE } from '../../node/open-device.js';
import { serveUartOverTcp, serveWebRepl, type ListeningServer } from '../../node/sim-servers.js';
import { setupPasswordProblem } from '../../webrepl/webrepl-protocol.js';
import type { WebReplServer } from '../../webrepl/node.js';
import { UserError } from '../errors.js';
import { listening } from '../listening.js';
import { inFile, readInputFile, readInputText } from '../files.js';
import { choiceOption, integerOption, positiveNumberOption } from '../option-values.js';
import { printText, stdout } from '../output.js';
import { addNetworkFlags, describeFaults, networkOptionsOf, type NetworkFlags } from '../network-options.js';
import { HostNetwork } from '../../node/host-network.js';
import { DEFAULT_FLEET_NAME, fleetSettings, runFleetSimulator, strayFleetOptions, type FleetSimOptions } from './sim-fleet.js';

interface SimOptions extends NetworkFlags, FleetSimOptions {
  flash?: string;
  firmware?: string;
  table?: string;
  tcp?: number;
  webrepl?: number;
  password?: string;
  rollback: boolean;
  host: string;
  strict?: boolean;
  uart?: ConsoleKind;
  baud?: number;
  flashTimeScale?: number;
}

const DEFAULT_TCP_PORT = 2323;
const SAVE_INTERVAL_MS = 2000;

export function registerSimCommand(program: Command): void {
  const command = program
    .command('sim')
    .description('run a virtual ESP32 with MicroPython, reachable over TCP and/or WebREPL, to rehearse updates')
    .option('--flash <file>', 'flash image file: loaded if it exists, else created; saved on exit (default: in memory)')
    .option('--firmware <app>', 'for a new flash: the app image (or combined .bin) to put in the first app partition')
    .option('--table <csv>', 'for a new flash: partition table CSV (default: a 4 MiB OTA layout with 1.75 MiB app slots)')
    .option('--tcp <port>', `serve the UART on TCP (default ${DEFAULT_TCP_PORT} when no --webrepl; 0: any free port)`, integerOption('--tcp', { max: 65535 }))
    .option('--webrepl <port>', 'serve WebREPL (MicroPython uses 8266)', integerOption('--webrepl', { max: 65535 }))
    .option('--password <pw>', `WebREPL password, 4 to 9 characters (or set ${WEBREPL_PASSWORD_VARIABLE})`)
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--no-rollback', 'a bootloader built without CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE')
    .option('--strict', "board-faithful: the console's bit rate and 259-byte stdin ring, flash operations that take their datasheet time")
    .option('--uart <kind>', `with --strict: the console, ${CONSOLE_KINDS.join(' | ')} (default uart)`, choiceOption('--uart', CONSOLE_KINDS))
    .option('--baud <rate>', `with --strict --uart uart: the bit rate (default ${DEFAULT_UART_BAUD})`, integerOption('--baud', { min: 300, max: 5_000_000 }))
    .option('--flash-time-scale <factor>', 'with --strict: flash operations take their datasheet time times this (default 1)', positiveNumberOption('--flash-time-scale'))
    .option('--fleet <n>', 'run N virtual boards that follow a fleet\'s rollouts over MQTT (see docs/fleet.md); with --broker', integerOption('--fleet', { min: 1, max: 64 }))
    .option('--broker <url>', 'with --fleet: the MQTT broker the boards connect to, e.g. mqtt://127.0.0.1:1883')
    .option('--fleet-name <name>', `with --fleet: the fleet's name (default ${DEFAULT_FLEET_NAME})`)
    .option('--prefix <topic>', 'with --fleet: the fleet topics\' prefix (default esp32-ota)')
    .option('--flash-dir <dir>', 'with --fleet: keep each board\'s flash in DIR/board-NN.bin (loaded if there, else created; saved on exit)')
    .option('--health-fail-version <version>', 'with --fleet: the boards\' health check fails on this firmware version, so an update to it rolls back');
  addNetworkFlags(command).action(async (options: SimOptions) => {
    await runSimulator(options);
  });
}

async function runSimulator(options: SimOptions): Promise<void> {
  if (options.fleet !== undefined) return runFleet(options);
  const stray = strayFleetOptions(options);
  if (stray.length > 0) throw new UserError(`${stray.join(', ')} ${stray.length === 1 ? 'applies' : 'apply'} only with --fleet N`);
  const password = options.password ?? process.env[WEBREPL_PASSWORD_VARIABLE];
  if (options.webrepl !== undefined && !password) {
    throw new UserError(`--webrepl needs a password: --password PW or the ${WEBREPL_PASSWORD_VARIABLE} environment variable`);
  }
  const passwordProblem = options.webrepl !== undefined ? setupPasswordProblem(password!) : undefined;
  if (passwordProblem) throw new UserError(passwordProblem);
  const strict = strictOptions(options); // refuse bad options before anything is created
  const existing = options.flash !== undefined && checkFlashFilePath(options.flash);
  if (existing && (options.firmware || options.table)) {
    throw new UserError(`${options.flash} exists: --firmware and --table only apply to a new flash (delete the file to start over)`);
  }
  const freshOptions = {
    ...(options.firmware ? { firmware: await readFirmware(options.firmware) } : {}),
    ...(options.table ? { table: await readTable(options.table) } : {}),
  };
  const lock = options.flash ? lockFlashFile(options.flash, commandLine()) : undefined;
  const servers: (ListeningServer | WebReplServer)[] = [];
  const signals = stopSignals();
  let board: VirtualEsp32 | undefined;
  try {
    const network = new HostNetwork(networkOptionsOf(options, options.host));
    network.events.on('listening', (boardPort, hostPort) =>
      printText(`\nesp32-ota sim: the board listens on port ${boardPort}: reach it at ${options.host}:${hostPort}`),
    );
    board = virtualBoard(existing ? await loadFlashFile(options.flash!) : freshFlash(freshOptions), { rollbackEnabled: options.rollback, network, ...(strict && { strict }) });
    await serveBoard({ board, network, strict, options, existing, password, servers, lock, stopped: signals.stopped });
  } finally {
    signals.dispose();
    for (const server of servers) await server.close();
    await board?.stop();
    lock?.release();
  }
}

async function runFleet(options: SimOptions): Promise<void> {
  const single = [
    options.flash !== undefined && '--flash (use --flash-dir)',
    options.table !== undefined && '--table',
    options.tcp !== undefined && '--tcp',
    options.webrepl !== undefined && '--webrepl',
    options.strict && '--strict',
    !options.rollback && '--no-rollback',
  ].filter(Boolean);
  if (single.length > 0) throw new UserError(`${single.join(', ')}: not with --fleet (a fleet's boards have rollback, no UART or WebREPL server and the default partition table)`);
  const settings = fleetSettings(options);
  const firmware = options.firmware ? await readFirmware(options.firmware) : undefined;
  const signals = stopSignals();
  try {
    await runFleetSimulator(settings, options, firmware, signals.stopped);
  } finally {
    signals.dispose();
  }
}

interface SimSession {
  readonly board: VirtualEsp32;
  readonly network: HostNetwork;
  readonly strict: StrictBoardOptions | undefined;
  readonly options: SimOptions;
  readonly existing: boolean;
  readonly password: string | undefined;
  readonly servers: (ListeningServer | WebReplServer)[];
  readonly lock: FlashLock | undefined;
  /** Resolves on Ctrl-C (or SIGTERM). */
  readonly stopped: Promise<void>;
}

/** Ctrl-C and SIGTERM from the first moment on: the board stops cleanly (and is saved) whenever they come. */
function stopSignals(): { stopped: Promise<void>; dispose(): void } {
  let stop = (): void => undefined;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return {
    stopped,
    dispose: () => {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
    },
  };
}

/** Powers the board on, serves it until Ctrl-C, and keeps its flash file up to date. */
async function serveBoard({ board, network, strict, options, existing, password, servers, lock, stopped }: SimSession): Promise<void> {
  board.onOutput((bytes) => stdout().write(bytes));
  await board.powerOn();
  await board.idle();

  const tcpPort = options.tcp ?? (options.webrepl === undefined ? DEFAULT_TCP_PORT : undefined);
  const lines = [
    '',
    `esp32-ota sim: virtual ${board.chip.name}, ${humanSize(board.flash.size)} flash${options.flash ? ` in ${options.flash}${existing ? '' : ' (new)'}` : ' in memory'}`,
    board.booted
      ? `  booted '${board.booted.partition.label}' at ${hex(board.booted.partition.offset)}: MicroPython ${board.identity?.version}`
      : '  no bootable app: the board is halted',
    ...(strict ? [`  ${describeConsole(strict)}`] : []),
  ];
  if (tcpPort !== undefined) {
    const server = await listening(() => serveUartOverTcp(board, tcpPort, options.host), options.host, tcpPort);
    servers.push(server);
    lock?.advertise(server.url);
    lines.push(`  UART on ${server.url}  (mpremote connect socket://${options.host}:${server.port})`);
  }
  if (options.webrepl !== undefined) {
    const port = options.webrepl;
    const server = await listening(() => serveWebRepl(board, { password: password!, port, host: options.host }), options.host, port);
    servers.push(server);
    lines.push(`  WebREPL on ${server.url}  (webrepl_cli.py, or a WebREPL page in a browser)`);
  }
  const faults = describeFaults(network.currentFaults);
  lines.push(
    `  Wi-Fi: access point '${network.wifi.ssid}'${options.wifiAtBoot ? ', station connected at boot' : ', station off at boot'}${faults ? `; faults: ${faults}` : ''}`,
    "  The board's sockets use this computer's network; a port the board listens on is printed when it does.",
  );
  lines.push(`  Ctrl-C stops it${options.flash ? ` and saves the flash to ${options.flash}` : ''}.`, '');
  printText(lines.join('\n'));

  let savedAt = board.flash.stats().operations;
  const save = async () => {
    const operations = board.flash.stats().operations;
    if (!options.flash || (operations === savedAt && existing)) return;
    savedAt = operations;
    await saveFlashFile(options.flash, board.flash);
  };
  await save();
  let saveFailure: Error | undefined;
  const timer = setInterval(() => void save().catch((error: Error) => (saveFailure = error)), SAVE_INTERVAL_MS);
  await stopped;
  clearInterval(timer);
  for (const server of servers.splice(0)) await server.close();
  await board.stop();
  if (saveFailure) throw saveFailure;
  await save();
  printText(`\nesp32-ota sim: stopped${options.flash ? `; flash saved to ${options.flash}` : ''}.`);
}


async function readTable(path: string) {
  const text = await readInputText(path);
  const table = inFile(path, () => parsePartitionCsv(text));
  try {
    validatePartitionTable(table, { flashSize: DEFAULT_FLASH_SIZE });
  } catch (error) {
    throw new UserError(`${path}: does not fit the virtual board's ${humanSize(DEFAULT_FLASH_SIZE)} flash: ${(error as Error).message}`);
  }
  if (!table.partitions.some((partition) => partition.type === PartitionType.APP)) {
    throw new UserError(`${path}: the table has no app partition, so the board has nowhere to run firmware from`);
  }
  return table;
}

function strictOptions(options: SimOptions): StrictBoardOptions | undefined {
  if (!options.strict) {
    const stray = [options.uart && '--uart', options.baud && '--baud', options.flashTimeScale && '--flash-time-scale'].filter(Boolean);
    if (stray.length > 0) throw new UserError(`${stray.join(', ')} ${stray.length === 1 ? 'applies' : 'apply'} only with --strict`);
    return undefined;
  }
  const kind = options.uart ?? 'uart';
  if (options.baud !== undefined && kind !== 'uart') throw new UserError(`--baud is the UART's bit rate; ${kind} has none`);
  return {
    console: kind,
    ...(options.baud !== undefined && { baud: options.baud }),
    ...(options.flashTimeScale !== undefined && { flashTimeScale: options.flashTimeScale }),
  };
}

async function readFirmware(path: string): Promise<Uint8Array> {
  const bytes = await readInputFile(path);
  const file = inFile(path, () => identifyFirmware(bytes));
  if (file.kind === 'app-image') return bytes.subarray(0, file.appLength);
  if (file.kind === 'combined-image' || file.kind === 'flash-dump') return inFile(path, () => extractApp(bytes, file).bytes);
  throw new UserError(`${path} is a partition table, not firmware: pass it with --table (as CSV)`);
}
