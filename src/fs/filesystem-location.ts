/**
 * Where the littlefs of a file is: the whole file (a bare image such as
 * `vfs.bin`), or the filesystem partition of a flash dump or combined firmware
 * image, found through its partition table. Pure.
 */
import { FormatError } from '../format/errors.js';
import { FIRMWARE_KIND_NAMES, identifyFirmware } from '../format/firmware-file.js';
import { hex } from '../format/bytes.js';
import { PartitionType, findPartition, type Partition } from '../format/partition-table.js';

export type FilesystemLocation =
  | { readonly kind: 'image'; readonly start: 0; readonly length: number }
  | {
      readonly kind: 'flash-dump' | 'combined-image';
      readonly partition: Partition;
      /** Where the partition starts in the file. */
      readonly start: number;
      readonly length: number;
      /** The file ends before the partition does: it holds no (whole) filesystem. */
      readonly beyondEnd: boolean;
    };

/** Thrown when the file cannot hold a filesystem as asked; the message says why and what to do. */
export class LocationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LocationError';
  }
}

/** `label`: the partition to use in a dump (default `vfs`, else `ffat`); refused for a bare image. */
export function locateFilesystem(bytes: Uint8Array, name: string, label?: string): FilesystemLocation {
  let firmware;
  try {
    firmware = identifyFirmware(bytes);
  } catch (error) {
    if (!(error instanceof FormatError)) throw error;
    if (label !== undefined) throw new LocationError(`${name} has no partition table (a bare filesystem image?): -p ${label} applies to flash dumps and combined images`);
    return { kind: 'image', start: 0, length: bytes.length };
  }
  if (firmware.kind === 'app-image' || firmware.kind === 'partition-table') {
    throw new LocationError(`${name} is ${article(FIRMWARE_KIND_NAMES[firmware.kind])}: it holds no filesystem (give a littlefs image, a flash dump or a combined firmware image)`);
  }
  const partition = label !== undefined ? findPartition(firmware.table, label) : (findPartition(firmware.table, 'vfs') ?? findPartition(firmware.table, 'ffat'));
  if (!partition) {
    const labels = firmware.table.partitions.map((p) => p.label).join(', ');
    throw new LocationError(
      label !== undefined ? `${name} has no partition '${label}' (it has ${labels})` : `${name} has no 'vfs' or 'ffat' partition (it has ${labels}): pick one with -p LABEL`,
    );
  }
  if (partition.type !== PartitionType.DATA) throw new LocationError(`partition '${partition.label}' of ${name} is an app partition, not a filesystem`);
  const start = partition.offset - firmware.flashBase;
  return { kind: firmware.kind, partition, start, length: partition.size, beyondEnd: start + partition.size > bytes.length };
}

export function describeLocation(location: FilesystemLocation, name: string): string {
  if (location.kind === 'image') return name;
  return `partition '${location.partition.label}' (flash ${hex(location.partition.offset)}, ${hex(location.length)} bytes) of ${name}`;
}

function article(text: string): string {
  return /^[aeiou]/.test(text) ? `an ${text}` : `a ${text}`;
}
