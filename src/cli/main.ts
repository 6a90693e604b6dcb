#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { isExpectedError } from './errors.js';
import { registerImageCommands } from './commands/image.js';
import { registerPartitionsCommands } from './commands/partitions.js';
import { registerOtadataCommand } from './commands/otadata.js';
import { registerSimCommand } from './commands/sim.js';
import { registerStatusCommand } from './commands/status.js';
import { registerControlCommands } from './commands/control.js';
import { registerUpdateCommand } from './commands/update.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerFsCommand } from './commands/fs.js';

export function buildProgram(): Command {
  const program = new Command('esp32-ota')
    .description('Over-the-air firmware updates for MicroPython on ESP32, and the tools around them')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerImageCommands(program);
  registerPartitionsCommands(program);
  registerOtadataCommand(program);
  registerSimCommand(program);
  registerStatusCommand(program);
  registerControlCommands(program);
  registerUpdateCommand(program);
  registerDemoCommand(program);
  registerFsCommand(program);
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    // An action may have set a non-zero code while still printing its report (e.g. an invalid image).
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    if (isExpectedError(error)) {
      process.stderr.write(`esp32-ota: error: ${error.message}\n`);
      return 1;
    }
    const detail = error instanceof Error ? error.message : String(error);
    process.stderr.write(`esp32-ota: internal error: ${detail}\n(this is a bug in esp32-ota; set ESP32_OTA_DEBUG=1 for a stack trace)\n`);
    if (process.env['ESP32_OTA_DEBUG'] && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    return 70;
  }
}

process.exitCode = await main(process.argv.slice(2));
