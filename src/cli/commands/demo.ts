import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_UART_BAUD, describeConsole, type StrictBoardOptions } from '../../device/board-console.js';
import { buildGeneratedFirmware } from '../../device/virtual-firmware.js';
import { openDevice } from '../../node/open-device.js';
import { nativeSha256 } from '../../node/native-hash.js';
import { bundledMicroPythonVersion } from '../../node/virtual-board.js';
import { readStatus } from '../../ota/engine.js';
import { update } from '../../ota/update.js';
import { withThousands } from '../../format/units.js';
import { ReplClient } from '../../repl/index.js';
import { printText, stdout } from '../output.js';
import { progressReporter } from '../progress.js';
import { statusText } from '../views/status-view.js';

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('the whole job on a virtual ESP32: status, update over the same path a real board takes, reboot, confirm, status')
    .option('--flash <file>', 'keep the virtual board in this flash file (default: a temporary one)')
    .action(async (options: { flash?: string }) => {
      const folder = options.flash ? undefined : mkdtempSync(join(tmpdir(), 'esp32-ota-demo-'));
      const flashFile = options.flash ?? join(folder!, 'board.bin');
      try {
        await runDemo(flashFile);
      } finally {
        if (folder) rmSync(folder, { recursive: true, force: true });
      }
    });
}

async function runDemo(flashFile: string): Promise<void> {
  const started = performance.now();
  const heading = (text: string) => printText(`\n=== ${text} ===`);
  heading(`A virtual ESP32 with MicroPython (flash: ${flashFile})`);
  const device = await openDevice({ kind: 'sim', flashFile }, { strict: DEMO_BOARD });
  let failed = true;
  try {
    const client = new ReplClient(device.transport);
    await client.enterRawRepl();
    const before = await readStatus(client);
    printText(statusText(before));

    const version = nextVersion(before.version);
    // Content that deflates as a real app does, so the wire figures mean what they would on a real board.
    const firmware = buildGeneratedFirmware({ version, buildDate: new Date().toISOString().slice(0, 10), size: 0x120000, seed: Date.now(), content: 'app-like' });
    const board = device.board!;
    const flashBusyAtStart = board.flash.stats().busyMs;
    const wireAtStart = board.consoleWireMs;
    const updateStarted = performance.now();
    heading(`Update to ${version} (a generated ${(firmware.length / 1024 / 1024).toFixed(1)} MiB app image), then reboot and confirm`);
    const progress = progressReporter(stdout());
    const result = await update(device, client, firmware, {
      name: `micropython-${version}.bin`,
      sha256: nativeSha256,
      confirm: true,
      transferBaud: TRANSFER_BAUD,
      onStep: (message) => {
        progress.stop();
        printText(message);
      },
      onProgress: (p) => progress.update(p),
    });
    progress.stop();
    const measured = {
      ms: performance.now() - updateStarted,
      wireMs: board.consoleWireMs - wireAtStart,
      flashMs: board.flash.stats().busyMs - flashBusyAtStart,
      baud: result.transfer.baud,
    };

    heading('After the update');
    printText(statusText(result.after!));
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const { wireBytes, compression } = result.transfer;
    printText(
      `\nDone in ${seconds} s: ${withThousands(result.image.length)} bytes sent as ${withThousands(wireBytes)} ` +
        `(${(wireBytes / result.image.length).toFixed(2)}x, ${compression}), verified on the board, booted and confirmed.\n\n` +
        realBoardFigures(measured) +
        `\n\nTo update a real board: esp32-ota update micropython.app-bin -d /dev/ttyUSB0 --confirm`,
    );
    failed = false;
  } finally {
    await device.close({ failed });
  }
}

/**
 * The demo's board is as strict as a real one: its REPL UART at the 115,200
 * baud a board boots with, the ESP32 port's 259-byte stdin ring, flash
 * operations that take their datasheet time; the update switches the UART to
 * 921,600 for the transfer, as `update --transfer-baud 921600` does.
 */
const DEMO_BOARD: StrictBoardOptions = { console: 'uart', baud: DEFAULT_UART_BAUD, flashTimeScale: 1 };
const TRANSFER_BAUD = 921_600;

/** What the update took on the board-faithful virtual board: measured, with where the time went. */
function realBoardFigures(measured: { ms: number; wireMs: number; flashMs: number; baud: number | undefined }): string {
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const rate = measured.baud === TRANSFER_BAUD ? `switched to ${withThousands(TRANSFER_BAUD)} baud for the transfer` : `kept at ${withThousands(DEFAULT_UART_BAUD)} baud (the switch to ${withThousands(TRANSFER_BAUD)} failed)`;
  return [
    `As on a real board (measured: ${describeConsole(DEMO_BOARD)}, ${rate}):`,
    `  the update took ${seconds(measured.ms)}: ${seconds(measured.wireMs)} of bytes on the wire and ${seconds(measured.flashMs)} of flash erase and program,`,
    `  which add up (a board reads no input while it writes flash); the rest: round trips, the board's CPU, reading its state, the reboot.`,
    `  The real 1.6 MB MicroPython image at 115,200 and 921,600 baud and over USB: npm run bench (docs/transfer-protocol.md).`,
  ].join('\n');
}

/** The demo's new firmware: the running version with the minor number raised, marked as a demo build. */
function nextVersion(running: string): string {
  const match = /^v(\d+)\.(\d+)\.\d+/.exec(running) ?? /^v(\d+)\.(\d+)\.\d+/.exec(bundledMicroPythonVersion());
  return match ? `v${match[1]}.${Number(match[2]) + 1}.0-demo` : 'v9.9.0-demo';
}
