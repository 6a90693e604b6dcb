import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
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
  const device = await openDevice({ kind: 'sim', flashFile });
  let failed = true;
  try {
    const client = new ReplClient(device.transport);
    await client.enterRawRepl();
    const before = await readStatus(client);
    printText(statusText(before));

    const version = nextVersion(before.version);
    // Content that deflates as a real app does, so the wire figures mean what they would on a real board.
    const firmware = buildGeneratedFirmware({ version, buildDate: new Date().toISOString().slice(0, 10), size: 0x120000, seed: Date.now(), content: 'app-like' });
    const flashBusyAtStart = device.board!.flash.stats().busyMs;
    heading(`Update to ${version} (a generated ${(firmware.length / 1024 / 1024).toFixed(1)} MiB app image), then reboot and confirm`);
    const progress = progressReporter(stdout());
    const result = await update(device, client, firmware, {
      name: `micropython-${version}.bin`,
      sha256: nativeSha256,
      confirm: true,
      onStep: (message) => {
        progress.stop();
        printText(message);
      },
      onProgress: (p) => progress.update(p),
    });
    progress.stop();

    heading('After the update');
    printText(statusText(result.after!));
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const { wireBytes, compression } = result.transfer;
    printText(
      `\nDone in ${seconds} s: ${withThousands(result.image.length)} bytes sent as ${withThousands(wireBytes)} ` +
        `(${(wireBytes / result.image.length).toFixed(2)}x, ${compression}), verified on the board, booted and confirmed.\n\n` +
        realBoardEstimate(wireBytes, device.board!.flash.stats().busyMs - flashBusyAtStart) +
        `\n\nTo update a real board: esp32-ota update micropython.app-bin -d /dev/ttyUSB0 --confirm`,
    );
    failed = false;
  } finally {
    await device.close({ failed });
  }
}

/** Serial baud rates of ESP32 boards' USB-UART bridges: the default, and what CP210x/CH340 bridges commonly reach. */
const BAUD_RATES = [115200, 921600];

/**
 * What the same update would take on a real board: the wire bytes at each baud
 * rate (8N1: 10 bits a byte), and the flash's erase and program time by the
 * virtual chip's timing model (a W25Q32JV's typical datasheet figures).
 * Computed, not measured: labelled so.
 */
function realBoardEstimate(wireBytes: number, flashBusyMs: number): string {
  const lines = [`On a real board (computed from these ${withThousands(wireBytes)} wire bytes at 10 bits a byte, not measured):`];
  for (const baud of BAUD_RATES) {
    lines.push(`  ${withThousands(baud).padStart(7)} baud: ${(wireBytes / (baud / 10)).toFixed(1).padStart(5)} s on the wire`);
  }
  lines.push(`  flash erase and program: ${(flashBusyMs / 1000).toFixed(1)} s by the flash chip's typical datasheet timings (adds to the wire time: a board reads no input while it writes flash; docs/transfer-protocol.md)`);
  return lines.join('\n');
}

/** The demo's new firmware: the running version with the minor number raised, marked as a demo build. */
function nextVersion(running: string): string {
  const match = /^v(\d+)\.(\d+)\.\d+/.exec(running) ?? /^v(\d+)\.(\d+)\.\d+/.exec(bundledMicroPythonVersion());
  return match ? `v${match[1]}.${Number(match[2]) + 1}.0-demo` : 'v9.9.0-demo';
}
