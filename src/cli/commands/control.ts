import type { Command } from 'commander';
import { readStatus, resetBoard, rollback, type RollbackAction } from '../../ota/engine.js';
import { addDeviceOptions, withBoard, type DeviceOptions } from '../device-options.js';
import { printJson, printText } from '../output.js';
import { statusJson, statusText } from '../views/status-view.js';

export function registerControlCommands(program: Command): void {
  addDeviceOptions(
    program
      .command('reset')
      .description('hard-reset the board (through the bootloader, as the EN button does) and show what it booted')
      .option('--json', 'machine-readable output'),
  ).action(async (options: DeviceOptions & { json?: boolean }) => {
    const status = await withBoard(options, async (device, client) => readStatus(await resetBoard(device, client)));
    if (options.json) printJson(statusJson(status));
    else printText(statusText(status));
  });

  const rollbackCommand = program.command('rollback').description("control rollback of an update, as the seed's ota.rollback");
  const actions: [RollbackAction, string][] = [
    ['cancel', 'confirm the running firmware: the bootloader will not roll it back (mark_app_valid_cancel_rollback)'],
    ['force', 'boot the previous OTA partition on the next reset'],
    ['cancel-force', 'boot the running partition again on the next reset (undoes force)'],
  ];
  for (const [action, description] of actions) {
    addDeviceOptions(rollbackCommand.command(action).description(description))
      .option('--reboot', 'reset the board afterwards and show what it booted')
      .option('--json', 'machine-readable output')
      .action(async (options: DeviceOptions & { reboot?: boolean; json?: boolean }) => {
        const { result, status } = await withBoard(options, async (device, client) => {
          const result = await rollback(client, action);
          const status = await readStatus(options.reboot ? await resetBoard(device, client) : client);
          return { result, status };
        });
        if (options.json) {
          printJson({ result, status: statusJson(status) });
          return;
        }
        if (action === 'cancel') {
          printText(
            result.confirmed
              ? `Firmware in '${status.running}' confirmed: the bootloader will keep booting it.`
              : 'This board has no rollback support (no otadata partition): nothing to confirm.',
          );
        } else {
          printText(`The next reset boots '${result.boot}'.${options.reboot ? '' : ' Reset the board (esp32-ota reset) to switch.'}`);
        }
        if (options.reboot) printText(`\n${statusText(status)}`);
      });
  }
}
