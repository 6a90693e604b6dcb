/**
 * The ESP-IDF partition table: the binary codec (esp_partition_info_t entries
 * at flash 0x8000), the names of types and subtypes, the layout rules of
 * ESP-IDF's gen_esp32part.py, and lookups used by the OTA code.
 *
 * The parser accepts exactly what the encoder can produce, so parse → encode
 * always gives back the same bytes; anything else is a FormatError.
 */
import { dataView, hex, isFilled, toHex } from './bytes.js';
import { FormatError } from './errors.js';
import { md5 } from './hash.js';

export const PARTITION_TABLE_OFFSET = 0x8000;
/** Bytes of table data, end marker included (gen_esp32part.py MAX_PARTITION_LENGTH). */
export const PARTITION_TABLE_MAX_LENGTH = 0xc00;
/** The flash sector the table occupies; the first partition starts after it. */
export const PARTITION_TABLE_SECTOR_SIZE = 0x1000;
export const PARTITION_ENTRY_SIZE = 32;
export const PARTITION_LABEL_SIZE = 16;
export const OTADATA_PARTITION_SIZE = 0x2000;
/** Read/write NVS needs at least this much; smaller NVS partitions must be readonly. */
export const NVS_MIN_WRITABLE_SIZE = 0x3000;
export const OTA_APP_SLOT_COUNT = 16;

export const PartitionType = { APP: 0, DATA: 1, BOOTLOADER: 2, PARTITION_TABLE: 3 } as const;

export const AppSubtype = { FACTORY: 0x00, OTA_0: 0x10, TEST: 0x20, TEE_0: 0x30, TEE_1: 0x31 } as const;

export const DataSubtype = {
  OTA: 0x00,
  PHY: 0x01,
  NVS: 0x02,
  COREDUMP: 0x03,
  NVS_KEYS: 0x04,
  EFUSE: 0x05,
  UNDEFINED: 0x06,
  ESPHTTPD: 0x80,
  FAT: 0x81,
  SPIFFS: 0x82,
  LITTLEFS: 0x83,
  TEE_OTA: 0x90,
} as const;

export const BootloaderSubtype = { PRIMARY: 0x00, OTA: 0x01, RECOVERY: 0x02 } as const;
export const PartitionTableSubtype = { PRIMARY: 0x00, OTA: 0x01 } as const;

export interface Partition {
  label: string;
  type: number;
  subtype: number;
  offset: number;
  size: number;
  encrypted: boolean;
  readonly: boolean;
}

export interface PartitionTable {
  partitions: Partition[];
  /** Whether the table ends with an MD5 entry (gen_esp32part.py writes one unless --disable-md5sum). */
  hasMd5: boolean;
}

// ---- names of types and subtypes (the keywords of gen_esp32part.py) ----

/** CSV keyword → type number. */
export const TYPE_KEYWORDS: Readonly<Record<string, number>> = {
  app: PartitionType.APP,
  data: PartitionType.DATA,
  bootloader: PartitionType.BOOTLOADER,
  partition_table: PartitionType.PARTITION_TABLE,
};

function otaSlotKeywords(prefix: string, first: number, count: number): Record<string, number> {
  const names: Record<string, number> = {};
  for (let slot = 0; slot < count; slot++) names[`${prefix}${slot}`] = first + slot;
  return names;
}

const SUBTYPE_KEYWORDS: ReadonlyMap<number, Readonly<Record<string, number>>> = new Map<number, Readonly<Record<string, number>>>([
  [PartitionType.BOOTLOADER, { primary: 0x00, ota: 0x01, recovery: 0x02 }],
  [PartitionType.PARTITION_TABLE, { primary: 0x00, ota: 0x01 }],
  [
    PartitionType.APP,
    {
      factory: AppSubtype.FACTORY,
      test: AppSubtype.TEST,
      ...otaSlotKeywords('ota_', AppSubtype.OTA_0, OTA_APP_SLOT_COUNT),
      ...otaSlotKeywords('tee_', AppSubtype.TEE_0, 2),
    },
  ],
  [
    PartitionType.DATA,
    {
      ota: DataSubtype.OTA,
      phy: DataSubtype.PHY,
      nvs: DataSubtype.NVS,
      coredump: DataSubtype.COREDUMP,
      nvs_keys: DataSubtype.NVS_KEYS,
      efuse: DataSubtype.EFUSE,
      undefined: DataSubtype.UNDEFINED,
      esphttpd: DataSubtype.ESPHTTPD,
      fat: DataSubtype.FAT,
      spiffs: DataSubtype.SPIFFS,
      littlefs: DataSubtype.LITTLEFS,
      tee_ota: DataSubtype.TEE_OTA,
    },
  ],
]);

/** CSV keyword → subtype number for `type` (empty for custom types, which have no named subtypes). */
export function subtypeKeywords(type: number): Readonly<Record<string, number>> {
  return SUBTYPE_KEYWORDS.get(type) ?? {};
}

function keywordOf(value: number, keywords: Readonly<Record<string, number>>): string | undefined {
  return Object.keys(keywords).find((name) => keywords[name] === value);
}

/** The gen_esp32part.py keyword of a type (`app`, `data`, …), or undefined for custom types. */
export function typeKeyword(type: number): string | undefined {
  return keywordOf(type, TYPE_KEYWORDS);
}

/** The gen_esp32part.py keyword of a subtype (`ota_0`, `nvs`, …), or undefined when it has none. */
export function subtypeKeyword(type: number, subtype: number): string | undefined {
  return keywordOf(subtype, subtypeKeywords(type));
}

/** Display name of a type: its keyword, else hex (`0x40`). */
export function typeName(type: number): string {
  return typeKeyword(type) ?? hex(type, 2);
}

/** Display name of a subtype: its keyword, else hex (`0x99`). */
export function subtypeName(type: number, subtype: number): string {
  return subtypeKeyword(type, subtype) ?? hex(subtype, 2);
}

// ---- binary codec ----

const ENTRY_MAGIC = [0xaa, 0x50] as const;
const MD5_MAGIC = [0xeb, 0xeb] as const;
const MD5_DIGEST_OFFSET = 16;
const FLAG_ENCRYPTED = 1 << 0;
const FLAG_READONLY = 1 << 1;
const KNOWN_FLAGS = FLAG_ENCRYPTED | FLAG_READONLY;
const LABEL_OFFSET = 12;
const FLAGS_OFFSET = 28;

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

function startsWith(entry: Uint8Array, magic: readonly [number, number]): boolean {
  return entry[0] === magic[0] && entry[1] === magic[1];
}

/**
 * Parses a binary partition table (the bytes at flash 0x8000; longer input is
 * fine, reading stops at the end marker). Verifies the MD5 entry if present.
 */
export function parsePartitionTable(bytes: Uint8Array): PartitionTable {
  const partitions: Partition[] = [];
  let hasMd5 = false;
  for (let at = 0; ; at += PARTITION_ENTRY_SIZE) {
    if (at >= PARTITION_TABLE_MAX_LENGTH) {
      throw new FormatError(
        `partition table has no end marker (an all-0xFF entry) within its first ${hex(PARTITION_TABLE_MAX_LENGTH)} bytes: entry past the table limit`,
        at,
      );
    }
    if (at + PARTITION_ENTRY_SIZE > bytes.length) {
      throw new FormatError(
        `partition table truncated: ${bytes.length - at} bytes left where a 32-byte entry or the all-0xFF end marker must be`,
        at,
      );
    }
    const entry = bytes.subarray(at, at + PARTITION_ENTRY_SIZE);
    if (isFilled(entry, 0xff)) return { partitions, hasMd5 };
    if (hasMd5) {
      throw new FormatError('entry after the MD5 entry (ESP-IDF stops reading the table at the MD5 entry)', at);
    }
    if (startsWith(entry, MD5_MAGIC)) {
      checkMd5Entry(bytes, at);
      hasMd5 = true;
    } else if (startsWith(entry, ENTRY_MAGIC)) {
      partitions.push(decodeEntry(entry, at));
    } else {
      throw new FormatError(
        `bad entry magic ${toHex(entry.subarray(0, 2))}: expected aa50 (partition), ebeb (MD5) or an all-0xFF end marker`,
        at,
      );
    }
  }
}

function checkMd5Entry(bytes: Uint8Array, at: number): void {
  if (!isFilled(bytes, 0xff, at + 2, at + MD5_DIGEST_OFFSET)) {
    throw new FormatError('MD5 entry bytes 2..15 must be 0xFF', at + 2);
  }
  const stored = bytes.subarray(at + MD5_DIGEST_OFFSET, at + PARTITION_ENTRY_SIZE);
  const computed = md5(bytes.subarray(0, at));
  if (toHex(stored) !== toHex(computed)) {
    throw new FormatError(
      `bad MD5 in partition table: stored ${toHex(stored)}, computed ${toHex(computed)} over the ${at} bytes before it`,
      at + MD5_DIGEST_OFFSET,
    );
  }
}

function decodeEntry(entry: Uint8Array, at: number): Partition {
  const view = dataView(entry);
  const flags = view.getUint32(FLAGS_OFFSET, true);
  if ((flags & ~KNOWN_FLAGS) !== 0) {
    throw new FormatError(
      `unknown partition flag bits ${hex((flags & ~KNOWN_FLAGS) >>> 0, 8)} (only bit 0 encrypted and bit 1 readonly are defined)`,
      at + FLAGS_OFFSET,
    );
  }
  return {
    label: decodeLabel(entry.subarray(LABEL_OFFSET, LABEL_OFFSET + PARTITION_LABEL_SIZE), at + LABEL_OFFSET),
    type: view.getUint8(2),
    subtype: view.getUint8(3),
    offset: view.getUint32(4, true),
    size: view.getUint32(8, true),
    encrypted: (flags & FLAG_ENCRYPTED) !== 0,
    readonly: (flags & FLAG_READONLY) !== 0,
  };
}

function decodeLabel(field: Uint8Array, at: number): string {
  const nul = field.indexOf(0);
  const end = nul < 0 ? field.length : nul;
  for (let i = end; i < field.length; i++) {
    if (field[i] !== 0) throw new FormatError('partition label has non-zero bytes after its NUL terminator', at + i);
  }
  try {
    return utf8Decoder.decode(field.subarray(0, end));
  } catch {
    throw new FormatError('partition label is not valid UTF-8', at);
  }
}

function entriesLength(table: PartitionTable): number {
  return (table.partitions.length + (table.hasMd5 ? 1 : 0)) * PARTITION_ENTRY_SIZE;
}

/** Problem with the table's length, if its entries leave no room for the end marker. */
function tableLengthProblem(table: PartitionTable): string | undefined {
  const length = entriesLength(table);
  if (length < PARTITION_TABLE_MAX_LENGTH) return undefined;
  const md5Note = table.hasMd5 ? ' plus the MD5 entry' : '';
  return (
    `too many partitions: ${table.partitions.length} entries${md5Note} take ${hex(length)} bytes, ` +
    `but the table must end with an all-0xFF entry within ${hex(PARTITION_TABLE_MAX_LENGTH)} bytes`
  );
}

/** Encodes the table as gen_esp32part.py does: entries, optional MD5 entry, 0xFF up to 0xC00 bytes. */
export function encodePartitionTable(table: PartitionTable): Uint8Array {
  const lengthProblem = tableLengthProblem(table);
  if (lengthProblem !== undefined) throw new FormatError(lengthProblem);
  const out = new Uint8Array(PARTITION_TABLE_MAX_LENGTH).fill(0xff);
  table.partitions.forEach((partition, index) => {
    out.set(encodeEntry(partition, index), index * PARTITION_ENTRY_SIZE);
  });
  if (table.hasMd5) {
    const at = table.partitions.length * PARTITION_ENTRY_SIZE;
    out.set(MD5_MAGIC, at);
    out.set(md5(out.subarray(0, at)), at + MD5_DIGEST_OFFSET);
  }
  return out;
}

/** Why `label` cannot be stored in a 16-byte label field, or undefined if it can. */
export function labelProblem(label: string): string | undefined {
  const encoded = utf8Encoder.encode(label);
  if (utf8Decoder.decode(encoded) !== label) return 'contains an unpaired UTF-16 surrogate';
  if (label.includes('\0')) return 'contains a NUL character';
  if (encoded.length > PARTITION_LABEL_SIZE) {
    return `is ${encoded.length} bytes in UTF-8, longer than the ${PARTITION_LABEL_SIZE}-byte label field`;
  }
  return undefined;
}

function checkField(value: number, max: number, what: string, name: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new FormatError(`${name}: ${what} ${value} is not an integer in 0..${hex(max)}`);
  }
}

function encodeEntry(partition: Partition, index: number): Uint8Array {
  const name = `partition ${index} (${JSON.stringify(partition.label)})`;
  const problem = labelProblem(partition.label);
  if (problem !== undefined) throw new FormatError(`${name}: label ${problem}`);
  checkField(partition.type, 0xff, 'type', name);
  checkField(partition.subtype, 0xff, 'subtype', name);
  checkField(partition.offset, 0xffffffff, 'offset', name);
  checkField(partition.size, 0xffffffff, 'size', name);

  const entry = new Uint8Array(PARTITION_ENTRY_SIZE);
  const view = dataView(entry);
  entry.set(ENTRY_MAGIC, 0);
  view.setUint8(2, partition.type);
  view.setUint8(3, partition.subtype);
  view.setUint32(4, partition.offset, true);
  view.setUint32(8, partition.size, true);
  entry.set(utf8Encoder.encode(partition.label), LABEL_OFFSET);
  const flags = (partition.encrypted ? FLAG_ENCRYPTED : 0) | (partition.readonly ? FLAG_READONLY : 0);
  view.setUint32(FLAGS_OFFSET, flags, true);
  return entry;
}

// ---- layout validation (the checks of gen_esp32part.py's verify()) ----

export interface ValidationOptions {
  /** Flash address of the partition table; partitions start at or after it + 0x1000. Default 0x8000. */
  tableOffset?: number;
  /** Flash chip size in bytes; every partition must end within it. */
  flashSize?: number;
  /** Secure boot v1 needs app sizes aligned to 64 KiB; otherwise (and for v2) 4 KiB. */
  secureBoot?: 'v1' | 'v2';
}

export interface LayoutProblem {
  message: string;
  /** Index in `table.partitions` of the partition at fault, when there is one. */
  partitionIndex?: number;
}

/** Offset alignment gen_esp32part.py requires: 64 KiB for apps, 4 KiB for everything else. */
export function offsetAlignment(type: number): number {
  return type === PartitionType.APP ? 0x10000 : 0x1000;
}

function sizeAlignment(type: number, secureBoot: ValidationOptions['secureBoot']): number {
  if (type !== PartitionType.APP) return 1;
  return secureBoot === 'v1' ? 0x10000 : 0x1000;
}

/** The primary bootloader and primary partition table may (must) sit below the first free address. */
export function isPrimaryBootloaderOrTable(p: Pick<Partition, 'type' | 'subtype'>): boolean {
  return (
    (p.type === PartitionType.BOOTLOADER && p.subtype === BootloaderSubtype.PRIMARY) ||
    (p.type === PartitionType.PARTITION_TABLE && p.subtype === PartitionTableSubtype.PRIMARY)
  );
}

function named(p: Partition): string {
  return `partition "${p.label}"`;
}

function partitionProblem(p: Partition, options: ValidationOptions): string | undefined {
  if (p.size <= 0) return `${named(p)}: size must be greater than 0`;
  const alignment = offsetAlignment(p.type);
  if (p.offset % alignment !== 0) return `${named(p)}: offset ${hex(p.offset)} is not aligned to ${hex(alignment)}`;
  const sizeAlign = sizeAlignment(p.type, options.secureBoot);
  if (p.size % sizeAlign !== 0) return `${named(p)}: size ${hex(p.size)} is not aligned to ${hex(sizeAlign)}`;
  const alwaysWritable = p.subtype === DataSubtype.OTA || p.subtype === DataSubtype.COREDUMP;
  if (p.type === PartitionType.DATA && alwaysWritable && p.readonly) {
    return `${named(p)}: ${subtypeName(p.type, p.subtype)} partitions are always read-write and cannot be readonly`;
  }
  if (p.type === PartitionType.DATA && p.subtype === DataSubtype.NVS && p.size < NVS_MIN_WRITABLE_SIZE && !p.readonly) {
    return (
      `${named(p)}: an nvs partition of size ${hex(p.size)} must be flagged readonly ` +
      `(read/write NVS needs at least ${hex(NVS_MIN_WRITABLE_SIZE)} bytes)`
    );
  }
  return undefined;
}

function duplicateNameProblem(partitions: Partition[]): LayoutProblem | undefined {
  const seen = new Set<string>();
  for (const [index, p] of partitions.entries()) {
    if (seen.has(p.label)) return { message: `partition names must be unique: "${p.label}" is used more than once`, partitionIndex: index };
    seen.add(p.label);
  }
  return undefined;
}

function overlapProblem(partitions: Partition[], firstFree: number): LayoutProblem | undefined {
  const byOffset = partitions.map((p, index) => ({ p, index })).sort((a, b) => a.p.offset - b.p.offset);
  let previous: Partition | undefined;
  for (const { p, index } of byOffset) {
    if (p.offset < firstFree && !isPrimaryBootloaderOrTable(p)) {
      return {
        message: `${named(p)}: offset ${hex(p.offset)} is below ${hex(firstFree)}, the first address after the partition table`,
        partitionIndex: index,
      };
    }
    if (previous !== undefined && p.offset < previous.offset + previous.size) {
      const previousEnd = previous.offset + previous.size - 1;
      return {
        message: `${named(p)} at ${hex(p.offset)} overlaps ${named(previous)} (${hex(previous.offset)}-${hex(previousEnd)})`,
        partitionIndex: index,
      };
    }
    previous = p;
  }
  return undefined;
}

function otadataProblem(partitions: Partition[], subtype: number, what: string): LayoutProblem | undefined {
  const matches = partitions.filter((p) => p.type === PartitionType.DATA && p.subtype === subtype);
  const second = matches[1];
  if (second !== undefined) {
    return {
      message: `found more than one ${what} partition (type data, subtype ${hex(subtype)}); only one is allowed`,
      partitionIndex: partitions.indexOf(second),
    };
  }
  const only = matches[0];
  if (only !== undefined && only.size !== OTADATA_PARTITION_SIZE) {
    return {
      message: `${named(only)}: ${what} partition must have size ${hex(OTADATA_PARTITION_SIZE)}, not ${hex(only.size)}`,
      partitionIndex: partitions.indexOf(only),
    };
  }
  return undefined;
}

function flashSizeProblem(partitions: Partition[], flashSize: number): LayoutProblem | undefined {
  for (const [index, p] of partitions.entries()) {
    if (p.offset + p.size > flashSize) {
      return {
        message: `${named(p)} ends at ${hex(p.offset + p.size)}, beyond the ${hex(flashSize)}-byte flash`,
        partitionIndex: index,
      };
    }
  }
  return undefined;
}

/**
 * The first layout problem, checked in the order gen_esp32part.py checks
 * (each partition, unique names, overlaps, otadata, flash size, table length),
 * or undefined when the table is valid.
 */
export function findLayoutProblem(table: PartitionTable, options: ValidationOptions = {}): LayoutProblem | undefined {
  const { partitions } = table;
  const firstFree = (options.tableOffset ?? PARTITION_TABLE_OFFSET) + PARTITION_TABLE_SECTOR_SIZE;
  for (const [index, p] of partitions.entries()) {
    const message = partitionProblem(p, options);
    if (message !== undefined) return { message, partitionIndex: index };
  }
  const lengthMessage = tableLengthProblem(table);
  return (
    duplicateNameProblem(partitions) ??
    overlapProblem(partitions, firstFree) ??
    otadataProblem(partitions, DataSubtype.OTA, 'otadata') ??
    otadataProblem(partitions, DataSubtype.TEE_OTA, 'TEE otadata') ??
    (options.flashSize === undefined ? undefined : flashSizeProblem(partitions, options.flashSize)) ??
    (lengthMessage === undefined ? undefined : { message: lengthMessage })
  );
}

/** Throws a FormatError naming the partition at fault when the layout breaks a gen_esp32part.py rule. */
export function validatePartitionTable(table: PartitionTable, options: ValidationOptions = {}): void {
  const problem = findLayoutProblem(table, options);
  if (problem !== undefined) throw new FormatError(problem.message);
}

// ---- lookups ----

export function findPartition(table: PartitionTable, label: string): Partition | undefined {
  return table.partitions.find((p) => p.label === label);
}

export function isOtaAppPartition(p: Pick<Partition, 'type' | 'subtype'>): boolean {
  return p.type === PartitionType.APP && p.subtype >= AppSubtype.OTA_0 && p.subtype < AppSubtype.OTA_0 + OTA_APP_SLOT_COUNT;
}

/** All app partitions, in table order. */
export function appPartitions(table: PartitionTable): Partition[] {
  return table.partitions.filter((p) => p.type === PartitionType.APP);
}

/** The ota_N app partitions, sorted by subtype (ota_0 first). */
export function otaAppPartitions(table: PartitionTable): Partition[] {
  return table.partitions.filter(isOtaAppPartition).sort((a, b) => a.subtype - b.subtype);
}

export function otadataPartition(table: PartitionTable): Partition | undefined {
  return table.partitions.find((p) => p.type === PartitionType.DATA && p.subtype === DataSubtype.OTA);
}

export function factoryPartition(table: PartitionTable): Partition | undefined {
  return table.partitions.find((p) => p.type === PartitionType.APP && p.subtype === AppSubtype.FACTORY);
}

export function testAppPartition(table: PartitionTable): Partition | undefined {
  return table.partitions.find((p) => p.type === PartitionType.APP && p.subtype === AppSubtype.TEST);
}
