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
 * CSV files are printable UTF-8; binary tables start with 0xAA 0x50, images with
 * 0xE9, flash dumps with 0xFF (erased) — none of them valid UTF-8 text.
 */
function looksLikeText(bytes: Uint8Array): boolean {
  if (bytes.length === 0) throw new FormatError('empty file: not a partition table', 0);
  let text: string;
  try {
    // A cut in the middle of a multi-byte character at the end of the sample is still text.
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, 4096), { stream: true });
  } catch {
    return false;
  }
  return [...text].every((char) => char === '\t' || char === '\n' || char === '\r' || (char >= ' ' && char !== '\x7f' && !(char >= '\x80' && char < '\xa0')));
}
