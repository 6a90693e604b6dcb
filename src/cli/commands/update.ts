import type { Command } from 'commander';
import { nativeSha256 } from '../../node/native-hash.js';
import { update, type UpdateResult } from '../../ota/update.js';
import { pullUpdate, type PullResult } from '../../ota/pull.js';
import { withThousands } from '../../format/units.js';
import { addDeviceOptions, withBoard, type DeviceOptions } from '../device-options.js';
import { UserError } from '../errors.js';
import { loadFirmwareSource } from '../firmware-source.js';
import { printJson, printText } from '../output.js';
import { progressReporter } from '../progress.js';
import { statusJson } from '../views/status-view.js';

interface UpdateCommandOptions extends DeviceOptions {
  extract?: boolean;
  sha?: string;
  length?: string;
  reboot: boolean;
  confirm?: boolean;
  resume?: boolean;
  window?: string;
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
      .option('--length <bytes>', 'refuse the image unless it is this long')
      .option('--no-reboot', 'only write and set_boot; the board switches at its next reset')
      .option('--confirm', 'mark the new firmware valid once it runs, so the bootloader keeps it')
      .option('--resume', 'continue an interrupted update: blocks already written and verified are not sent again')
      .option('--window <bytes>', 'bytes in flight (default: what the board announces)')
      .option('--compress <mode>', 'auto | on | off (default auto: when the board has the deflate module)')
      .option('--pull', 'the board downloads FIRMWARE (a URL it can reach) itself with its ota package, installed or updated in /lib/ota first')
      .option('--force', 'with --pull: write the manifest\'s firmware even if the board already runs that version')
      .option('--auth <user:pass>', 'with --pull: HTTP basic auth the board sends')
      .option('--token <token>', 'with --pull: bearer token the board sends')
      .option('--json', 'machine-readable result'),
  ).action(async (firmware: string, options: UpdateCommandOptions) => {
    if (options.pull) return pullCommand(firmware, options);
    for (const flag of ['force', 'auth', 'token'] as const) if (options[flag] !== undefined) throw new UserError(`--${flag} goes with --pull (the board downloading the firmware itself)`);
    const source = await loadFirmwareSource(firmware);
    const length = options.length === undefined ? source.length : Number(options.length);
    if (length !== undefined && !Number.isSafeInteger(length)) throw new UserError(`--length must be a number of bytes, got '${options.length}'`);
    const sha = options.sha ?? source.sha;
    if (sha !== undefined && !/^[0-9a-f]{64}$/i.test(sha)) throw new UserError(`the expected SHA-256 must be 64 hex digits, got '${sha}'`);

    const abort = new AbortController();
    const onInterrupt = () => abort.abort(new UserError('interrupted: the old firmware still runs; run the same command with --resume to continue'));
    process.once('SIGINT', onInterrupt);
    const progress = options.json ? undefined : progressReporter();
    const say = (message: string) => {
      if (!options.json) process.stderr.write(`${message}\n`);
    };
    try {
      const result = await withBoard(options, (device, client) =>
        update(device, client, source.bytes, {
          name: source.name,
          sha256: nativeSha256,
          reboot: options.reboot,
          ...(options.extract ? { extract: true } : {}),
          ...(sha !== undefined ? { sha } : {}),
          ...(length !== undefined ? { length } : {}),
          ...(options.confirm ? { confirm: true } : {}),
          ...(options.resume ? { resume: true } : {}),
          ...(options.window ? { window: Number(options.window) } : {}),
          ...(options.compress ? { compress: options.compress } : {}),
          onStep: (message) => {
            progress?.stop();
            say(message);
          },
          ...(progress ? { onProgress: (p) => progress.update(p) } : {}),
          signal: abort.signal,
        }),
      );
      if (options.json) printJson(resultJson(result));
      else printText(summary(result));
    } finally {
      progress?.stop();
      process.removeListener('SIGINT', onInterrupt);
    }
  });
}

async function pullCommand(source: string, options: UpdateCommandOptions): Promise<void> {
  for (const flag of ['extract', 'resume', 'window', 'compress'] as const) {
    if (options[flag] !== undefined) throw new UserError(`--${flag} is for host-driven updates; with --pull the board downloads and checks the firmware itself`);
  }
  const length = options.length === undefined ? undefined : Number(options.length);
  if (length !== undefined && !Number.isSafeInteger(length)) throw new UserError(`--length must be a number of bytes, got '${options.length}'`);
  if (options.sha !== undefined && !/^[0-9a-f]{64}$/i.test(options.sha)) throw new UserError(`the expected SHA-256 must be 64 hex digits, got '${options.sha}'`);
  if (options.auth && options.token) throw new UserError('give --auth or --token, not both');
  const colon = options.auth?.indexOf(':') ?? -1;
  if (options.auth && colon <= 0) throw new UserError('--auth must be USER:PASSWORD');
  const progress = options.json ? undefined : progressReporter();
  const say = (message: string) => {
    progress?.stop();
    if (!options.json) process.stderr.write(`${message}\n`);
  };
  try {
    const result = await withBoard(options, (device, client) =>
      pullUpdate(device, client, {
        source,
        sha256: nativeSha256,
        reboot: options.reboot,
        ...(options.sha ? { sha: options.sha } : {}),
        ...(length ? { length } : {}),
        ...(options.force ? { force: true } : {}),
        ...(options.confirm ? { confirm: true } : {}),
        ...(options.auth ? { auth: { user: options.auth.slice(0, colon), password: options.auth.slice(colon + 1) } } : {}),
        ...(options.token ? { token: options.token } : {}),
        onStep: say,
        ...(progress ? { onProgress: (p) => progress.update(p) } : {}),
      }),
    );
    if (options.json) printJson({ ...result, before: statusJson(result.before), after: result.after ? statusJson(result.after) : null });
    else printText(pullSummary(result));
  } finally {
    progress?.stop();
  }
}

function pullSummary(result: PullResult): string {
  if (!result.changed) return `The board already runs this version: nothing written (--force writes it anyway).`;
  const lines = [
    `Updated '${result.target}': ${withThousands(result.written)} bytes, ${withThousands(result.downloaded)} downloaded by the board ` +
      `(${(result.downloaded / result.written).toFixed(2)}x), ${(result.elapsedMs / 1000).toFixed(1)} s, SHA-256 ${result.sha256}.`,
  ];
  return [...lines, ...outcome(result, 'ota.rollback.cancel()')].join('\n');
}

/** What runs after the update, and whether the bootloader keeps it. */
function outcome(result: { target: string; after: UpdateResult['after']; confirmed: boolean; before: UpdateResult['before'] }, confirmCall: string): string[] {
  if (!result.after) return [`The board boots '${result.target}' at its next reset (esp32-ota reset).`];
  if (result.confirmed) return [`MicroPython ${result.after.version} runs from '${result.target}' and is confirmed.`];
  return [
    `MicroPython ${result.after.version} runs from '${result.target}', NOT confirmed yet: the board rolls back to '${result.before.running}' at its next reset`,
    `unless the app calls ${confirmCall} (or run: esp32-ota rollback cancel).`,
  ];
}

function summary(result: UpdateResult): string {
  const transfer = result.transfer;
  const lines = [
    `Updated '${result.target}': ${result.image.length.toLocaleString('en')} bytes, ${transfer.wireBytes.toLocaleString('en')} on the wire ` +
      `(${(transfer.wireBytes / result.image.length).toFixed(2)}x, ${transfer.compression}), ${(transfer.elapsedMs / 1000).toFixed(1)} s` +
      (transfer.resumedBlocks ? `, ${transfer.resumedBlocks} blocks kept from before` : '') +
      (transfer.retransmits ? `, ${transfer.retransmits} frames sent again` : '') +
      '.',
  ];
  return [...lines, ...outcome(result, 'esp32.Partition.mark_app_valid_cancel_rollback()')].join('\n');
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
