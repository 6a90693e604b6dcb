import type { Command } from 'commander';
import { nativeSha256 } from '../../node/native-hash.js';
import { TransferError } from '../../ota/errors.js';
import { checkImage, update, type UpdateOptions, type UpdateResult } from '../../ota/update.js';
import { pullUpdate, type PullResult } from '../../ota/pull.js';
import { withThousands } from '../../format/units.js';
import { formatDeviceAddress } from '../../transport/device-address.js';
import { addDeviceOptions, deviceAddressOf, withBoard, type DeviceOptions } from '../device-options.js';
import { InterruptedError, UserError } from '../errors.js';
import { choiceOption, integerOption, parseCredentials } from '../option-values.js';
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
  transferBaud?: number;
  compress?: 'auto' | 'on' | 'off';
  json?: boolean;
  pull?: boolean;
  force?: boolean;
  auth?: string;
  token?: string;
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
      .option(
        '--transfer-baud <rate>',
        'serial port: run the board\'s REPL UART at this rate for the transfer, e.g. 921600 (falls back to the port\'s rate when the host cannot follow)',
        integerOption('--transfer-baud', { min: 9600, max: 5_000_000, unit: 'baud' }),
      )
      .option('--compress <mode>', 'auto | on | off (default auto: when the board has the deflate module)', choiceOption('--compress', ['auto', 'on', 'off'] as const))
      .option('--pull', 'the board downloads FIRMWARE (a URL it can reach) itself with its ota package, installed or updated in /lib/ota first')
      .option('--force', 'with --pull: write the manifest\'s firmware even if the board already runs that version')
      .option('--auth <user:pass>', 'with --pull: HTTP basic auth the board sends')
      .option('--token <token>', 'with --pull: bearer token the board sends')
      .option('--json', 'machine-readable result'),
  ).action(async (firmware: string, options: UpdateCommandOptions) => {
    if (options.pull) return pullCommand(firmware, options);
    for (const flag of ['force', 'auth', 'token'] as const) if (options[flag] !== undefined) throw new UserError(`--${flag} goes with --pull (the board downloading the firmware itself)`);
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
      ...(options.transferBaud ? { transferBaud: options.transferBaud } : {}),
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

async function pullCommand(source: string, options: UpdateCommandOptions): Promise<void> {
  for (const flag of ['extract', 'resume', 'window', 'compress'] as const) {
    if (options[flag] !== undefined) throw new UserError(`--${flag} is for host-driven updates; with --pull the board downloads and checks the firmware itself`);
  }
  if (options.sha !== undefined && !/^[0-9a-f]{64}$/i.test(options.sha)) throw new UserError(`the expected SHA-256 must be 64 hex digits, got '${options.sha}'`);
  if (options.auth && options.token) throw new UserError('give --auth or --token, not both');
  const auth = options.auth === undefined ? undefined : parseCredentials('--auth', options.auth);
  const progress = options.json ? undefined : progressReporter();
  const say = (message: string) => {
    progress?.stop();
    if (!options.json) printNote(message);
  };
  try {
    // All or nothing on a sim: file: a pull that fails saves none of what the board wrote (the ota package in /lib/ota, part of an image).
    const result = await withBoard(
      options,
      (device, client) =>
        pullUpdate(device, client, {
          source,
          sha256: nativeSha256,
          reboot: options.reboot,
          ...(options.sha ? { sha: options.sha } : {}),
          ...(options.length ? { length: options.length } : {}),
          ...(options.force ? { force: true } : {}),
          ...(options.confirm ? { confirm: true } : {}),
          ...(auth ? { auth } : {}),
          ...(options.token ? { token: options.token } : {}),
          onStep: say,
          ...(progress ? { onProgress: (p) => progress.update(p) } : {}),
        }),
      { dropFailedWrites: true },
    );
    if (options.json) printJson({ ...result, before: statusJson(result.before), after: result.after ? statusJson(result.after) : null });
    else printText(pullSummary(result, options));
  } finally {
    progress?.stop();
  }
}

function pullSummary(result: PullResult, options: DeviceOptions): string {
  if (!result.changed) return `The board already runs this version: nothing written (--force writes it anyway).`;
  const lines = [
    `Updated '${result.target}': ${withThousands(result.written)} bytes, ${withThousands(result.downloaded)} downloaded by the board ` +
      `(${(result.downloaded / result.written).toFixed(2)}x), ${(result.elapsedMs / 1000).toFixed(1)} s, SHA-256 ${result.sha256}.`,
  ];
  return [...lines, ...outcome(result, 'ota.rollback.cancel()', options)].join('\n');
}

/** What runs after the update, and whether the bootloader keeps it. */
function outcome(
  result: { target: string; after: UpdateResult['after']; confirmed: boolean; before: UpdateResult['before'] },
  confirmCall: string,
  options: DeviceOptions,
): string[] {
  if (!result.after) return [`The board boots '${result.target}' at its next reset (esp32-ota reset).`];
  if (result.confirmed) return [`MicroPython ${result.after.version} runs from '${result.target}' and is confirmed.`];
  const address = deviceAddressOf(options);
  return [
    `MicroPython ${result.after.version} runs from '${result.target}', NOT confirmed yet: the board rolls back to '${result.before.running}' at its next reset`,
    address.kind === 'sim'
      ? `(and a sim: board is reset by the next command that opens it). To keep it, update with --confirm; to confirm it from another command, run the board with esp32-ota sim --flash FILE and use -d tcp:127.0.0.1:2323.`
      : `unless the app calls ${confirmCall} (or run: esp32-ota rollback cancel -d ${formatDeviceAddress(address)}).`,
  ];
}

function summary(result: UpdateResult, options: DeviceOptions): string {
  const transfer = result.transfer;
  const lines = [
    `Updated '${result.target}': ${result.image.length.toLocaleString('en')} bytes, ${transfer.wireBytes.toLocaleString('en')} on the wire ` +
      `(${(transfer.wireBytes / result.image.length).toFixed(2)}x, ${transfer.compression}), ${(transfer.elapsedMs / 1000).toFixed(1)} s` +
      (transfer.resumedBlocks ? `, ${transfer.resumedBlocks} blocks kept from before` : '') +
      (transfer.retransmits ? `, ${transfer.retransmits} frames sent again` : '') +
      '.',
  ];
  return [...lines, ...outcome(result, 'esp32.Partition.mark_app_valid_cancel_rollback()', options)].join('\n');
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
