/**
 * Everything checked before the first byte of an update is written: the file
 * is an app image (not a combined firmware or a dump), ESP-IDF would accept
 * it, it is built for the board's chip, it fits the next OTA partition, and
 * the board can take an OTA update at all.
 */
import { hex } from '../format/bytes.js';
import { chipName } from '../format/chips.js';
import { FormatError } from '../format/errors.js';
import { extractApp, identifyFirmware, FIRMWARE_KIND_NAMES } from '../format/firmware-file.js';
import { verifyAppImage, type AppImage } from '../format/app-image.js';
import type { Sha256 } from '../format/hash.js';
import { findMicroPythonIdentity } from '../format/micropython-identity.js';
import { withThousands } from '../format/units.js';
import { findPartition, type Partition } from '../format/partition-table.js';
import { OtaError, type BoardStatus } from './engine.js';

export interface PreparedImage {
  /** The app image, cut to its exact length. */
  readonly bytes: Uint8Array;
  readonly image: AppImage;
  /** The version the firmware will report: MicroPython's, or the app description's. */
  readonly version: string | undefined;
  /** Where it came from in the file (a combined image or dump, with `extract`). */
  readonly extractedFrom: string | undefined;
}

export interface PrepareOptions {
  /** Take the app image out of a combined firmware or a dump instead of refusing it. */
  readonly extract?: boolean;
  readonly sha256?: Sha256;
  /** How the file is called in messages. */
  readonly name?: string;
}

export function prepareImage(file: Uint8Array, options: PrepareOptions = {}): PreparedImage {
  const name = options.name ?? 'the firmware file';
  const kind = identifyFirmware(file);
  let bytes: Uint8Array;
  let extractedFrom: string | undefined;
  if (kind.kind !== 'app-image') {
    if (kind.kind === 'partition-table') throw new OtaError(`${name} is a partition table, not firmware`);
    if (!options.extract) {
      throw new OtaError(
        `${name} is a ${FIRMWARE_KIND_NAMES[kind.kind]}, not an app image: an OTA update writes only the app. ` +
          `Use --extract, or take the app out first: esp32-ota image extract-app ${name} -o app.bin`,
      );
    }
    const app = extractApp(file, kind);
    bytes = app.bytes;
    extractedFrom = `partition '${app.partition?.label}' of the ${FIRMWARE_KIND_NAMES[kind.kind]}`;
  } else {
    bytes = file.subarray(0, kind.appLength);
  }
  let image: AppImage;
  try {
    image = verifyAppImage(bytes, options.sha256 ? { sha256: options.sha256 } : {});
  } catch (error) {
    if (error instanceof FormatError) throw new OtaError(`${name} is not a valid app image: ${error.message}`);
    throw error;
  }
  const version = findMicroPythonIdentity(bytes)?.version ?? (image.description?.version || undefined);
  return { bytes, image, version, extractedFrom };
}

/** The partition the update will be written to; throws OtaError saying what stops it. */
export function checkBoardTakes(status: BoardStatus, prepared: PreparedImage): Partition {
  if (!status.otadata) throw new OtaError('the board has no otadata partition: its partition table cannot do OTA updates (flash one with two OTA app partitions)');
  if (!status.nextUpdate) throw new OtaError(`the board has no OTA partition to update: ${status.nextUpdateError ?? 'none in its partition table'}`);
  const target = findPartition(status.table, status.nextUpdate);
  if (!target) throw new OtaError(`the board named '${status.nextUpdate}' as next update partition, but it is not in its partition table`);
  const imageChip = prepared.image.header.chipId;
  if (status.chip && status.chip.id !== imageChip) {
    throw new OtaError(`the image is built for ${chipName(imageChip)}, the board is an ${status.chip.name}: it would not boot`);
  }
  if (prepared.bytes.length > target.size) {
    throw new OtaError(
      `the image is ${withThousands(prepared.bytes.length)} bytes (${hex(prepared.bytes.length)}), larger than partition '${target.label}' ` +
        `(${withThousands(target.size)} bytes, ${hex(target.size)}): it needs a partition table with larger app slots`,
    );
  }
  return target;
}
