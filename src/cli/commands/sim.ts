import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { identifyFirmware, extractApp } from '../../format/firmware-file.js';
import { parsePartitionCsv } from '../../format/partition-csv.js';
import { hex } from '../../format/bytes.js';
import { humanSize } from '../../format/units.js';
import { saveFlashFile } from '../../node/flash-file.js';
import { freshFlash, loadFlash, virtualBoard } from '../../node/virtual-board.js';
import { WEBREPL_PASSWORD_VARIABLE } from '../../node/open-device.js';
import { serveUartOverTcp, serveWebRepl, type ListeningServer } from '../../node/sim-servers.js';
import type { WebReplServer } from '../../webrepl/node.js';
import { UserError } from '../errors.js';
import { readInputFile, readInputText } from '../files.js';
import { printText } from '../output.js';

interface SimOptions {
  flash?: string;
  firmware?: string;
  table?: string;
  tcp?: number;
  webrepl?: number;
  password?: string;
  rollback: boolean;
  host: string;
}

const DEFAULT_TCP_PORT = 2323;
const SAVE_INTERVAL_MS = 2000;

export function registerSimCommand(program: Command): void {
  program
    .command('sim')
    .description('run a virtual ESP32 with MicroPython, reachable over TCP and/or WebREPL, to rehearse updates')
    .option('--flash <file>', 'flash image file: loaded if it exists, else created; saved on exit (default: in memory)')
    .option('--firmware <app>', 'for a new flash: the app image (or combined .bin) to put in the first app partition')
    .option('--table <csv>', 'for a new flash: partition table CSV (default: a 4 MiB OTA layout with 1.75 MiB app slots)')
    .option('--tcp <port>', `serve the UART on TCP (default ${DEFAULT_TCP_PORT} when no --webrepl)`, parsePort)
    .option('--webrepl <port>', 'serve WebREPL (MicroPython uses 8266)', parsePort)
    .option('--password <pw>', `WebREPL password, 4 to 9 characters (or set ${WEBREPL_PASSWORD_VARIABLE})`)
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--no-rollback', 'a bootloader built without CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE')
    .action(async (options: SimOptions) => {
      await runSimulator(options);
    });
}

async function runSimulator(options: SimOptions): Promise<void> {
  const password = options.password ?? process.env[WEBREPL_PASSWORD_VARIABLE];
  if (options.webrepl !== undefined && !password) {
    throw new UserError(`--webrepl needs a password: --password PW or the ${WEBREPL_PASSWORD_VARIABLE} environment variable`);
  }
  const existing = options.flash !== undefined && existsSync(options.flash);
  if (existing && (options.firmware || options.table)) {
    throw new UserError(`${options.flash} exists: --firmware and --table only apply to a new flash (delete the file to start over)`);
  }
  const flash = existing ? await loadFlash(options.flash!) : freshFlash({
    ...(options.firmware ? { firmware: await readFirmware(options.firmware) } : {}),
    ...(options.table ? { table: parsePartitionCsv(await readInputText(options.table)) } : {}),
  });
  const board = virtualBoard(flash, { rollbackEnabled: options.rollback });
  board.onOutput((bytes) => process.stdout.write(bytes));
  await board.powerOn();
  await board.idle();

  const servers: (ListeningServer | WebReplServer)[] = [];
  const tcpPort = options.tcp ?? (options.webrepl === undefined ? DEFAULT_TCP_PORT : undefined);
  const lines = [
    '',
    `esp32-ota sim: virtual ${board.chip.name}, ${humanSize(board.flash.size)} flash${options.flash ? ` in ${options.flash}${existing ? '' : ' (new)'}` : ' in memory'}`,
    board.booted
      ? `  booted '${board.booted.partition.label}' at ${hex(board.booted.partition.offset)}: MicroPython ${board.identity?.version}`
      : '  no bootable app: the board is halted',
  ];
  if (tcpPort !== undefined) {
    const server = await serveUartOverTcp(board, tcpPort, options.host);
    servers.push(server);
    lines.push(`  UART on ${server.url}  (mpremote connect socket://${options.host}:${server.port})`);
  }
  if (options.webrepl !== undefined) {
    const server = await serveWebRepl(board, { password: password!, port: options.webrepl, host: options.host });
    servers.push(server);
    lines.push(`  WebREPL on ${server.url}  (webrepl_cli.py, or a WebREPL page in a browser)`);
  }
  lines.push(`  Ctrl-C stops it${options.flash ? ` and saves the flash to ${options.flash}` : ''}.`, '');
  // Listen before saying how to connect: a client may connect and stop us at once.
  const stopped = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  printText(lines.join('\n'));

  let savedAt = board.flash.stats().operations;
  const save = async () => {
    const operations = board.flash.stats().operations;
    if (!options.flash || (operations === savedAt && existing)) return;
    savedAt = operations;
    await saveFlashFile(options.flash, board.flash);
  };
  await save();
  const timer = setInterval(() => void save(), SAVE_INTERVAL_MS);
  await stopped;
  clearInterval(timer);
  for (const server of servers) await server.close();
  await board.stop();
  await save();
  printText(`\nesp32-ota sim: stopped${options.flash ? `; flash saved to ${options.flash}` : ''}.`);
}

async function readFirmware(path: string): Promise<Uint8Array> {
  const bytes = await readInputFile(path);
  const file = identifyFirmware(bytes);
  if (file.kind === 'app-image') return bytes.subarray(0, file.appLength);
  if (file.kind === 'combined-image' || file.kind === 'flash-dump') return extractApp(bytes, file).bytes;
  throw new UserError(`${path} is a partition table, not firmware: pass it with --table (as CSV)`);
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UserError(`not a port number: '${text}'`);
  return port;
}
