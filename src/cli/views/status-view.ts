/** The board's OTA status for people, as the seed's ota.status.status() prints it (with ESP-IDF's otadata rules). */
import type { BoardStatus } from '../../ota/engine.js';
import { appLayoutOf, otadataJson, otadataText } from './otadata-view.js';
import { partitionTableJson, partitionTableText } from './partition-view.js';

export function statusText(status: BoardStatus): string {
  const lines = [`MicroPython ${status.version} (${status.machine}) has booted from partition '${status.running ?? '?'}'.`];
  if (status.pendingVerify && status.nextBoot) {
    lines.push(
      `It is not confirmed yet: the next reset rolls back to '${status.nextBoot.partition}' unless the app calls`,
      `esp32.Partition.mark_app_valid_cancel_rollback() (or run: esp32-ota rollback cancel).`,
    );
  } else if (status.nextBoot) {
    lines.push(`The next reset boots '${status.nextBoot.partition}'.`);
  }
  lines.push(status.nextUpdate ? `The next OTA partition is '${status.nextUpdate}'.` : `No OTA update partition: ${status.nextUpdateError ?? 'the partition table has none'}.`);
  if (status.filesystemPartition) lines.push(`The / filesystem is mounted from partition '${status.filesystemPartition}'.`);
  lines.push('', 'Partition table:', partitionTableText(status.table));
  if (status.otadata) lines.push('', otadataText(status.otadata, appLayoutOf(status.table)));
  else lines.push('', 'No otadata partition: this board cannot take OTA updates.');
  return lines.join('\n');
}

export function statusJson(status: BoardStatus) {
  return {
    version: status.version,
    versionText: status.versionText,
    machine: status.machine,
    running: status.running ?? null,
    bootPartition: status.bootPartition ?? null,
    nextBoot: status.nextBoot ?? null,
    pendingVerify: status.pendingVerify,
    nextUpdate: status.nextUpdate ?? null,
    nextUpdateError: status.nextUpdateError ?? null,
    filesystemPartition: status.filesystemPartition ?? null,
    ready: status.ready,
    partitionTable: partitionTableJson(status.table),
    otadata: status.otadata ? otadataJson(status.otadata, appLayoutOf(status.table)) : null,
  };
}
