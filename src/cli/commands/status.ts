import type { Command } from 'commander';
import { readStatus } from '../../ota/engine.js';
import { addDeviceOptions, withBoard, type DeviceOptions } from '../device-options.js';
import { printJson, printText } from '../output.js';
import { statusJson, statusText } from '../views/status-view.js';

export function registerStatusCommand(program: Command): void {
  addDeviceOptions(
    program
      .command('status')
      .description('what firmware the board runs, from which partition, what boots next, and its partitions and otadata')
      .option('--json', 'machine-readable output'),
  ).action(async (options: DeviceOptions & { json?: boolean }) => {
    const status = await withBoard(options, (_device, client) => readStatus(client));
    if (options.json) printJson(statusJson(status));
    else printText(statusText(status));
  });
}
