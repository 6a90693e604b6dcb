/**
 * The otadata partition: two `esp_ota_select_entry_t` records, one at the
 * start of each 4 KiB sector, which tell the ESP-IDF bootloader which OTA app
 * slot to boot. Validity and the choice of the active entry follow
 * bootloader_common_loader.c exactly (not the seed, which trusted only VALID).
 */
import { dataView, isFilled } from './bytes.js';
import { crc32 } from './crc32.js';
import { FormatError } from './errors.js';

export const OTADATA_SIZE = 0x2000;
export const OTADATA_SECTOR_SIZE = 0x1000;
export const OTA_SELECT_ENTRY_SIZE = 32;
const LABEL_SIZE = 20;
const BLANK_SEQ = 0xffffffff;

export const OtaImageState = {
  NEW: 0,
  PENDING_VERIFY: 1,
  VALID: 2,
  INVALID: 3,
  ABORTED: 4,
  UNDEFINED: 0xffffffff,
} as const;

const STATE_NAMES = new Map<number, string>(Object.entries(OtaImageState).map(([name, value]) => [value, name]));

export function otaStateName(state: number): string {
  return STATE_NAMES.get(state) ?? `0x${state.toString(16)}`;
}

export interface OtaSelectEntry {
  readonly seq: number;
  /** 20 bytes; ESP-IDF never writes it, so it is normally all 0xFF. */
  readonly label: Uint8Array;
  readonly state: number;
  readonly crc: number;
}

export type OtaData = readonly [OtaSelectEntry, OtaSelectEntry];
export type EntryIndex = 0 | 1;

/** `crc32_le(UINT32_MAX, &ota_seq, 4)`: the CRC covers the sequence number only. */
export function otaSelectCrc(seq: number): number {
  const bytes = new Uint8Array(4);
  dataView(bytes).setUint32(0, seq >>> 0, true);
  return crc32(bytes, 0xffffffff);
}

/** An entry as ESP-IDF writes it: label untouched (erased), CRC computed. */
export function makeOtaSelectEntry(seq: number, state: number, label = new Uint8Array(LABEL_SIZE).fill(0xff)): OtaSelectEntry {
  return { seq: seq >>> 0, label, state: state >>> 0, crc: otaSelectCrc(seq) };
}

export const BLANK_ENTRY: OtaSelectEntry = {
  seq: BLANK_SEQ,
  label: new Uint8Array(LABEL_SIZE).fill(0xff),
  state: OtaImageState.UNDEFINED,
  crc: 0xffffffff,
};

export function decodeOtaSelectEntry(bytes: Uint8Array, offset = 0): OtaSelectEntry {
  if (offset < 0 || bytes.length - offset < OTA_SELECT_ENTRY_SIZE) {
    throw new FormatError(
      `otadata entry truncated: need ${OTA_SELECT_ENTRY_SIZE} bytes, have ${Math.max(0, bytes.length - offset)}`,
      offset,
    );
  }
  const view = dataView(bytes);
  return {
    seq: view.getUint32(offset, true),
    label: bytes.slice(offset + 4, offset + 4 + LABEL_SIZE),
    state: view.getUint32(offset + 24, true),
    crc: view.getUint32(offset + 28, true),
  };
}

export function encodeOtaSelectEntry(entry: OtaSelectEntry): Uint8Array {
  if (entry.label.length !== LABEL_SIZE) throw new RangeError(`otadata label must be ${LABEL_SIZE} bytes`);
  const bytes = new Uint8Array(OTA_SELECT_ENTRY_SIZE);
  const view = dataView(bytes);
  view.setUint32(0, entry.seq, true);
  bytes.set(entry.label, 4);
  view.setUint32(24, entry.state, true);
  view.setUint32(28, entry.crc, true);
  return bytes;
}

/**
 * Reads both entries of an otadata partition image (0x2000 bytes). The rest
 * of each sector is ignored, as the bootloader ignores it; `encodeOtadata`
 * writes it as erased flash.
 */
export function parseOtadata(bytes: Uint8Array): OtaData {
  const needed = OTADATA_SECTOR_SIZE + OTA_SELECT_ENTRY_SIZE;
  if (bytes.length < needed) {
    throw new FormatError(
      `otadata truncated: ${bytes.length} bytes, an otadata partition is 0x${OTADATA_SIZE.toString(16)} bytes (entry 1 starts at 0x1000)`,
      bytes.length,
    );
  }
  return [decodeOtaSelectEntry(bytes, 0), decodeOtaSelectEntry(bytes, OTADATA_SECTOR_SIZE)];
}

export function encodeOtadata(otadata: OtaData): Uint8Array {
  const bytes = new Uint8Array(OTADATA_SIZE).fill(0xff);
  bytes.set(encodeOtaSelectEntry(otadata[0]), 0);
  bytes.set(encodeOtaSelectEntry(otadata[1]), OTADATA_SECTOR_SIZE);
  return bytes;
}

/** True when the entry's 32 bytes are erased flash. */
export function isBlankEntry(entry: OtaSelectEntry): boolean {
  return isFilled(encodeOtaSelectEntry(entry), 0xff);
}

/** `bootloader_common_ota_select_invalid`: blank sequence, or state INVALID / ABORTED (CRC not considered). */
export function isEntryMarkedInvalid(entry: OtaSelectEntry): boolean {
  return entry.seq === BLANK_SEQ || entry.state === OtaImageState.INVALID || entry.state === OtaImageState.ABORTED;
}

export function hasGoodCrc(entry: OtaSelectEntry): boolean {
  return entry.crc === otaSelectCrc(entry.seq);
}

/** `bootloader_common_ota_select_valid`: NEW, PENDING_VERIFY, VALID and UNDEFINED all count. */
export function isEntryValid(entry: OtaSelectEntry): boolean {
  return !isEntryMarkedInvalid(entry) && hasGoodCrc(entry);
}

/** Why an entry is not valid, for people; undefined when it is valid. */
export function entryProblem(entry: OtaSelectEntry): string | undefined {
  if (entry.seq === BLANK_SEQ) return isBlankEntry(entry) ? 'blank (erased)' : 'sequence number 0xffffffff';
  if (!hasGoodCrc(entry)) {
    return `bad CRC 0x${entry.crc.toString(16).padStart(8, '0')} (expected 0x${otaSelectCrc(entry.seq).toString(16).padStart(8, '0')})`;
  }
  if (entry.state === OtaImageState.INVALID || entry.state === OtaImageState.ABORTED) {
    return `state ${otaStateName(entry.state)}`;
  }
  return undefined;
}

/** `bootloader_common_get_active_otadata`: the valid entry with the larger seq; entry 0 on a tie. */
export function activeEntryIndex(otadata: OtaData): EntryIndex | undefined {
  const valid0 = isEntryValid(otadata[0]);
  const valid1 = isEntryValid(otadata[1]);
  if (valid0 && valid1) return otadata[0].seq >= otadata[1].seq ? 0 : 1;
  if (valid0) return 0;
  if (valid1) return 1;
  return undefined;
}

/** The OTA app slot (ota_N) that a sequence number selects. */
export function otaSlotOfSeq(seq: number, otaAppCount: number): number {
  if (otaAppCount <= 0) throw new RangeError('no OTA app partitions');
  return ((seq >>> 0) - 1 + 2 ** 32) % 2 ** 32 % otaAppCount;
}
