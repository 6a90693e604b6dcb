/**
 * Changes to a partition table: resizing partitions (the ones after them
 * move along, the filesystem at the end of the flash absorbs the difference)
 * and editing it (add, delete, rename, change type or flags). Every result is
 * checked with gen_esp32part.py's rules (findLayoutProblem) for the flash size.
 */
import { alignUp, hex } from './bytes.js';
import { FormatError } from './errors.js';
import { parsePartitionCsv } from './partition-csv.js';
import {
  PartitionType,
  TYPE_KEYWORDS,
  findLayoutProblem,
  isPrimaryBootloaderOrTable,
  labelProblem,
  offsetAlignment,
  subtypeKeywords,
  typeName,
  type Partition,
  type PartitionTable,
} from './partition-table.js';

function checked(table: PartitionTable, flashSize: number): PartitionTable {
  const problem = findLayoutProblem(table, { flashSize });
  if (problem) throw new FormatError(problem.message);
  return table;
}

function byOffset(partitions: readonly Partition[]): Partition[] {
  return partitions.filter((p) => !isPrimaryBootloaderOrTable(p)).sort((a, b) => a.offset - b.offset);
}

/**
 * The partition that fills the flash to its end (MicroPython's `vfs`): the
 * last one by offset, if it is a data partition ending exactly at the flash end.
 */
export function fillerPartition(table: PartitionTable, flashSize: number): Partition | undefined {
  const last = byOffset(table.partitions).at(-1);
  return last && last.type === PartitionType.DATA && last.offset + last.size === flashSize ? last : undefined;
}

function requireLabel(table: PartitionTable, label: string, what: string): Partition {
  const found = table.partitions.find((p) => p.label === label);
  if (!found) throw new FormatError(`${what}: no partition '${label}' (partitions: ${table.partitions.map((p) => p.label).join(', ')})`);
  return found;
}

export interface ResizeRequest {
  /** New sizes by label. */
  readonly sizes?: ReadonlyMap<string, number>;
  /** The flash size the table was made for (where its filler partition ends). */
  readonly flashSize: number;
  /** The new flash size (default: unchanged). */
  readonly newFlashSize?: number;
}

/**
 * Gives partitions new sizes. Partitions after a changed one move with it
 * (keeping their gaps and alignment); the filler partition, unless sized
 * explicitly, grows or shrinks to end at the (new) flash end.
 */
export function resizePartitions(table: PartitionTable, request: ResizeRequest): PartitionTable {
  const sizes = request.sizes ?? new Map<string, number>();
  const newFlashSize = request.newFlashSize ?? request.flashSize;
  for (const label of sizes.keys()) requireLabel(table, label, 'resize');
  const filler = fillerPartition(table, request.flashSize);
  const fillerLabel = filler && !sizes.has(filler.label) ? filler.label : undefined;
  const moved = new Map<Partition, Partition>();
  let previousOldEnd: number | undefined;
  let previousNewEnd = 0;
  for (const p of byOffset(table.partitions)) {
    const offset =
      previousOldEnd === undefined ? p.offset : alignUp(previousNewEnd + (p.offset - previousOldEnd), offsetAlignment(p.type));
    let size = sizes.get(p.label) ?? p.size;
    if (p.label === fillerLabel) {
      size = newFlashSize - offset;
      if (size <= 0) {
        throw new FormatError(`no room left for '${p.label}': the partitions before it end at ${hex(offset)}, the flash at ${hex(newFlashSize)}`);
      }
    }
    moved.set(p, { ...p, offset, size });
    previousOldEnd = p.offset + p.size;
    previousNewEnd = offset + size;
  }
  return checked({ ...table, partitions: table.partitions.map((p) => moved.get(p) ?? p) }, newFlashSize);
}

export interface TableEdits {
  readonly delete?: readonly string[];
  /** old label → new label */
  readonly rename?: ReadonlyMap<string, string>;
  /** label → `TYPE` or `TYPE:SUBTYPE` (keywords as in CSV, or numbers) */
  readonly type?: ReadonlyMap<string, string>;
  /** label → flags as in CSV (`readonly`, `encrypted:readonly`, or empty for none) */
  readonly flags?: ReadonlyMap<string, string>;
  /** gen_esp32part.py CSV rows; an empty offset takes the room from the end of the filler partition. */
  readonly add?: readonly string[];
}

/** Applies edits in a fixed order: delete, rename, type, flags, add; then checks the table. */
export function editPartitionTable(table: PartitionTable, edits: TableEdits, flashSize: number): PartitionTable {
  let partitions = [...table.partitions];
  for (const label of edits.delete ?? []) {
    requireLabel({ ...table, partitions }, label, '--delete');
    partitions = partitions.filter((p) => p.label !== label);
  }
  for (const [from, to] of edits.rename ?? []) {
    const p = requireLabel({ ...table, partitions }, from, '--rename');
    const problem = labelProblem(to);
    if (problem !== undefined || to === '') throw new FormatError(`--rename ${from}=${to}: the new name ${problem ?? 'is empty'}`);
    partitions = partitions.map((q) => (q === p ? { ...q, label: to } : q));
  }
  for (const [label, text] of edits.type ?? []) {
    const p = requireLabel({ ...table, partitions }, label, '--type');
    partitions = partitions.map((q) => (q === p ? { ...q, ...parseTypeAndSubtype(text, p) } : q));
  }
  for (const [label, text] of edits.flags ?? []) {
    const p = requireLabel({ ...table, partitions }, label, '--flags');
    partitions = partitions.map((q) => (q === p ? { ...q, ...parseFlags(text) } : q));
  }
  for (const row of edits.add ?? []) partitions = addPartition({ ...table, partitions }, row, flashSize).partitions;
  return checked({ ...table, partitions }, flashSize);
}

function parseKeywordOrNumber(text: string, keywords: Readonly<Record<string, number>>, what: string): number {
  const lower = text.trim().toLowerCase();
  const value = Object.hasOwn(keywords, lower) ? keywords[lower] : /^(0x[0-9a-f]+|\d+)$/.test(lower) ? Number(lower) : undefined;
  if (value === undefined || value > 0xff) {
    const known = Object.keys(keywords);
    throw new FormatError(`${what} '${text}' is not valid${known.length ? `; known: ${known.join(', ')}` : ''} (or a number 0..0xff)`);
  }
  return value;
}

function parseTypeAndSubtype(text: string, current: Partition): Pick<Partition, 'type' | 'subtype'> {
  const [typeText, subtypeText] = text.split(':');
  const type = parseKeywordOrNumber(typeText ?? '', TYPE_KEYWORDS, 'type');
  if (subtypeText === undefined) {
    if (type !== current.type) {
      throw new FormatError(`--type ${current.label}=${text}: a new type needs a subtype too (TYPE:SUBTYPE, e.g. data:littlefs)`);
    }
    return { type, subtype: current.subtype };
  }
  return { type, subtype: parseKeywordOrNumber(subtypeText, subtypeKeywords(type), `subtype of ${typeName(type)}`) };
}

function parseFlags(text: string): Pick<Partition, 'encrypted' | 'readonly'> {
  const flags = { encrypted: false, readonly: false };
  for (const flag of text.split(':').map((f) => f.trim())) {
    if (flag === 'encrypted' || flag === 'readonly') flags[flag] = true;
    else if (flag !== '') throw new FormatError(`unknown flag '${flag}' (known: encrypted, readonly; empty for none)`);
  }
  return flags;
}

/** The row's partition, parsed with gen_esp32part.py's CSV rules (a placeholder offset when it has none). */
function parseRow(row: string): { partition: Partition; hasOffset: boolean } {
  const fields = row.split(',');
  const hasOffset = (fields[3] ?? '').trim() !== '';
  if (fields.length < 5) throw new FormatError(`--add '${row}': expected a CSV row NAME, TYPE, SUBTYPE, OFFSET, SIZE[, FLAGS] (OFFSET may be empty)`);
  const placeholder = hasOffset ? row : [...fields.slice(0, 3), '0x10000', ...fields.slice(4)].join(',');
  try {
    const [partition] = parsePartitionCsv(placeholder, { md5: false }).partitions;
    return { partition: partition!, hasOffset };
  } catch (error) {
    if (error instanceof FormatError) throw new FormatError(`--add '${row}': ${error.problem.replace(/^CSV line \d+: /, '')}`);
    throw error;
  }
}

function addPartition(table: PartitionTable, row: string, flashSize: number): PartitionTable {
  const { partition, hasOffset } = parseRow(row);
  if (hasOffset) return { ...table, partitions: [...table.partitions, partition] };
  const filler = fillerPartition(table, flashSize);
  if (!filler) {
    throw new FormatError(`--add '${row}': no offset given and no partition fills the flash to its end to take the room from; give an offset`);
  }
  const alignment = offsetAlignment(partition.type);
  const offset = Math.floor((flashSize - partition.size) / alignment) * alignment;
  if (offset <= filler.offset) {
    throw new FormatError(
      `--add '${row}': ${hex(partition.size)} bytes do not fit in '${filler.label}' (${hex(filler.size)} bytes at ${hex(filler.offset)}), which would give them up`,
    );
  }
  const shrunk = { ...filler, size: offset - filler.offset };
  return { ...table, partitions: [...table.partitions.map((p) => (p === filler ? shrunk : p)), { ...partition, offset }] };
}
