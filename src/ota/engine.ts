/**
 * The OTA engine: what the seed's ota.status, ota.rollback and machine reset do
 * on the board, driven from the host through the raw REPL. Interpretation of
 * otadata is ours (ESP-IDF's rules), not the board's.
 */
import { dataView, fromHex } from '../format/bytes.js';
import { chipById, type Chip } from '../format/chips.js';
import { OtaImageState, activeEntryIndex, decodeOtaSelectEntry, otaSlotOfSeq, type OtaData } from '../format/otadata.js';
import { selectBootPartition } from '../format/ota-ops.js';
import { factoryPartition, otaAppPartitions, type Partition, type PartitionTable } from '../format/partition-table.js';
import { ReplClient } from '../repl/index.js';
import type { Transport } from '../transport/transport.js';
import { deviceProgram } from './device-programs.js';

export interface BoardStatus {
  /** e.g. 'v1.23.0' */
  readonly version: string;
  /** sys.version, e.g. '3.4.0; MicroPython v1.23.0 on 2024-06-02' */
  readonly versionText: string;
  readonly machine: string;
  /** The chip, from the running app's image header (undefined if the board's is unknown to us). */
  readonly chip: Chip | undefined;
  readonly running: string | undefined;
  /** What esp_ota_get_boot_partition() says now. */
  readonly bootPartition: string | undefined;
  readonly nextUpdate: string | undefined;
  /** Why there is no next update partition, as the board said it. */
  readonly nextUpdateError: string | undefined;
  readonly filesystemPartition: string | undefined;
  readonly table: PartitionTable;
  readonly otadata: OtaData | undefined;
  /** What the bootloader will boot on the next reset (rollback included). */
  readonly nextBoot: { readonly partition: string | undefined; readonly reason: string; readonly rollsBack: boolean } | undefined;
  /** The running firmware was booted for the first time and not confirmed: the next reset rolls it back. */
  readonly pendingVerify: boolean;
  /** The seed's ota.status.ready(): an otadata partition and a next update partition exist. */
  readonly ready: boolean;
}

interface StatusReport {
  version: string;
  machine: string;
  platform: string;
  running: string | null;
  boot: string | null;
  nextUpdate: string | null;
  nextUpdateError: string | null;
  vfs: string | null;
  table: [number, number, number, number, string, boolean][];
  otadata: [string, string] | null;
  runningHeader: string;
}

export async function readStatus(client: ReplClient): Promise<BoardStatus> {
  const output = new TextDecoder().decode(await client.exec(await deviceProgram('status')));
  const report = JSON.parse(output.trim().split(/\r?\n/).pop() ?? '') as StatusReport;
  return interpretStatus(report);
}

export function interpretStatus(report: StatusReport): BoardStatus {
  const table: PartitionTable = {
    hasMd5: false,
    partitions: report.table.map(([type, subtype, offset, size, label, encrypted]) => ({ type, subtype, offset, size, label, encrypted, readonly: false })),
  };
  const otadata = report.otadata ? ([decodeOtaSelectEntry(fromHex(report.otadata[0])), decodeOtaSelectEntry(fromHex(report.otadata[1]))] as const) : undefined;
  const otaApps = otaAppPartitions(table);
  const factory = factoryPartition(table);
  let nextBoot: BoardStatus['nextBoot'];
  let pendingVerify = false;
  if (otadata) {
    const selection = selectBootPartition({ otadata, otaAppCount: otaApps.length, hasFactory: factory !== undefined, rollbackEnabled: true });
    const target: Partition | undefined = selection.target.kind === 'factory' ? factory : otaApps[selection.target.slot];
    nextBoot = {
      partition: target?.label,
      reason: selection.reason,
      rollsBack: selection.writes.some((write) => write.entry.state === OtaImageState.ABORTED),
    };
    const active = activeEntryIndex(otadata);
    if (active !== undefined && otaApps.length > 0) {
      const entry = otadata[active];
      pendingVerify = entry.state === OtaImageState.PENDING_VERIFY && otaApps[otaSlotOfSeq(entry.seq, otaApps.length)]?.label === report.running;
    }
  }
  return {
    version: /MicroPython (v[^\s;]+)/.exec(report.version)?.[1] ?? report.version,
    versionText: report.version,
    machine: report.machine,
    chip: chipOfHeader(report.runningHeader),
    running: report.running ?? undefined,
    bootPartition: report.boot ?? undefined,
    nextUpdate: report.nextUpdate ?? undefined,
    nextUpdateError: report.nextUpdateError ?? undefined,
    filesystemPartition: report.vfs ?? undefined,
    table,
    otadata,
    nextBoot,
    pendingVerify,
    ready: otadata !== undefined && report.nextUpdate !== null,
  };
}

function chipOfHeader(headerHex: string): Chip | undefined {
  const header = fromHex(headerHex);
  return header.length >= 24 && header[0] === 0xe9 ? chipById(dataView(header).getUint16(12, true)) : undefined;
}

/** How the engine reaches a board beyond its REPL: a reset from outside, and a new link after the old one dropped. */
export interface BoardLink {
  readonly transport: Transport;
  readonly hardReset: (() => Promise<void>) | undefined;
  reconnect(): Promise<Transport>;
}

const BANNER_END = 'Type "help()" for more information.\r\n>>> ';

/**
 * Hard-resets the board (RTS / EN when the link can, else machine.reset())
 * and waits until MicroPython is back; returns a client in its raw REPL.
 */
export async function resetBoard(link: BoardLink, client: ReplClient, options: { timeoutMs?: number } = {}): Promise<ReplClient> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  if (link.hardReset) await link.hardReset();
  else {
    if (!client.inRawRepl) await client.enterRawRepl();
    await client.startProgram('import machine\nmachine.reset()');
  }
  let transport = link.transport;
  try {
    await client.reader.readUntil(BANNER_END, { timeoutMs, waitingFor: 'MicroPython to start again after the reset' });
  } catch (error) {
    if (!transport.closed) throw error;
    transport = await reconnect(link, timeoutMs);
  }
  client.dispose();
  const fresh = new ReplClient(transport);
  await fresh.enterRawRepl();
  return fresh;
}

/** A WebREPL or TCP link drops when a real board resets: try again until it is back. */
async function reconnect(link: BoardLink, timeoutMs: number): Promise<Transport> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await link.reconnect();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

export type RollbackAction = 'cancel' | 'force' | 'cancel-force';

export interface RollbackResult {
  readonly action: RollbackAction;
  /** cancel: false when the bootloader has no rollback support (no otadata). */
  readonly confirmed?: boolean;
  /** force / cancel-force: the partition set to boot next. */
  readonly boot?: string;
  /** force / cancel-force: the partition that was to boot next holds no valid app image (nothing changed). */
  readonly invalid?: string;
}

export class OtaError extends Error {
  override name = 'OtaError';
}

/** The seed's ota.rollback: cancel (mark valid), force (boot the previous OTA slot), cancel-force (boot the running one). */
export async function rollback(client: ReplClient, action: RollbackAction): Promise<RollbackResult> {
  const output = new TextDecoder().decode(await client.exec(`${await deviceProgram('control')}\n_esp32_ota_control(${JSON.stringify(action)})\ndel _esp32_ota_control\n`));
  const result = JSON.parse(output.trim().split(/\r?\n/).pop() ?? '') as RollbackResult;
  if (result.invalid) {
    throw new OtaError(`'${result.invalid}' holds no valid firmware (ESP-IDF refused it: ESP_ERR_OTA_VALIDATE_FAILED), so there is nothing to ${action === 'force' ? 'roll back to' : 'boot'}; the boot partition is unchanged`);
  }
  return result;
}
