/** Reads a partition table from any file that holds one: CSV, binary table, combined image, flash dump. */
import { FormatError } from '../format/errors.js';
import { identifyFirmware } from '../format/firmware-file.js';
import { parsePartitionCsv, type PartitionTable } from '../format/partition-csv.js';
import { validatePartitionTable } from '../format/partition-table.js';
import { UserError } from './errors.js';

export interface TableInput {
  readonly table: PartitionTable;
  readonly format: 'csv' | 'binary';
  /** Flash offset of the table, when the file says. */
  readonly tableOffset: number | undefined;
}

export function readPartitionTable(path: string, bytes: Uint8Array, options: { tableOffset?: number } = {}): TableInput {
  if (looksLikeText(bytes)) {
    return { table: parsePartitionCsv(new TextDecoder().decode(bytes), options), format: 'csv', tableOffset: options.tableOffset };
  }
  const file = identifyFirmware(bytes);
  if (file.kind === 'app-image') {
    throw new UserError(`${path} is an app image: it has no partition table (a combined firmware image or a flash dump does)`);
  }
  validatePartitionTable(file.table, options);
  return { table: file.table, format: 'binary', tableOffset: file.kind === 'partition-table' ? options.tableOffset : file.tableFileOffset + file.flashBase };
}

/**
 * CSV files are printable UTF-8; binary tables start with 0xAA 0x50, images
 * with 0xE9, and an esp32 flash dump with 4 KiB of 0xFF (never UTF-8).
 */
function looksLikeText(bytes: Uint8Array): boolean {
  const sample = bytes.subarray(0, 4096);
  if (sample.length === 0) throw new FormatError('empty file: not a partition table', 0);
  if (!sample.every((byte) => byte === 0x09 || byte === 0x0a || byte === 0x0d || (byte >= 0x20 && byte !== 0x7f))) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(sample, { stream: true }); // stream: a character may be cut at 4096
    return true;
  } catch {
    return false;
  }
}
