/** The esp32-ota command line as a function: main(argv) runs one command and returns its exit code. */
import { Command, CommanderError } from 'commander';
import { InterruptedError, isExpectedError } from './errors.js';
import { stderr, stdout, withStreams, type CliStreams } from './output.js';
import { registerImageCommands } from './commands/image.js';
import { registerPartitionsCommands } from './commands/partitions.js';
import { registerOtadataCommand } from './commands/otadata.js';
import { registerSimCommand } from './commands/sim.js';
import { registerStatusCommand } from './commands/status.js';
import { registerControlCommands } from './commands/control.js';
import { registerUpdateCommand } from './commands/update.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerManifestCommands } from './commands/manifest.js';
import { registerServeCommand } from './commands/serve.js';
import { registerInstallPackageCommand } from './commands/install-package.js';
import { registerWebCommand } from './commands/web.js';
import { registerFsCommand } from './commands/fs.js';
import { registerFleetCommands } from './commands/fleet.js';

export function buildProgram(): Command {
  const program = new Command('esp32-ota')
    .description('Over-the-air firmware updates for MicroPython on ESP32, and the tools around them')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: (text) => void stdout().write(text), writeErr: (text) => void stderr().write(text) });
  registerImageCommands(program);
  registerPartitionsCommands(program);
  registerOtadataCommand(program);
  registerSimCommand(program);
  registerStatusCommand(program);
  registerControlCommands(program);
  registerUpdateCommand(program);
  registerDemoCommand(program);
  registerManifestCommands(program);
  registerServeCommand(program);
  registerInstallPackageCommand(program);
  registerWebCommand(program);
  registerFsCommand(program);
  registerFleetCommands(program);
  return program;
}

/** Exit codes: 0 done, 1 bad input or a board problem, 2 an image ESP-IDF would refuse, 130 interrupted, 70 a bug. */
export async function main(argv: readonly string[], streams?: CliStreams): Promise<number> {
  return streams ? withStreams(streams, () => run(argv)) : run(argv);
}

async function run(argv: readonly string[]): Promise<number> {
  const outer = process.exitCode;
  process.exitCode = undefined;
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    // An action may have set a non-zero code while still printing its report (e.g. an invalid image).
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    if (isExpectedError(error)) {
      stderr().write(`esp32-ota: error: ${error.message}\n`);
      return error instanceof InterruptedError ? 130 : 1;
    }
    const detail = error instanceof Error ? error.message : String(error);
    stderr().write(`esp32-ota: internal error: ${detail}\n(this is a bug in esp32-ota; set ESP32_OTA_DEBUG=1 for a stack trace)\n`);
    if (process.env['ESP32_OTA_DEBUG'] && error instanceof Error) stderr().write(`${error.stack}\n`);
    return 70;
  } finally {
    process.exitCode = outer;
  }
}
