/** `esp32-ota image make-ota | resize | edit`: a new partition layout for a firmware image or a board's flash dump. */
import { realpathSync } from 'node:fs';
import type { Command } from 'commander';
import { hex } from '../../format/bytes.js';
import { decodeAppImageHeader, verifyAppImage } from '../../format/app-image.js';
import { FormatError } from '../../format/errors.js';
import { extractApp, identifyFirmware } from '../../format/firmware-file.js';
import { flashSizeOfFile, relayoutFlash, type FlashFile, type RelayoutPlan, type RelayoutResult } from '../../format/flash-relayout.js';
import { appDoesNotFitMessage, microPythonOtaTable, otaReadiness } from '../../format/ota-layout.js';
import { editPartitionTable, resizePartitions } from '../../format/table-edit.js';
import { PartitionType, otaAppPartitions } from '../../format/partition-table.js';
import { humanSize, withThousands } from '../../format/units.js';
import { nativeSha256 } from '../../node/native-hash.js';
import { parseByteSize, parseFlashSize, parseSizeAssignments } from '../byte-size.js';
import { UserError } from '../errors.js';
import { readInputFile, writeOutputFileWhole } from '../files.js';
import { printText } from '../output.js';
import { renderTable } from '../text-table.js';
import { partitionTableText } from '../views/partition-view.js';

interface CommonOptions {
  output: string;
  eraseFs?: boolean;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerLayoutCommands(image: Command): void {
  layoutCommand(image, 'make-ota', "make a firmware image or a board's flash dump OTA-capable: MicroPython's OTA table (otadata, ota_0, ota_1, vfs), the app in ota_0")
    .option('--flash-size <size>', "the board's flash: 4M, 8M, 16M or 32M (default: as the input says)", parseFlashSize)
    .option('--app-size <size>', "size of each OTA app slot, a multiple of 64 KiB (default: MicroPython's for the flash size)", parseByteSize)
    .action(async (firmware: string, options: CommonOptions & { flashSize?: number; appSize?: number }) => {
      const { bytes, file } = await readFlashFile(firmware, options.output);
      const readiness = otaReadiness(file.table);
      if (readiness.ready) {
        throw new UserError(`${firmware} is already OTA-capable (${readiness.reason}); use 'esp32-ota image resize' to change its slots`);
      }
      const app = extractApp(bytes, file);
      try {
        verifyAppImage(app.bytes, { expectedChip: file.chip.name, sha256: nativeSha256 });
      } catch (error) {
        if (error instanceof FormatError) throw new FormatError(`the app in '${app.partition?.label}' would not boot: ${error.problem}`, app.fileOffset + (error.offset ?? 0));
        throw error;
      }
      const flashSize = options.flashSize ?? flashSizeOfFile(bytes, file);
      const table = microPythonOtaTable(flashSize, options.appSize);
      const slotSize = otaAppPartitions(table)[0]!.size;
      if (app.bytes.length > slotSize) throw new FormatError(appDoesNotFitMessage(app.bytes.length, slotSize, flashSize, options.appSize !== undefined));
      const plan: RelayoutPlan = {
        table,
        flashSize,
        apps: { ota_0: { bytes: app.bytes, from: app.partition?.label ?? 'app' } },
        eraseFilesystem: options.eraseFs ?? false,
      };
      await writeResult(firmware, bytes, file, plan, options.output);
    });

  layoutCommand(image, 'resize', "change the flash size or partition sizes of a firmware image or a board's flash dump; later partitions move, the vfs takes up the rest")
    .option('--flash-size <size>', 'the new flash size (4M, 8M, 16M, …); the last partition grows or shrinks to the end', parseFlashSize)
    .option('--app-size <size>', 'the new size of every app partition', parseByteSize)
    .option('--resize <name=size,…>', 'new sizes by partition name (repeatable)', collect)
    .action(async (firmware: string, options: CommonOptions & { flashSize?: number; appSize?: number; resize?: string[] }) => {
      if (options.flashSize === undefined && options.appSize === undefined && options.resize === undefined) {
        throw new UserError('resize: give --flash-size, --app-size or --resize NAME=SIZE');
      }
      const { bytes, file } = await readFlashFile(firmware, options.output);
      const oldFlashSize = flashSizeOfFile(bytes, file);
      const sizes = parseSizeAssignments(options.resize ?? [], '--resize');
      if (options.appSize !== undefined) {
        for (const p of file.table.partitions) if (p.type === PartitionType.APP) sizes.set(p.label, options.appSize);
      }
      const flashSize = options.flashSize ?? oldFlashSize;
      const table = resizePartitions(file.table, { sizes, flashSize: oldFlashSize, newFlashSize: flashSize });
      await writeResult(firmware, bytes, file, { table, flashSize, eraseFilesystem: options.eraseFs ?? false }, options.output);
    });

  layoutCommand(image, 'edit', "add, delete or rename partitions, or change their type or flags, in a firmware image or a board's flash dump")
    .option('--add <csv-row>', "a partition as a CSV row 'NAME, TYPE, SUBTYPE, OFFSET, SIZE[, FLAGS]'; an empty OFFSET takes the room from the end of the vfs (repeatable)", collect)
    .option('--delete <name>', 'remove a partition (repeatable)', collect)
    .option('--rename <old=new>', 'rename a partition; its contents stay (repeatable)', collect)
    .option('--type <name=type[:subtype]>', 'change type and subtype, e.g. vfs=data:littlefs (repeatable)', collect)
    .option('--flags <name=flags>', "set the flags: readonly, encrypted, encrypted:readonly, or '' for none (repeatable)", collect)
    .action(async (firmware: string, options: CommonOptions & Record<'add' | 'delete' | 'rename' | 'type' | 'flags', string[] | undefined>) => {
      const edits = {
        add: options.add ?? [],
        delete: options.delete ?? [],
        rename: assignments(options.rename, '--rename'),
        type: assignments(options.type, '--type'),
        flags: assignments(options.flags, '--flags'),
      };
      if (Object.values(edits).every((edit) => (Array.isArray(edit) ? edit.length : edit.size) === 0)) {
        throw new UserError('edit: give at least one of --add, --delete, --rename, --type, --flags');
      }
      const { bytes, file } = await readFlashFile(firmware, options.output);
      const flashSize = flashSizeOfFile(bytes, file);
      const table = editPartitionTable(file.table, edits, flashSize);
      const renamed = new Map([...edits.rename].map(([from, to]) => [to, from]));
      await writeResult(firmware, bytes, file, { table, flashSize, renamed, eraseFilesystem: options.eraseFs ?? false }, options.output);
    });
}

/** The parts the three commands share: the input, -o and --erase-fs. */
function layoutCommand(image: Command, name: string, description: string): Command {
  return image
    .command(name)
    .description(description)
    .argument('<firmware>', 'a combined firmware .bin (as downloaded from micropython.org) or a flash dump')
    .requiredOption('-o, --output <file>', 'where to write the whole-flash image (for esptool write_flash 0x0)')
    .option('--erase-fs', 'start the filesystem empty instead of carrying its files');
}

function assignments(items: string[] | undefined, option: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const item of items ?? []) {
    const at = item.indexOf('=');
    if (at <= 0) throw new UserError(`${option} '${item}': expected NAME=VALUE`);
    map.set(item.slice(0, at), item.slice(at + 1));
  }
  return map;
}

async function readFlashFile(path: string, output: string): Promise<{ bytes: Uint8Array; file: FlashFile }> {
  const bytes = await readInputFile(path);
  if (samePath(path, output)) throw new UserError(`-o ${output} is the input file: write the new image to another file (the input stays as it is)`);
  const file = identifyFirmware(bytes);
  if (file.kind === 'app-image' || file.kind === 'partition-table') {
    throw new UserError(
      `${path} is ${file.kind === 'app-image' ? 'an app image' : 'a partition table'}: give a combined firmware image (bootloader + table + app) or a flash dump`,
    );
  }
  return { bytes, file };
}

function samePath(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

async function writeResult(input: string, bytes: Uint8Array, file: FlashFile, plan: RelayoutPlan, output: string): Promise<void> {
  const oldFlashSize = flashSizeOfFile(bytes, file);
  const result = relayoutFlash(bytes, file, plan, { sha256: nativeSha256 });
  await writeOutputFileWhole(output, result.image);
  printText(report(input, file, oldFlashSize, plan, result, output));
}

function report(input: string, file: FlashFile, oldFlashSize: number, plan: RelayoutPlan, result: RelayoutResult, output: string): string {
  const readiness = otaReadiness(plan.table);
  const header = decodeAppImageHeader(result.image.subarray(file.chip.bootloaderOffset));
  const lines = [
    `Wrote ${output}: whole-flash image for ${file.chip.name}, ${humanSize(plan.flashSize)} (${withThousands(plan.flashSize)} bytes), flash 0x0 to ${hex(plan.flashSize)}`,
    `OTA:   ${readiness.ready ? 'ready' : 'not OTA-capable'}: ${readiness.reason}`,
    '',
    'Partition table (flash 0x8000, with MD5):',
    partitionTableText(plan.table),
    '',
    'Contents:',
    renderTable(
      [{ header: 'Partition' }, { header: 'Now holds' }],
      result.outcomes.map((outcome) => [outcome.partition.label, outcome.detail]),
    ),
    '',
    oldFlashSize === header.flashSizeBytes
      ? `Bootloader header: flash size ${humanSize(oldFlashSize)}, unchanged`
      : `Bootloader header: flash size ${humanSize(oldFlashSize)} → ${humanSize(plan.flashSize)}` +
        (header.hashAppended ? ' (its appended SHA-256 recomputed; the checksum covers only segment data)' : ''),
  ];
  const lost = result.outcomes.filter((outcome) => outcome.lost).map((outcome) => outcome.partition.label);
  if (lost.length > 0) lines.push(`Not carried over: ${lost.join(', ')} (see above).`);
  if (result.dropped.length > 0) lines.push(`Removed with their contents: ${result.dropped.join(', ')}.`);
  if (file.kind === 'combined-image') {
    lines.push(
      `Note: ${input} is a firmware download, not a dump of a board: writing this image erases the board's files and NVS.`,
      `To keep them, start from a dump of the board: esptool.py read_flash 0 ${hex(oldFlashSize)} dump.bin`,
    );
  }
  lines.push('', `Write it to a board (the whole flash): esptool.py --chip ${file.chip.name} write_flash 0x0 ${output}`);
  return lines.join('\n');
}
