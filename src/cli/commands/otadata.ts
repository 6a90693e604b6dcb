import type { Command } from 'commander';
import { hex } from '../../format/bytes.js';
import { FormatError } from '../../format/errors.js';
import { FIRMWARE_KIND_NAMES, identifyFirmware } from '../../format/firmware-file.js';
import { withThousands } from '../../format/units.js';
import { OTADATA_SIZE, parseOtadata } from '../../format/otadata.js';
import { UserError } from '../errors.js';
import { inFile, readInputFile } from '../files.js';
import { printJson, printText } from '../output.js';
import { appLayoutOf, otadataJson, otadataText } from '../views/otadata-view.js';

export function registerOtadataCommand(program: Command): void {
  program
    .command('otadata')
    .description('show the two otadata entries and which partition the bootloader picks next')
    .argument('<file>', 'an otadata partition dump (0x2000 bytes) or a full flash dump')
    .option('--json', 'machine-readable output (see docs/json-output.md)')
    .action(async (file: string, options: { json?: boolean }) => {
      const bytes = await readInputFile(file);
      const { otadata, layout } = inFile(file, () => (bytes.length === OTADATA_SIZE ? { otadata: parseOtadata(bytes), layout: undefined } : otadataOfDump(file, bytes)));
      if (options.json) printJson(otadataJson(otadata, layout));
      else printText(otadataText(otadata, layout));
    });
}

const EXPECTED = `an otadata partition dump (${hex(OTADATA_SIZE)} = ${withThousands(OTADATA_SIZE)} bytes) or a flash dump`;

function otadataOfDump(path: string, bytes: Uint8Array) {
  let file;
  try {
    file = identifyFirmware(bytes);
  } catch (error) {
    if (!(error instanceof FormatError)) throw error;
    throw new UserError(`${path} (${withThousands(bytes.length)} bytes) is not ${EXPECTED}: ${error.problem}`);
  }
  if (file.kind !== 'flash-dump' && file.kind !== 'combined-image') {
    const kind = FIRMWARE_KIND_NAMES[file.kind];
    throw new UserError(`${path} is ${/^[aeiou]/.test(kind) ? 'an' : 'a'} ${kind}, not ${EXPECTED}`);
  }
  if (file.otadataError) throw file.otadataError;
  if (!file.otadata) throw new UserError(`${path}: its partition table has no otadata partition inside the file, so it has no OTA state`);
  return { otadata: file.otadata, layout: appLayoutOf(file.table) };
}
