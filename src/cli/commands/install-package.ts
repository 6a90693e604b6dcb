import type { Command } from 'commander';
import { nativeSha256 } from '../../node/native-hash.js';
import { installBoardPackage, PACKAGE_DIRECTORY } from '../../ota/board-package.js';
import { addDeviceOptions, withBoard, type DeviceOptions } from '../device-options.js';
import { UserError } from '../errors.js';
import { readInputText } from '../files.js';
import { printText } from '../output.js';

const KEY_FILE = '/ota.pub';

export function registerInstallPackageCommand(program: Command): void {
  addDeviceOptions(
    program
      .command('install-package')
      .description(`copy the board's ota package (ota.update, ota.rollback, ota.status) to ${PACKAGE_DIRECTORY}, writing only missing or changed files`)
      .option('--check', 'only say whether it is there and current; change nothing')
      .option('--key <file.pub>', `also install this public key as ${KEY_FILE}: the board then accepts only manifests signed with its private key`),
  ).action(async (options: DeviceOptions & { check?: boolean; key?: string }) => {
    let key: string | undefined;
    if (options.key) {
      key = (await readInputText(options.key)).trim();
      if (!/^[0-9a-f]{64}$/i.test(key)) throw new UserError(`${options.key} is not a public key from esp32-ota keygen (64 hex digits)`);
    }
    if (options.check && key) throw new UserError('--check changes nothing: leave out --key');
    const result = await withBoard(options, async (_device, client) => {
      const installed = await installBoardPackage(client, { sha256: nativeSha256, ...(options.check ? { checkOnly: true } : {}), onStep: (line) => process.stderr.write(`${line}\n`) });
      if (key) await client.exec(`f = open(${JSON.stringify(KEY_FILE)}, "w")\nf.write(${JSON.stringify(`${key.toLowerCase()}\n`)})\nf.close()\ndel f`);
      return installed;
    });
    if (options.check) {
      const stale = result.stale.length;
      printText(stale === 0 ? `The ota package ${result.version} in ${PACKAGE_DIRECTORY} is current (${result.current.length} files).` : `The ota package in ${PACKAGE_DIRECTORY} is missing or outdated: ${result.stale.join(', ')} (run without --check to install it).`);
      if (stale > 0) process.exitCode = 1;
      return;
    }
    printText(
      (result.written.length ? `Installed the ota package ${result.version} in ${PACKAGE_DIRECTORY}: wrote ${result.written.join(', ')}.` : `The ota package ${result.version} in ${PACKAGE_DIRECTORY} is current: nothing written.`) +
        (key ? `\nInstalled ${KEY_FILE}: the board now accepts only manifests signed with the matching private key.` : ''),
    );
  });
}
