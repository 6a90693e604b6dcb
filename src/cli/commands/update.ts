import type { Command } from 'commander';
import { nativeSha256 } from '../../node/native-hash.js';
import { TransferError } from '../../ota/errors.js';
import { checkImage, update, type UpdateOptions, type UpdateResult } from '../../ota/update.js';
import { withThousands } from '../../format/units.js';
import { formatDeviceAddress } from '../../transport/device-address.js';
import { addDeviceOptions, deviceAddressOf, withBoard, type DeviceOptions } from '../device-options.js';
import { InterruptedError, UserError } from '../errors.js';
import { choiceOption, integerOption } from '../option-values.js';
import { inFile } from '../files.js';
import { loadFirmwareSource } from '../firmware-source.js';
import { printJson, printNote, printText } from '../output.js';
import { progressReporter } from '../progress.js';
import { statusJson } from '../views/status-view.js';

interface UpdateCommandOptions extends DeviceOptions {
  extract?: boolean;
  sha?: string;
  length?: number;
  reboot: boolean;
  confirm?: boolean;
  resume?: boolean;
  window?: number;
  compress?: 'auto' | 'on' | 'off';
  json?: boolean;
}

export function registerUpdateCommand(program: Command): void {
  addDeviceOptions(
    program
      .command('update')
      .description('write new MicroPython firmware to the next OTA partition, boot it, and check it came up')
      .argument('<firmware>', 'an app image (.app-bin / micropython.bin), an http(s) URL, or a JSON manifest {"firmware","sha","length"}')
      .option('--extract', 'take the app out of a combined firmware .bin or a flash dump')
      .option('--sha <hex>', 'refuse the image unless its SHA-256 is this')
      .option('--length <bytes>', 'refuse the image unless it is this long', integerOption('--length', { min: 1, unit: 'bytes' }))
      .option('--no-reboot', 'only write and set_boot; the board switches at its next reset')
      .option('--confirm', 'mark the new firmware valid once it runs, so the bootloader keeps it')
      .option('--resume', 'continue an interrupted update: blocks already written and verified are not sent again')
      .option('--window <bytes>', 'bytes in flight, at least 64 (default: what the board announces)', integerOption('--window', { min: 64, unit: 'bytes' }))
      .option('--compress <mode>', 'auto | on | off (default auto: when the board has the deflate module)', choiceOption('--compress', ['auto', 'on', 'off'] as const))
      .option('--json', 'machine-readable result'),
  ).action(async (firmware: string, options: UpdateCommandOptions) => {
    const source = await loadFirmwareSource(firmware);
    const length = options.length ?? source.length;
    const sha = options.sha ?? source.sha;
    if (sha !== undefined && !/^[0-9a-f]{64}$/i.test(sha)) throw new UserError(`the expected SHA-256 must be 64 hex digits, got '${sha}'`);

    const abort = new AbortController();
    const progress = options.json ? undefined : progressReporter();
    const updateOptions: UpdateOptions = {
      name: source.name,
      sha256: nativeSha256,
      reboot: options.reboot,
      ...(options.extract ? { extract: true } : {}),
      ...(sha !== undefined ? { sha } : {}),
      ...(length !== undefined ? { length } : {}),
      ...(options.confirm ? { confirm: true } : {}),
      ...(options.resume ? { resume: true } : {}),
      ...(options.window ? { window: options.window } : {}),
      ...(options.compress ? { compress: options.compress } : {}),
      onStep: (message) => {
        progress?.stop();
        if (!options.json) printNote(message);
      },
      ...(progress ? { onProgress: (p) => progress.update(p) } : {}),
      signal: abort.signal,
    };
    // The file is checked before the board is opened: a refusal touches no board (and no sim: file).
    const checked = inFile(source.name, () => checkImage(source.bytes, updateOptions));
    const onInterrupt = () => abort.abort();
    process.once('SIGINT', onInterrupt);
    try {
      const result = await withBoard(options, (device, client) => update(device, client, checked, updateOptions));
      if (options.json) printJson(resultJson(result));
      else printText(summary(result, options));
    } catch (error) {
      if (abort.signal.aborted && error instanceof TransferError && error.code === 'aborted') throw interrupted(error, firmware, checked.prepared.bytes.length);
      throw error;
    } finally {
      progress?.stop();
      process.removeListener('SIGINT', onInterrupt);
    }
  });
}

/** Ctrl-C stopped the transfer: nothing was set to boot, and --resume keeps what the board verified. */
function interrupted(error: TransferError, firmware: string, imageBytes: number): InterruptedError {
  const written = error.ackedBytes === undefined ? 'before any block was written' : `after ${withThousands(error.ackedBytes)} of ${withThousands(imageBytes)} bytes were written and checked`;
  return new InterruptedError(
    `interrupted ${written}: the board still runs its old firmware and boots it next (the boot partition is unchanged); ` +
      `run the same command with --resume to continue (esp32-ota update ${firmware} … --resume)`,
  );
}

function summary(result: UpdateResult, options: DeviceOptions): string {
  const address = deviceAddressOf(options);
  const transfer = result.transfer;
  const lines = [
    `Updated '${result.target}': ${result.image.length.toLocaleString('en')} bytes, ${transfer.wireBytes.toLocaleString('en')} on the wire ` +
      `(${(transfer.wireBytes / result.image.length).toFixed(2)}x, ${transfer.compression}), ${(transfer.elapsedMs / 1000).toFixed(1)} s` +
      (transfer.resumedBlocks ? `, ${transfer.resumedBlocks} blocks kept from before` : '') +
      (transfer.retransmits ? `, ${transfer.retransmits} frames sent again` : '') +
      '.',
  ];
  if (!result.after) {
    lines.push(`The board boots '${result.target}' at its next reset (esp32-ota reset).`);
  } else if (result.confirmed) {
    lines.push(`MicroPython ${result.after.version} runs from '${result.target}' and is confirmed.`);
  } else {
    lines.push(`MicroPython ${result.after.version} runs from '${result.target}', NOT confirmed yet: the board rolls back to '${result.before.running}' at its next reset`);
    lines.push(
      address.kind === 'sim'
        ? `(and a sim: board is reset by the next command that opens it). To keep it, update with --confirm; to confirm it from another command, run the board with esp32-ota sim --flash FILE and use -d tcp:127.0.0.1:2323.`
        : `unless the app calls esp32.Partition.mark_app_valid_cancel_rollback() (or run: esp32-ota rollback cancel -d ${formatDeviceAddress(address)}).`,
    );
  }
  return lines.join('\n');
}

function resultJson(result: UpdateResult) {
  return {
    target: result.target,
    image: result.image,
    transfer: result.transfer,
    confirmed: result.confirmed,
    before: statusJson(result.before),
    after: result.after ? statusJson(result.after) : null,
  };
}
