/**
 * What the ESP-IDF bootloader and the app-side OTA API do to otadata, as pure
 * functions that return the entries to write. The virtual device applies the
 * writes to its flash; host tools use the same functions to explain a board's
 * state. Sources: bootloader_utility.c (`bootloader_utility_get_selected_boot_partition`,
 * `bootloader_utility_load_boot_image`, `set_actual_ota_seq`) and esp_ota_ops.c
 * (`esp_rewrite_ota_data`, `esp_ota_current_ota_is_workable`).
 */
import {
  OtaImageState,
  activeEntryIndex,
  hasGoodCrc,
  isEntryMarkedInvalid,
  makeOtaSelectEntry,
  otaSlotOfSeq,
  type EntryIndex,
  type OtaData,
  type OtaSelectEntry,
} from './otadata.js';

/** One entry rewrite: the bootloader and esp_ota_ops erase the entry's sector, then write 32 bytes. */
export interface OtadataWrite {
  readonly index: EntryIndex;
  readonly entry: OtaSelectEntry;
}

/** Where the bootloader starts looking: an OTA slot number, or the factory app. */
export type BootTarget = { readonly kind: 'factory' } | { readonly kind: 'ota'; readonly slot: number };

export interface BootSelectionInput {
  /** undefined: the partition table has no otadata partition. */
  readonly otadata: OtaData | undefined;
  readonly otaAppCount: number;
  readonly hasFactory: boolean;
  /** CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE; MicroPython's ESP32 builds enable it. */
  readonly rollbackEnabled: boolean;
}

export interface BootSelection {
  readonly target: BootTarget;
  /** The entry that chose the target, if one did. */
  readonly activeEntry: EntryIndex | undefined;
  /** Rewrites done before loading (PENDING_VERIFY → ABORTED, NEW → PENDING_VERIFY). */
  readonly writes: readonly OtadataWrite[];
  /**
   * Both entries blank or with a bad CRC and no factory app: once an OTA slot
   * has loaded, the bootloader records it (see `initialEntryFor`).
   */
  readonly recordSlotAfterLoad: boolean;
  /** A line like the bootloader's log. */
  readonly reason: string;
}

export function selectBootPartition(input: BootSelectionInput): BootSelection {
  const { otadata: stored, otaAppCount, hasFactory, rollbackEnabled } = input;
  if (stored === undefined) {
    return { target: { kind: 'factory' }, activeEntry: undefined, writes: [], recordSlotAfterLoad: false, reason: 'no otadata partition: booting factory app' };
  }
  const writes: OtadataWrite[] = [];
  const otadata: [OtaSelectEntry, OtaSelectEntry] = [stored[0], stored[1]];
  if (rollbackEnabled) {
    for (const index of [0, 1] as const) {
      if (otadata[index].state === OtaImageState.PENDING_VERIFY) {
        otadata[index] = { ...otadata[index], state: OtaImageState.ABORTED };
        writes.push({ index, entry: otadata[index] });
      }
    }
  }

  if ((isEntryMarkedInvalid(otadata[0]) && isEntryMarkedInvalid(otadata[1])) || otaAppCount === 0) {
    if (hasFactory) {
      return { target: { kind: 'factory' }, activeEntry: undefined, writes, recordSlotAfterLoad: false, reason: 'no valid OTA entry: defaulting to factory image' };
    }
    const neverWritten = otadata.every((entry) => entry.seq === 0xffffffff || !hasGoodCrc(entry));
    return {
      target: { kind: 'ota', slot: 0 },
      activeEntry: undefined,
      writes,
      recordSlotAfterLoad: neverWritten,
      reason: 'no valid OTA entry and no factory image: trying ota_0',
    };
  }

  const active = activeEntryIndex(otadata);
  if (active === undefined) {
    return {
      target: { kind: 'factory' },
      activeEntry: undefined,
      writes,
      recordSlotAfterLoad: false,
      reason: hasFactory
        ? 'otadata partition invalid: falling back to factory'
        : 'otadata partition invalid and no factory: will try all partitions',
    };
  }
  const entry = otadata[active];
  const slot = otaSlotOfSeq(entry.seq, otaAppCount);
  if (rollbackEnabled && entry.state === OtaImageState.NEW) {
    writes.push({ index: active, entry: { ...entry, state: OtaImageState.PENDING_VERIFY } });
  }
  return {
    target: { kind: 'ota', slot },
    activeEntry: active,
    writes,
    recordSlotAfterLoad: false,
    reason: `otadata[${active}] seq ${entry.seq} selects ota_${slot}`,
  };
}

/** `set_actual_ota_seq`: the entry 0 the bootloader writes after loading OTA slot `slot` from blank otadata. */
export function initialEntryFor(slot: number): OtadataWrite {
  return { index: 0, entry: makeOtaSelectEntry(slot + 1, OtaImageState.VALID) };
}

/**
 * The order in which `bootloader_utility_load_boot_image` tries apps when
 * the chosen one fails verification: from the target down to factory, then
 * the OTA slots above the target, then the test app.
 */
export function bootCandidates(target: BootTarget, otaAppCount: number): BootTarget[] {
  const start = target.kind === 'factory' ? -1 : target.slot;
  const order: BootTarget[] = [];
  for (let index = start; index >= -1; index--) {
    order.push(index === -1 ? { kind: 'factory' } : { kind: 'ota', slot: index });
  }
  for (let index = start + 1; index < otaAppCount; index++) order.push({ kind: 'ota', slot: index });
  return order;
}

/**
 * `esp_ota_set_boot_partition` for OTA slot `slot` (after the image has been
 * verified): the smallest seq ≥ the active one that selects `slot`, written
 * with state NEW (UNDEFINED without rollback) into the other entry.
 */
export function planSetBoot(otadata: OtaData, slot: number, otaAppCount: number, rollbackEnabled: boolean): OtadataWrite {
  if (!Number.isInteger(slot) || slot < 0 || slot >= otaAppCount) {
    throw new RangeError(`OTA slot ${slot} does not exist (the table has ${otaAppCount} OTA app partitions)`);
  }
  const state = rollbackEnabled ? OtaImageState.NEW : OtaImageState.UNDEFINED;
  const active = activeEntryIndex(otadata);
  const base = (slot + 1) % otaAppCount;
  if (active === undefined) {
    return { index: 0, entry: { ...makeOtaSelectEntry(slot + 1, state), label: otadata[0].label } };
  }
  const activeSeq = otadata[active].seq;
  const rounds = activeSeq > base ? Math.ceil((activeSeq - base) / otaAppCount) : 0;
  const seq = base + rounds * otaAppCount;
  const index: EntryIndex = active === 0 ? 1 : 0;
  return { index, entry: { ...makeOtaSelectEntry(seq, state), label: otadata[index].label } };
}

export class OtaOperationError extends Error {
  constructor(
    message: string,
    /** The ESP-IDF error name MicroPython would report. */
    readonly espError: 'ESP_FAIL' | 'ESP_ERR_NOT_FOUND' | 'ESP_ERR_OTA_ROLLBACK_FAILED',
  ) {
    super(message);
    this.name = 'OtaOperationError';
  }
}

/**
 * `esp_ota_mark_app_valid_cancel_rollback`: the active entry becomes VALID in
 * place. undefined when it already is (ESP-IDF writes nothing then).
 */
export function planMarkValid(otadata: OtaData, otaAppCount: number): OtadataWrite | undefined {
  const active = activeEntryIndex(otadata);
  if (active === undefined || otaAppCount === 0) {
    throw new OtaOperationError('running firmware is factory (no active otadata entry)', 'ESP_FAIL');
  }
  if (otadata[active].state === OtaImageState.VALID) return undefined;
  return { index: active, entry: { ...otadata[active], state: OtaImageState.VALID } };
}

/**
 * `esp_ota_mark_app_invalid_rollback_and_reboot` before the reboot: the
 * active entry becomes INVALID, provided another app could boot.
 */
export function planMarkInvalid(otadata: OtaData, otaAppCount: number, anotherAppBootable: boolean): OtadataWrite {
  const active = activeEntryIndex(otadata);
  if (active === undefined || otaAppCount === 0) {
    throw new OtaOperationError('running firmware is factory (no active otadata entry)', 'ESP_FAIL');
  }
  if (!anotherAppBootable) {
    throw new OtaOperationError('rollback is not possible: no other app partition holds a bootable image', 'ESP_ERR_OTA_ROLLBACK_FAILED');
  }
  return { index: active, entry: { ...otadata[active], state: OtaImageState.INVALID } };
}

/** Applies writes to a copy of `otadata`. */
export function applyOtadataWrites(otadata: OtaData, writes: readonly OtadataWrite[]): OtaData {
  const next: [OtaSelectEntry, OtaSelectEntry] = [otadata[0], otadata[1]];
  for (const write of writes) next[write.index] = write.entry;
  return next;
}
