/**
 * The ESP-IDF second-stage bootloader, as far as choosing and verifying the
 * app goes: read the partition table and otadata from flash, apply the
 * rollback rules, verify candidate apps in bootloader order, and record the
 * writes it makes. The log imitates what a real ESP32 prints on its UART.
 */
import { hex } from '../format/bytes.js';
import type { Chip } from '../format/chips.js';
import { FormatError } from '../format/errors.js';
import { verifyAppImage, type AppImage } from '../format/app-image.js';
import { OTADATA_SECTOR_SIZE, encodeOtaSelectEntry, otaStateName, parseOtadata } from '../format/otadata.js';
import { bootCandidates, initialEntryFor, selectBootPartition, type BootTarget, type OtadataWrite } from '../format/ota-ops.js';
import {
  PARTITION_TABLE_MAX_LENGTH,
  PARTITION_TABLE_OFFSET,
  factoryPartition,
  otaAppPartitions,
  otadataPartition,
  parsePartitionTable,
  subtypeName,
  typeName,
  type Partition,
  type PartitionTable,
} from '../format/partition-table.js';
import type { Sha256 } from '../format/hash.js';
import type { NorFlash } from './nor-flash.js';

export interface BootloaderOptions {
  readonly chip: Chip;
  /** CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE (MicroPython's ESP32 builds set it). */
  readonly rollbackEnabled: boolean;
  readonly resetReason: ResetReason;
  readonly sha256?: Sha256;
}

export type ResetReason = 'POWERON_RESET' | 'SW_CPU_RESET' | 'RTCWDT_RTC_RESET';
const RESET_CODES: Record<ResetReason, number> = { POWERON_RESET: 0x1, SW_CPU_RESET: 0xc, RTCWDT_RTC_RESET: 0x10 };

export interface BootedApp {
  readonly partition: Partition;
  readonly image: AppImage;
  readonly table: PartitionTable;
  readonly log: string;
}

/** Nothing bootable: a real board prints the error and resets, forever. */
export class NoBootableAppError extends Error {
  constructor(
    message: string,
    readonly log: string,
  ) {
    super(message);
    this.name = 'NoBootableAppError';
  }
}

export function runBootloader(flash: NorFlash, options: BootloaderOptions): BootedApp {
  const log = new BootLog();
  log.raw(`rst:${hex(RESET_CODES[options.resetReason])} (${options.resetReason}),boot:0x13 (SPI_FAST_FLASH_BOOT)`);
  log.info('boot', `esp32-ota virtual ${options.chip.name} 2nd stage bootloader (ESP-IDF rules)`);

  let table: PartitionTable;
  try {
    table = parsePartitionTable(flash.read(PARTITION_TABLE_OFFSET, PARTITION_TABLE_MAX_LENGTH));
  } catch (error) {
    if (!(error instanceof FormatError)) throw error;
    log.error('flash_parts', `partition table at ${hex(PARTITION_TABLE_OFFSET)} is invalid: ${error.message}`);
    log.error('boot', 'Failed to verify partition table');
    throw new NoBootableAppError('no valid partition table', log.text());
  }
  logPartitionTable(log, table);

  const otaApps = otaAppPartitions(table);
  const factory = factoryPartition(table);
  const otadataPart = otadataPartition(table);
  const otadata = otadataPart ? parseOtadata(flash.read(otadataPart.offset, otadataPart.size)) : undefined;
  const selection = selectBootPartition({
    otadata,
    otaAppCount: otaApps.length,
    hasFactory: factory !== undefined,
    rollbackEnabled: options.rollbackEnabled,
  });
  for (const write of selection.writes) {
    log.info('boot', `otadata[${write.index}] is marked ${otaStateName(write.entry.state)}`);
    writeOtadataEntry(flash, otadataPart!, write);
  }
  log.info('boot', selection.reason);

  const partitionOf = (target: BootTarget) => (target.kind === 'factory' ? factory : otaApps[target.slot]);
  for (const target of bootCandidates(selection.target, otaApps.length)) {
    const partition = partitionOf(target);
    if (!partition) continue;
    try {
      const image = verifyAppImage(flash.read(partition.offset, partition.size), {
        expectedChip: options.chip.id,
        ...(options.sha256 ? { sha256: options.sha256 } : {}),
      });
      if (selection.recordSlotAfterLoad && target.kind === 'ota') {
        const write = initialEntryFor(target.slot);
        writeOtadataEntry(flash, otadataPart!, write);
        log.info('boot', `Set actual ota_seq=${write.entry.seq} in otadata[0]`);
      }
      for (const segment of image.segments) {
        log.info('esp_image', `segment ${segment.index}: paddr=${hex(partition.offset + segment.dataOffset, 8).slice(2)} vaddr=${hex(segment.loadAddress, 8).slice(2)} size=${hex(segment.length, 5).slice(2)} (${String(segment.length).padStart(6)})`);
      }
      log.info('boot', `Loaded app from partition at offset ${hex(partition.offset)}`);
      return { partition, image, table, log: log.text() };
    } catch (error) {
      if (!(error instanceof FormatError)) throw error;
      log.error('esp_image', error.message);
      log.error('boot', target.kind === 'factory' ? 'Factory app partition is not bootable' : `OTA app partition slot ${target.slot} is not bootable`);
    }
  }
  log.error('boot', 'No bootable app partitions in the partition table');
  throw new NoBootableAppError('no bootable app partition', log.text());
}

/** As bootloader and esp_ota_ops do: erase the entry's sector, then write its 32 bytes. */
export function writeOtadataEntry(flash: NorFlash, otadata: Partition, write: OtadataWrite): void {
  const offset = otadata.offset + write.index * OTADATA_SECTOR_SIZE;
  flash.erase(offset, OTADATA_SECTOR_SIZE);
  flash.program(offset, encodeOtaSelectEntry(write.entry));
}

function logPartitionTable(log: BootLog, table: PartitionTable): void {
  log.info('boot', 'Partition Table:');
  log.info('boot', '## Label            Usage          Type ST Offset   Length');
  table.partitions.forEach((p, i) => {
    const usage = `${subtypeName(p.type, p.subtype)} ${typeName(p.type)}`;
    log.info('boot', `${String(i).padStart(2)} ${p.label.padEnd(16)} ${usage.padEnd(14)} ${hex(p.type, 2).slice(2)} ${hex(p.subtype, 2).slice(2)} ${hex(p.offset, 8).slice(2)} ${hex(p.size, 8).slice(2)}`);
  });
  log.info('boot', 'End of partition table');
}

/** ESP-IDF log lines: `I (ms) tag: message`, with a simulated clock. */
class BootLog {
  private readonly lines: string[] = [];
  private clockMs = 27;

  raw(line: string): void {
    this.lines.push(line);
  }

  info(tag: string, message: string): void {
    this.line('I', tag, message);
  }

  error(tag: string, message: string): void {
    this.line('E', tag, message);
  }

  text(): string {
    return this.lines.join('\r\n') + '\r\n';
  }

  private line(level: string, tag: string, message: string): void {
    this.lines.push(`${level} (${this.clockMs}) ${tag}: ${message}`);
    this.clockMs += 4;
  }
}
