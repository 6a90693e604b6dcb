import type { Command } from 'commander';
import { hex, toHex } from '../../format/bytes.js';
import { extractApp, identifyFirmware, FIRMWARE_KIND_NAMES } from '../../format/firmware-file.js';
import { humanSize, withThousands } from '../../format/units.js';
import { nativeSha256 } from '../../node/native-hash.js';
import { readInputFile, writeOutputFile } from '../files.js';
import { printJson, printText } from '../output.js';
import { appImageReport } from '../views/app-image-view.js';
import { appLayoutOf, otadataJson, otadataText } from '../views/otadata-view.js';
import { partitionTableJson, partitionTableText } from '../views/partition-view.js';
import { otaReadiness } from '../../format/ota-layout.js';
import { registerLayoutCommands } from './image-layout.js';

export function registerImageCommands(program: Command): void {
  const image = program.command('image').description('inspect and re-lay-out firmware files: app images, combined images, flash dumps');

  image
    .command('info')
    .description('what FILE is: kind, chip, app description, SHA-256, segments, partition table, otadata, and whether it is valid')
    .argument('<file>', 'an app image, a combined firmware .bin or a flash dump')
    .option('--json', 'machine-readable output (see docs/json-output.md)')
    .action(async (file: string, options: { json?: boolean }) => {
      const bytes = await readInputFile(file);
      const info = firmwareInfo(file, bytes);
      if (options.json) printJson(info.json);
      else printText(info.text);
      if (info.json.app && !info.json.app.valid) process.exitCode = 2;
    });

  image
    .command('extract-app')
    .description('write the app image (.app-bin, what OTA updates take) from a combined firmware or flash dump')
    .argument('<file>', 'a combined firmware .bin or a flash dump')
    .requiredOption('-o, --output <file>', 'where to write the app image')
    .option('-p, --partition <label>', 'from a dump: which app partition (default: the one the bootloader boots next)')
    .action(async (file: string, options: { output: string; partition?: string }) => {
      const bytes = await readInputFile(file);
      const app = extractApp(bytes, identifyFirmware(bytes), options.partition);
      await writeOutputFile(options.output, app.bytes);
      const from = app.partition ? `partition '${app.partition.label}' (file offset ${hex(app.fileOffset)})` : 'the app image';
      printText(
        `Wrote ${options.output}: ${withThousands(app.bytes.length)} bytes (${humanSize(app.bytes.length)}) from ${from}\n` +
          `SHA-256 ${toHex(nativeSha256(app.bytes))}`,
      );
    });

  registerLayoutCommands(image);
}

export function firmwareInfo(path: string, bytes: Uint8Array) {
  const file = identifyFirmware(bytes);
  const sizeLine = `${path} (${withThousands(bytes.length)} bytes, ${humanSize(bytes.length)})`;
  const lines = [`File:  ${sizeLine}`, `Kind:  ${FIRMWARE_KIND_NAMES[file.kind]}`];
  const json: Record<string, unknown> & { app?: { valid: boolean } & Record<string, unknown> } = { file: path, size: bytes.length, kind: file.kind };

  if (file.kind === 'partition-table') {
    lines.push('', partitionTableText(file.table));
    json['partitionTable'] = partitionTableJson(file.table);
    return { json, text: lines.join('\n') };
  }
  if (file.kind === 'app-image') {
    const report = appImageReport(bytes, nativeSha256);
    lines.push('', 'App image:', report.text);
    json.app = { ...report.json };
    return { json, text: lines.join('\n') };
  }

  lines.push(`Chip:  ${file.chip.name} (from the bootloader header)`, `Flash: file starts at flash ${hex(file.flashBase)}`);
  json['chip'] = file.chip.name;
  json['flashBase'] = file.flashBase;
  json['partitionTable'] = { flashOffset: file.tableFileOffset + file.flashBase, ...partitionTableJson(file.table) };
  lines.push('', `Partition table (flash ${hex(file.tableFileOffset + file.flashBase)}${file.table.hasMd5 ? ', MD5 checked' : ''}):`, partitionTableText(file.table));
  const readiness = otaReadiness(file.table);
  json['ota'] = readiness;
  lines.push('', readiness.ready ? `OTA:   ready: ${readiness.reason}` : `OTA:   not OTA-capable: ${readiness.reason} (esp32-ota image make-ota makes it so)`);

  const layout = appLayoutOf(file.table);
  if (file.otadata) {
    json['otadata'] = otadataJson(file.otadata, layout);
    lines.push('', otadataText(file.otadata, layout));
  } else if (file.otadataError) {
    json['otadata'] = { error: file.otadataError.message };
    lines.push('', `otadata: unreadable: ${file.otadataError.message}`);
  }

  json['apps'] = file.apps.map((slot) => ({ partition: slot.partition.label, fileOffset: slot.fileOffset, appLength: slot.appLength ?? null }));
  try {
    const app = extractApp(bytes, file);
    const report = appImageReport(app.bytes, nativeSha256);
    json.app = { partition: app.partition?.label ?? null, fileOffset: app.fileOffset, ...report.json };
    lines.push('', `App image in '${app.partition?.label}' (flash ${hex(app.partition!.offset)}, file offset ${hex(app.fileOffset)}):`, report.text);
  } catch (error) {
    json.app = { valid: false, ...{ error: (error as Error).message } };
    lines.push('', `App image: none found: ${(error as Error).message}`);
  }
  return { json, text: lines.join('\n') };
}
