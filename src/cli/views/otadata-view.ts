/** otadata for people (text) and scripts (JSON). */
import { hex } from '../../format/bytes.js';
import {
  OTADATA_SECTOR_SIZE,
  OtaImageState,
  activeEntryIndex,
  entryProblem,
  hasGoodCrc,
  isEntryValid,
  otaStateName,
  type OtaData,
} from '../../format/otadata.js';
import { selectBootPartition, type BootTarget } from '../../format/ota-ops.js';
import { otaAppPartitions, factoryPartition, type PartitionTable } from '../../format/partition-table.js';
import { renderTable } from '../text-table.js';

/** What the partition table says about the apps; without it only the raw entries can be explained. */
export interface AppLayout {
  readonly otaAppLabels: readonly string[];
  readonly factoryLabel: string | undefined;
  readonly rollbackEnabled: boolean;
}

/** MicroPython's ESP32 builds enable CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE. */
export function appLayoutOf(table: PartitionTable, rollbackEnabled = true): AppLayout {
  return {
    otaAppLabels: otaAppPartitions(table).map((partition) => partition.label),
    factoryLabel: factoryPartition(table)?.label,
    rollbackEnabled,
  };
}

export interface OtadataJson {
  entries: {
    index: number;
    offset: number;
    seq: number;
    state: string;
    stateValue: number;
    crc: number;
    crcOk: boolean;
    valid: boolean;
    problem: string | null;
  }[];
  activeEntry: number | null;
  nextBoot: { partition: string; reason: string; rollsBack: boolean } | null;
}

export function otadataJson(otadata: OtaData, layout?: AppLayout): OtadataJson {
  const active = activeEntryIndex(otadata);
  return {
    entries: otadata.map((entry, index) => ({
      index,
      offset: index * OTADATA_SECTOR_SIZE,
      seq: entry.seq,
      state: otaStateName(entry.state),
      stateValue: entry.state,
      crc: entry.crc,
      crcOk: hasGoodCrc(entry),
      valid: isEntryValid(entry),
      problem: entryProblem(entry) ?? null,
    })),
    activeEntry: active ?? null,
    nextBoot: layout ? nextBoot(otadata, layout) : null,
  };
}

function nextBoot(otadata: OtaData, layout: AppLayout): OtadataJson['nextBoot'] {
  const selection = selectBootPartition({
    otadata,
    otaAppCount: layout.otaAppLabels.length,
    hasFactory: layout.factoryLabel !== undefined,
    rollbackEnabled: layout.rollbackEnabled,
  });
  const rollsBack = selection.writes.some((write) => write.entry.state === OtaImageState.ABORTED);
  return { partition: targetLabel(selection.target, layout), reason: selection.reason, rollsBack };
}

function targetLabel(target: BootTarget, layout: AppLayout): string {
  if (target.kind === 'factory') return layout.factoryLabel ?? '(no factory app)';
  return layout.otaAppLabels[target.slot] ?? `ota_${target.slot}`;
}

export function otadataText(otadata: OtaData, layout?: AppLayout): string {
  const json = otadataJson(otadata, layout);
  const rows = json.entries.map((entry) => [
    String(entry.index),
    hex(entry.offset, 4),
    entry.seq === 0xffffffff ? '-' : String(entry.seq),
    entry.seq === 0xffffffff && entry.stateValue === 0xffffffff ? '-' : entry.state,
    hex(entry.crc, 8),
    entry.valid ? 'yes' : `no: ${entry.problem}`,
    entry.index === json.activeEntry ? '<- active' : '',
  ]);
  const lines = [
    'otadata:',
    renderTable(
      [{ header: 'Entry' }, { header: 'Offset' }, { header: 'Seq', align: 'right' }, { header: 'State' }, { header: 'CRC' }, { header: 'Valid' }, { header: '' }],
      rows,
    ),
  ];
  if (json.activeEntry === null) {
    lines.push('No valid entry: the bootloader boots the factory app, or ota_0 when there is none.');
  } else if (!layout) {
    const seq = otadata[json.activeEntry]!.seq;
    lines.push(`Active entry: ${json.activeEntry} (seq ${seq}): boots OTA slot (seq - 1) % number of OTA partitions.`);
  }
  if (json.nextBoot) {
    lines.push(`Next boot: '${json.nextBoot.partition}' (${json.nextBoot.reason}).`);
    if (json.nextBoot.rollsBack) {
      lines.push('An entry is PENDING_VERIFY: its app never confirmed itself, so the bootloader marks it ABORTED and rolls back.');
    }
  }
  return lines.join('\n');
}
