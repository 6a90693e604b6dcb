/**
 * esp32-ota update: the seed's ota.update.from_file, driven from the host.
 * Nothing is written before every check passed (prepareImage, checkBoardTakes);
 * set_boot is called only after the board verified length, SHA-256 and a
 * read-back of what it wrote; after the reset the board must come back on the
 * new partition with the new version, or the update is reported as failed.
 */
import { toHex } from '../format/bytes.js';
import type { Sha256 } from '../format/hash.js';
import { sha256 as portableSha256 } from '../format/hash.js';
import { withThousands } from '../format/units.js';
import { DeviceError, type ReplClient } from '../repl/index.js';
import { OtaError, readStatus, resetBoard, rollback, type BoardLink, type BoardStatus } from './engine.js';
import { checkBoardTakes, prepareImage, type PreparedImage } from './preflight.js';
import { transferImage, type TransferProgress, type TransferResult } from './transfer.js';

export interface UpdateOptions {
  /** Take the app out of a combined firmware or dump instead of refusing it. */
  readonly extract?: boolean;
  /** The image must have this SHA-256 (64 hex digits), as the seed's `sha=`. */
  readonly sha?: string;
  /** The image must be this long, as the seed's `length=`. */
  readonly length?: number;
  /** Reset the board after set_boot and check the new firmware came up (default true). */
  readonly reboot?: boolean;
  /** Mark the new firmware valid once it runs (cancel rollback). */
  readonly confirm?: boolean;
  /** Keep the blocks an interrupted transfer already wrote. */
  readonly resume?: boolean;
  readonly window?: number;
  /** Run the board's REPL UART at this rate for the transfer (see TransferOptions.baud). */
  readonly transferBaud?: number;
  readonly compress?: 'auto' | 'on' | 'off';
  readonly sha256?: Sha256;
  /** The file's name in messages. */
  readonly name?: string;
  readonly onStep?: (message: string) => void;
  readonly onProgress?: (progress: TransferProgress) => void;
  readonly signal?: AbortSignal;
}

export interface UpdateResult {
  readonly image: { readonly length: number; readonly sha256: string; readonly version: string | undefined; readonly extractedFrom: string | undefined };
  readonly before: BoardStatus;
  readonly target: string;
  readonly transfer: TransferResult;
  /** After the reset; undefined with reboot: false. */
  readonly after: BoardStatus | undefined;
  readonly confirmed: boolean;
  /** The client to go on with: after the reset a new one, in the board's raw REPL. */
  readonly client: ReplClient;
}

/** The image an update will write, checked against the options; what `update` checks before it talks to the board. */
export interface CheckedImage {
  readonly prepared: PreparedImage;
  readonly sha256Hex: string;
}

/** Everything about the file that can refuse an update without a board: kind, validity, expected SHA-256 and length. */
export function checkImage(file: Uint8Array, options: UpdateOptions = {}): CheckedImage {
  const hash = options.sha256 ?? portableSha256;
  const prepared = prepareImage(file, { ...(options.extract ? { extract: true } : {}), sha256: hash, ...(options.name ? { name: options.name } : {}) });
  const sha256Hex = toHex(hash(prepared.bytes));
  checkExpectations(prepared, sha256Hex, options);
  return { prepared, sha256Hex };
}

/** `file` is the firmware file, or the result of checkImage on it (with the same options). */
export async function update(link: BoardLink, client: ReplClient, file: Uint8Array | CheckedImage, options: UpdateOptions = {}): Promise<UpdateResult> {
  const step = options.onStep ?? (() => undefined);
  const hash = options.sha256 ?? portableSha256;
  const { prepared, sha256Hex: imageSha } = file instanceof Uint8Array ? checkImage(file, options) : file;

  const before = await readStatus(client);
  const target = checkBoardTakes(before, prepared);
  step(`Writing ${withThousands(prepared.bytes.length)} bytes${prepared.version ? ` (${prepared.version})` : ''} to partition '${target.label}' (running: '${before.running}', ${before.version})`);
  const transfer = await transferImage(client, link.transport, prepared.bytes, {
    partition: target.label,
    expectedSha256: imageSha,
    sha256: hash,
    ...(options.resume ? { resume: true } : {}),
    ...(options.window ? { window: options.window } : {}),
    ...(options.transferBaud ? { baud: options.transferBaud } : {}),
    ...(options.compress ? { compress: options.compress } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  step(`Verified on the board: length, SHA-256 ${transfer.sha256Hex} and read-back`);

  await setBoot(client, target.label);
  step(`'${target.label}' is set to boot next`);
  const image = { length: prepared.bytes.length, sha256: imageSha, version: prepared.version, extractedFrom: prepared.extractedFrom };
  if (options.reboot === false) return { image, before, target: target.label, transfer, after: undefined, confirmed: false, client };

  const booted = await bootNewFirmware(link, client, { target: target.label, version: prepared.version, confirm: options.confirm === true, step });
  return { image, before, target: target.label, transfer, ...booted };
}

/**
 * After set_boot: resets the board, checks it came back on `target` running
 * `version` (when known), and confirms it when asked. Shared by the
 * host-driven update and the device-pull update (pull.ts).
 */
export async function bootNewFirmware(
  link: BoardLink,
  client: ReplClient,
  expected: { readonly target: string; readonly version: string | undefined; readonly confirm: boolean; readonly step: (message: string) => void },
): Promise<{ after: BoardStatus; confirmed: boolean; client: ReplClient }> {
  const { target, version, step } = expected;
  step('Resetting the board');
  const fresh = await resetBoard(link, client);
  const after = await readStatus(fresh);
  if (after.running !== target) {
    throw new OtaError(
      `the board came back on '${after.running}' (${after.version}), not on the new firmware in '${target}': ` +
        'the bootloader refused the new image or rolled it back. The old firmware still runs.',
    );
  }
  if (version && after.version !== version) {
    throw new OtaError(`the board runs '${target}' but reports MicroPython ${after.version}, not ${version} as the image says`);
  }
  step(`The board runs '${target}': MicroPython ${after.version}`);
  let confirmed = false;
  if (expected.confirm) {
    const result = await rollback(fresh, 'cancel');
    confirmed = result.confirmed === true;
    step(confirmed ? 'Confirmed: the bootloader will keep this firmware' : 'This board has no rollback support: nothing to confirm');
  }
  return { after: confirmed ? await readStatus(fresh) : after, confirmed, client: fresh };
}

function checkExpectations(prepared: PreparedImage, imageSha: string, options: UpdateOptions): void {
  if (options.length !== undefined && options.length !== prepared.bytes.length) {
    throw new OtaError(`the image is ${withThousands(prepared.bytes.length)} bytes, not ${withThousands(options.length)} as expected: refusing to write it`);
  }
  if (options.sha !== undefined && options.sha.toLowerCase() !== imageSha) {
    throw new OtaError(`the image's SHA-256 is ${imageSha}, not ${options.sha.toLowerCase()} as expected: refusing to write it`);
  }
}

async function setBoot(client: ReplClient, label: string): Promise<void> {
  try {
    await client.exec(`import esp32\nesp32.Partition(${JSON.stringify(label)}).set_boot()\ndel esp32\n`);
  } catch (error) {
    if (error instanceof DeviceError && /-5379/.test(error.message)) {
      throw new OtaError(`ESP-IDF refused to boot '${label}' (ESP_ERR_OTA_VALIDATE_FAILED): the image in flash is not valid; the boot partition is unchanged`);
    }
    throw error;
  }
}
