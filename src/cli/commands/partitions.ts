import type { Command } from 'commander';
import { encodePartitionTable } from '../../format/partition-table.js';
import { formatPartitionCsv } from '../../format/partition-csv.js';
import { UserError } from '../errors.js';
import { inFile, readInputFile, refuseSameFile, writeOutputFile } from '../files.js';
import { parseTableOffset } from '../option-values.js';
import { printJson, printText } from '../output.js';
import { readPartitionTable } from '../table-input.js';
import { partitionTableJson, partitionTableText } from '../views/partition-view.js';

interface ShowOptions {
  csv?: boolean;
  json?: boolean;
  tableOffset?: number;
}

export function registerPartitionsCommands(program: Command): void {
  const partitions = program
    .command('partitions')
    .description('show or convert an ESP-IDF partition table (CSV, binary table, combined firmware or flash dump)');

  partitions
    .command('show', { isDefault: true })
    .description('show the partition table in FILE (the default: `esp32-ota partitions FILE`)')
    .argument('<file>', 'partitions.csv, partition-table.bin, a combined firmware .bin or a flash dump')
    .option('--csv', 'print as gen_esp32part.py CSV')
    .option('--json', 'machine-readable output (see docs/json-output.md)')
    .option('--table-offset <offset>', 'flash offset of the table, for CSV placement (default 0x8000)', parseTableOffset)
    .action(async (file: string, options: ShowOptions) => {
      if (options.csv && options.json) throw new UserError('choose one of --csv and --json');
      const bytes = await readInputFile(file);
      const { table, format } = inFile(file, () => readPartitionTable(file, bytes, tableOptions(options)));
      if (options.json) printJson(partitionTableJson(table));
      else if (options.csv) printText(formatPartitionCsv(table));
      else printText(`Partition table (${entries(table.partitions.length)}${format === 'binary' && table.hasMd5 ? ', MD5 checked' : ''}):\n${partitionTableText(table)}`);
    });

  partitions
    .command('convert')
    .description('convert CSV to a binary table (as gen_esp32part.py does) or a binary table, combined image or dump to CSV')
    .argument('<in>', 'input: CSV, binary table, combined firmware or flash dump')
    .argument('<out>', 'output file: binary when the input is CSV, CSV otherwise')
    .option('--no-md5', 'CSV to binary: leave out the MD5 entry (gen_esp32part.py --disable-md5sum)')
    .option('--table-offset <offset>', 'flash offset of the table (default 0x8000)', parseTableOffset)
    .action(async (input: string, output: string, options: { md5: boolean; tableOffset?: number }) => {
      await refuseSameFile(input, output);
      const bytes = await readInputFile(input);
      const parsed = inFile(input, () => readPartitionTable(input, bytes, tableOptions(options)));
      if (parsed.format === 'csv') {
        const binary = encodePartitionTable({ ...parsed.table, hasMd5: options.md5 });
        await writeOutputFile(output, binary);
        printText(`Wrote ${output}: binary partition table, ${entries(parsed.table.partitions.length)}${options.md5 ? ' + MD5' : ''}.`);
      } else {
        await writeOutputFile(output, formatPartitionCsv(parsed.table));
        printText(`Wrote ${output}: CSV partition table, ${entries(parsed.table.partitions.length)}.`);
      }
    });
}

function tableOptions(options: { tableOffset?: number }): { tableOffset?: number } {
  return options.tableOffset === undefined ? {} : { tableOffset: options.tableOffset };
}

const entries = (count: number) => `${count} ${count === 1 ? 'entry' : 'entries'}`;
