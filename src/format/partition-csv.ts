/**
 * The CSV partition table format of ESP-IDF's gen_esp32part.py:
 * `Name, Type, SubType, Offset, Size, Flags`, `#` comments, keywords or
 * numbers (Python `int(x, 0)` syntax with K/M suffixes), empty offsets placed
 * after the previous partition, and the same validation. A CSV that
 * gen_esp32part.py accepts gives the same model, so encodePartitionTable()
 * writes the same bytes it does.
 *
 * Not supported: `$VAR` environment expansion (there is no environment in a
 * browser) and --extra-partition-subtypes.
 */
import { hex } from './bytes.js';
import { FormatError } from './errors.js';
import {
  BootloaderSubtype,
  PARTITION_LABEL_SIZE,
  PARTITION_TABLE_OFFSET,
  PARTITION_TABLE_SECTOR_SIZE,
  PartitionTableSubtype,
  PartitionType,
  DataSubtype,
  TYPE_KEYWORDS,
  findLayoutProblem,
  isPrimaryBootloaderOrTable,
  labelProblem,
  offsetAlignment,
  subtypeKeyword,
  subtypeKeywords,
  typeKeyword,
  type Partition,
  type PartitionTable,
  type ValidationOptions,
} from './partition-table.js';

export type { Partition, PartitionTable } from './partition-table.js';

export interface CsvOptions extends ValidationOptions {
  /** Where the primary bootloader is (gen_esp32part.py --primary-bootloader-offset); needed by `bootloader` rows. */
  primaryBootloaderOffset?: number;
  /** gen_esp32part.py --recovery-bootloader-offset; needed by `bootloader, recovery` rows. */
  recoveryBootloaderOffset?: number;
  /** Append the MD5 entry (default true, as gen_esp32part.py without --disable-md5sum). */
  md5?: boolean;
}

/** A problem in one CSV field; parsePartitionCsv() adds the line number. */
class CsvProblem extends Error {}

interface DraftPartition extends Omit<Partition, 'offset' | 'size'> {
  offset: number | undefined;
  size: number;
  lineNumber: number;
}

// Python's str.splitlines() boundaries and str.strip() whitespace, so line
// numbers and field values match gen_esp32part.py's.
// eslint-disable-next-line no-control-regex -- \x1c..\x1e are line breaks to Python's splitlines()
const LINE_BREAK = /\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/;
const PY_WHITESPACE = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const IS_PY_WHITESPACE = new RegExp(`^[${PY_WHITESPACE}]$`);

/** Python str.strip(); a loop rather than a regex, which would backtrack quadratically on long blank runs. */
function pyStrip(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && IS_PY_WHITESPACE.test(text[start]!)) start++;
  while (end > start && IS_PY_WHITESPACE.test(text[end - 1]!)) end--;
  return text.slice(start, end);
}

// Python int(text, 0): sign, 0x/0o/0b prefixes, single underscores between digits, no leading zeros.
const PY_INT = new RegExp(
  `^[${PY_WHITESPACE}]*([+-]?)(0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|[1-9](?:_?[0-9])*|0(?:_?0)*)[${PY_WHITESPACE}]*$`,
);

function pythonInt(text: string): number | undefined {
  const match = PY_INT.exec(text);
  if (match === null) return undefined;
  const magnitude = Number(match[2]!.replace(/_/g, ''));
  return match[1] === '-' ? -magnitude : magnitude;
}

const SIZE_SUFFIXES: readonly [string, number][] = [
  ['k', 1024],
  ['m', 1024 * 1024],
];

/**
 * gen_esp32part.py parse_int(): K/M suffixes (repeatable: "1kk" is 1 MiB),
 * then a Python integer, then a keyword of the field.
 */
function parseNumber(text: string, keywords: Readonly<Record<string, number>> = {}): number {
  const multipliers: number[] = [];
  let base = text;
  for (;;) {
    const last = base.slice(-1).toLowerCase(); // Python lowercases it all; only the last character matters
    const suffix = SIZE_SUFFIXES.find(([letter]) => last === letter);
    if (suffix === undefined) break;
    multipliers.push(suffix[1]);
    base = base.slice(0, -1);
  }
  let value = pythonInt(base) ?? keywordValue(base, keywords);
  for (const multiplier of multipliers) value *= multiplier;
  return value;
}

function keywordValue(text: string, keywords: Readonly<Record<string, number>>): number {
  const names = Object.keys(keywords);
  if (names.length === 0) throw new CsvProblem(`invalid number "${text}"`);
  const lower = text.toLowerCase();
  const value = Object.hasOwn(keywords, lower) ? keywords[lower] : undefined;
  if (value === undefined) throw new CsvProblem(`"${text}" is not valid; known keywords: ${names.join(', ')}`);
  return value;
}

function parseType(text: string): number {
  if (text === '') throw new CsvProblem('the type field cannot be empty');
  return checkByte(parseNumber(text, TYPE_KEYWORDS), 'type');
}

function parseSubtype(text: string, type: number): number {
  if (text === '') {
    if (type === PartitionType.APP) throw new CsvProblem('an app partition cannot have an empty subtype');
    return DataSubtype.UNDEFINED;
  }
  return checkByte(parseNumber(text, subtypeKeywords(type)), 'subtype');
}

function checkByte(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xff) throw new CsvProblem(`${what} ${value} is out of range 0..255`);
  return value;
}

function requireOption(value: number | undefined, option: string): number {
  if (value === undefined) throw new CsvProblem(`${option} is not set; bootloader rows need it`);
  return value;
}

function parseOffset(text: string, type: number, subtype: number, options: CsvOptions, tableOffset: number): number | undefined {
  if (type === PartitionType.BOOTLOADER && subtype === BootloaderSubtype.PRIMARY) {
    return requireOption(options.primaryBootloaderOffset, 'primaryBootloaderOffset');
  }
  if (type === PartitionType.BOOTLOADER && subtype === BootloaderSubtype.RECOVERY) {
    return requireOption(options.recoveryBootloaderOffset, 'recoveryBootloaderOffset');
  }
  if (type === PartitionType.PARTITION_TABLE && subtype === PartitionTableSubtype.PRIMARY) return tableOffset;
  return text === '' ? undefined : parseNumber(text);
}

/** A negative size means "up to this address" (gen_esp32part.py); the fix-up pass resolves it. */
function parseSize(text: string, type: number, options: CsvOptions, tableOffset: number): number {
  if (type === PartitionType.BOOTLOADER) {
    return tableOffset - requireOption(options.primaryBootloaderOffset, 'primaryBootloaderOffset');
  }
  if (type === PartitionType.PARTITION_TABLE) return PARTITION_TABLE_SECTOR_SIZE;
  if (text === '') throw new CsvProblem('the size field cannot be empty');
  return parseNumber(text);
}

const utf8Encoder = new TextEncoder();

/** ESP-IDF's label field is 16 bytes; gen_esp32part.py would cut a longer name silently, we refuse it. */
function parseName(text: string): string {
  const bytes = utf8Encoder.encode(text).length;
  if (bytes > PARTITION_LABEL_SIZE) {
    throw new CsvProblem(`name "${text}" is ${bytes} bytes long; partition names are at most ${PARTITION_LABEL_SIZE} bytes (the label field of the binary table)`);
  }
  const problem = labelProblem(text);
  if (problem !== undefined) throw new CsvProblem(`name "${text}" ${problem}`);
  return text;
}

function parseRow(line: string, lineNumber: number, options: CsvOptions, tableOffset: number): DraftPartition {
  const fields = `${line},,,,`.split(',').map(pyStrip);
  const [nameText, typeText, subtypeText, offsetText, sizeText, flagsText] = fields as [string, string, string, string, string, string];
  const type = parseType(typeText);
  const subtype = parseSubtype(subtypeText, type);
  const row: DraftPartition = {
    label: parseName(nameText),
    type,
    subtype,
    offset: parseOffset(offsetText, type, subtype, options, tableOffset),
    size: parseSize(sizeText, type, options, tableOffset),
    encrypted: false,
    readonly: false,
    lineNumber,
  };
  for (const flag of flagsText.split(':')) {
    if (flag === 'encrypted' || flag === 'readonly') row[flag] = true;
    else if (flag !== '') throw new CsvProblem(`unknown flag "${flag}" (known: encrypted, readonly)`);
  }
  return row;
}

function lineError(lineNumber: number, problem: string): FormatError {
  return new FormatError(`CSV line ${lineNumber}: ${problem}`);
}

/** Places rows without an offset after the previous one and resolves negative sizes, as gen_esp32part.py does. */
function placePartitions(rows: DraftPartition[], tableOffset: number): Partition[] {
  const firstFree = tableOffset + PARTITION_TABLE_SECTOR_SIZE;
  let lastEnd = firstFree;
  for (const [index, row] of rows.entries()) {
    if (isPrimaryBootloaderOrTable(row)) continue;
    if (row.offset !== undefined && row.offset < lastEnd) {
      const problem =
        index === 0
          ? `partition "${row.label}" at ${hex(row.offset)} overlaps the partition table sector at ${hex(tableOffset)}; use ${hex(firstFree)} or higher`
          : `partition "${row.label}" at ${hex(row.offset)} overlaps the previous partition, which ends at ${hex(lastEnd)} (explicit offsets must increase down the file)`;
      throw lineError(row.lineNumber, problem);
    }
    if (row.offset === undefined) {
      const alignment = offsetAlignment(row.type);
      row.offset = Math.ceil(lastEnd / alignment) * alignment;
    }
    if (row.size < 0) {
      if (-row.size <= row.offset) {
        throw lineError(row.lineNumber, `partition "${row.label}": a negative size means "up to this address", and ${hex(-row.size)} is not past its offset ${hex(row.offset)}`);
      }
      row.size = -row.size - row.offset;
    }
    lastEnd = row.offset + row.size;
  }
  return rows.map(({ lineNumber, offset, ...partition }) => {
    const placed = { ...partition, offset: offset ?? 0 };
    for (const field of ['offset', 'size'] as const) {
      if (!Number.isInteger(placed[field]) || placed[field] < 0 || placed[field] > 0xffffffff) {
        throw lineError(lineNumber, `partition "${placed.label}": ${field} ${placed[field]} does not fit in 32 bits`);
      }
    }
    return placed;
  });
}

/**
 * Parses a gen_esp32part.py CSV and validates it as that tool does. Errors are
 * FormatErrors whose message starts with `CSV line N:` when a line is at fault.
 */
export function parsePartitionCsv(text: string, options: CsvOptions = {}): PartitionTable {
  const tableOffset = options.tableOffset ?? PARTITION_TABLE_OFFSET;
  if (options.primaryBootloaderOffset !== undefined && options.primaryBootloaderOffset >= tableOffset) {
    throw new FormatError(
      `the primary bootloader (${hex(options.primaryBootloaderOffset)}) must be below the partition table (${hex(tableOffset)})`,
    );
  }
  const rows: DraftPartition[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(LINE_BREAK);
  for (const [index, rawLine] of lines.entries()) {
    const line = pyStrip(rawLine);
    if (line === '' || line.startsWith('#')) continue;
    try {
      rows.push(parseRow(line, index + 1, options, tableOffset));
    } catch (error) {
      if (error instanceof CsvProblem) throw lineError(index + 1, error.message);
      throw error;
    }
  }
  const table: PartitionTable = { partitions: placePartitions(rows, tableOffset), hasMd5: options.md5 ?? true };
  const problem = findLayoutProblem(table, { ...options, tableOffset });
  if (problem !== undefined) {
    const row = problem.partitionIndex === undefined ? undefined : rows[problem.partitionIndex];
    throw row === undefined ? new FormatError(problem.message) : lineError(row.lineNumber, problem.message);
  }
  return table;
}

// ---- writing ----

const CSV_HEADER = ['# ESP-IDF Partition Table', '# Name, Type, SubType, Offset, Size, Flags'];

function csvSize(size: number): string {
  if (size % 0x100000 === 0) return `${size / 0x100000}M`;
  if (size % 0x400 === 0) return `${size / 0x400}K`;
  return hex(size);
}

function csvLabelProblem(label: string): string | undefined {
  if (label.includes(',')) return 'contains a comma';
  if (LINE_BREAK.test(label)) return 'contains a line break';
  if (pyStrip(label) !== label) return 'starts or ends with white space, which CSV readers strip';
  if (label.startsWith('#')) return 'starts with "#", which would make the row a comment';
  return labelProblem(label);
}

/**
 * Writes the table in gen_esp32part.py's own CSV output format (the same
 * text, byte for byte). The CSV has no place for `hasMd5`.
 */
export function formatPartitionCsv(table: PartitionTable): string {
  const rows = table.partitions.map((p, index) => {
    const problem = csvLabelProblem(p.label);
    if (problem !== undefined) {
      throw new FormatError(`partition ${index} cannot be written as CSV: label ${JSON.stringify(p.label)} ${problem}`);
    }
    const flags = [p.encrypted ? 'encrypted' : '', p.readonly ? 'readonly' : ''].filter((flag) => flag !== '');
    return [
      p.label,
      typeKeyword(p.type) ?? String(p.type),
      subtypeKeyword(p.type, p.subtype) ?? String(p.subtype),
      hex(p.offset),
      csvSize(p.size),
      flags.join(':'),
    ].join(',');
  });
  return [...CSV_HEADER, ...rows].join('\n') + '\n';
}
