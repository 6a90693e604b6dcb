/**
 * The ESP-IDF calls behind MicroPython's esp32.Partition, on the simulated
 * flash, returning ESP-IDF error codes as the C functions do:
 * esp_partition_read/write/erase_range (esp_partition/partition.c) and
 * esp_ota_get_boot_partition, esp_ota_get_next_update_partition,
 * esp_ota_set_boot_partition, esp_ota_mark_app_valid_cancel_rollback
 * (app_update/esp_ota_ops.c). Pure: the worker and the main thread both use it.
 */
import { verifyAppImage } from '../../format/app-image.js';
import { FormatError } from '../../format/errors.js';
import { OTADATA_SECTOR_SIZE, activeEntryIndex, isEntryMarkedInvalid, otaSlotOfSeq, parseOtadata, type OtaData } from '../../format/otadata.js';
import { OtaOperationError, planMarkValid, planSetBoot, type OtadataWrite } from '../../format/ota-ops.js';
import {
  AppSubtype,
  PartitionType,
  factoryPartition,
  otaAppPartitions,
  otadataPartition,
  type Partition,
  type PartitionTable,
} from '../../format/partition-table.js';
import type { Sha256 } from '../../format/hash.js';
import { SECTOR_SIZE, type NorFlash } from '../nor-flash.js';
import { writeOtadataEntry } from '../bootloader.js';

export const EspErr = {
  OK: 0,
  FAIL: -1,
  INVALID_ARG: 0x102,
  INVALID_SIZE: 0x104,
  NOT_FOUND: 0x105,
  OTA_VALIDATE_FAILED: 0x1503,
  OTA_ROLLBACK_FAILED: 0x1506,
} as const;

export interface EspIdfApiOptions {
  readonly flash: NorFlash;
  readonly table: PartitionTable;
  readonly chipId: number;
  readonly rollbackEnabled: boolean;
  /** The partition the bootloader loaded the running app from. */
  readonly running: Partition;
  readonly sha256?: Sha256;
}

export class EspIdfApi {
  constructor(private readonly options: EspIdfApiOptions) {}

  get table(): PartitionTable {
    return this.options.table;
  }

  get running(): Partition {
    return this.options.running;
  }

  partitionAt(address: number): Partition | undefined {
    return this.options.table.partitions.find((p) => p.offset === address);
  }

  read(partition: Partition, offset: number, target: Uint8Array): number {
    const problem = rangeProblem(partition, offset, target.length);
    if (problem) return problem;
    this.options.flash.readInto(partition.offset + offset, target);
    return EspErr.OK;
  }

  write(partition: Partition, offset: number, data: Uint8Array): number {
    const problem = rangeProblem(partition, offset, data.length);
    if (problem) return problem;
    this.options.flash.program(partition.offset + offset, data);
    return EspErr.OK;
  }

  erase(partition: Partition, offset: number, length: number): number {
    const problem = rangeProblem(partition, offset, length);
    if (problem) return problem;
    if (length % SECTOR_SIZE !== 0) return EspErr.INVALID_SIZE;
    if (offset % SECTOR_SIZE !== 0) return EspErr.INVALID_ARG;
    this.options.flash.erase(partition.offset + offset, length);
    return EspErr.OK;
  }

  /** esp_ota_get_boot_partition: what otadata says now (not what the next boot's rollback will make of it). */
  bootPartition(): Partition | undefined {
    const otadata = this.readOtadata();
    if (!otadata) return undefined;
    const otaApps = otaAppPartitions(this.table);
    if (otaApps.length === 0 || (isEntryMarkedInvalid(otadata[0]) && isEntryMarkedInvalid(otadata[1]))) {
      return factoryPartition(this.table);
    }
    const active = activeEntryIndex(otadata);
    if (active === undefined) return factoryPartition(this.table);
    return this.otaSlot(otaSlotOfSeq(otadata[active].seq, otaApps.length));
  }

  /** esp_ota_get_next_update_partition(start): the OTA slot after `start` in subtype order, wrapping; the first from a non-OTA app. */
  nextUpdatePartition(start: Partition): Partition | undefined {
    const count = otaAppPartitions(this.table).length;
    let first: Partition | undefined;
    let nextIsResult = false;
    for (let slot = 0; slot < count; slot++) {
      const partition = this.otaSlot(slot);
      if (!partition) continue;
      first ??= partition;
      if (nextIsResult) return partition;
      if (partition === start) nextIsResult = true;
    }
    return first;
  }

  /** esp_ota_set_boot_partition: verify the image, then write otadata (factory: erase otadata). */
  setBootPartition(partition: Partition): number {
    if (partition.type !== PartitionType.APP) return EspErr.INVALID_ARG;
    if (!this.imageIsValid(partition)) return EspErr.OTA_VALIDATE_FAILED;
    const otadataPart = otadataPartition(this.table);
    if (partition.subtype === AppSubtype.FACTORY) {
      if (!otadataPart) return EspErr.NOT_FOUND;
      this.options.flash.erase(otadataPart.offset, otadataPart.size);
      return EspErr.OK;
    }
    const otadata = this.readOtadata();
    if (!otadata || !otadataPart) return EspErr.NOT_FOUND;
    const otaApps = otaAppPartitions(this.table);
    const slot = partition.subtype - AppSubtype.OTA_0;
    if (slot < 0 || slot >= otaApps.length) return EspErr.INVALID_ARG;
    this.apply(otadataPart, planSetBoot(otadata, slot, otaApps.length, this.options.rollbackEnabled));
    return EspErr.OK;
  }

  /** esp_ota_mark_app_valid_cancel_rollback */
  markAppValidCancelRollback(): number {
    const otadataPart = otadataPartition(this.table);
    const otadata = this.readOtadata();
    if (!otadata || !otadataPart) return EspErr.NOT_FOUND;
    try {
      const write = planMarkValid(otadata, otaAppPartitions(this.table).length);
      if (write) this.apply(otadataPart, write);
      return EspErr.OK;
    } catch (error) {
      if (error instanceof OtaOperationError) return EspErr.FAIL;
      throw error;
    }
  }

  private imageIsValid(partition: Partition): boolean {
    try {
      verifyAppImage(this.options.flash.read(partition.offset, partition.size), {
        expectedChip: this.options.chipId,
        ...(this.options.sha256 ? { sha256: this.options.sha256 } : {}),
      });
      return true;
    } catch (error) {
      if (error instanceof FormatError) return false;
      throw error;
    }
  }

  private otaSlot(slot: number): Partition | undefined {
    return this.table.partitions.find((p) => p.type === PartitionType.APP && p.subtype === AppSubtype.OTA_0 + slot);
  }

  private readOtadata(): OtaData | undefined {
    const partition = otadataPartition(this.table);
    if (!partition || partition.size < 2 * OTADATA_SECTOR_SIZE) return undefined;
    return parseOtadata(this.options.flash.read(partition.offset, 2 * OTADATA_SECTOR_SIZE));
  }

  private apply(otadataPart: Partition, write: OtadataWrite): void {
    writeOtadataEntry(this.options.flash, otadataPart, write);
  }
}

/** esp_partition_read/write/erase_range bounds checks. */
function rangeProblem(partition: Partition, offset: number, length: number): number | undefined {
  if (offset < 0 || offset > partition.size) return EspErr.INVALID_ARG;
  if (length > partition.size - offset) return EspErr.INVALID_SIZE;
  return undefined;
}
