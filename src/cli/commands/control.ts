import type { Command } from 'commander';
import { readStatus, resetBoard, rollback, type RollbackAction } from '../../ota/engine.js';
import { addDeviceOptions, deviceAddressOf, withBoard, type DeviceOptions } from '../device-options.js';
import { UserError } from '../errors.js';
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

  const rollbackCommand = program
    .command('rollback')
    .description("control rollback of an update, as the seed's ota.rollback")
    // Without an action, say which actions there are (rather than "unknown option '-d'").
    .allowUnknownOption()
    .allowExcessArguments()
    .action((_options: unknown, command: Command) => {
      const given = command.args[0];
      throw new UserError(
        `${given === undefined || given.startsWith('-') ? 'rollback needs an action' : `'${given}' is not a rollback action`}: cancel, force or cancel-force (e.g. esp32-ota rollback cancel -d DEVICE)`,
      );
    });
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
          const sim = deviceAddressOf(options).kind === 'sim';
          const howToSwitch = options.reboot ? '' : sim ? ' (A sim: board is powered on by every command that opens it: the next one boots it.)' : ' Reset the board (esp32-ota reset) to switch.';
          printText(`The next reset boots '${result.boot}'.${howToSwitch}`);
        }
        if (options.reboot) printText(`\n${statusText(status)}`);
      });
  }
}
