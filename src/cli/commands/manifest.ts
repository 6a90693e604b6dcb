import { basename, dirname, join } from 'node:path';
import type { Command } from 'commander';
import { humanSize, withThousands } from '../../format/units.js';
import { nativeSha256 } from '../../node/native-hash.js';
import { generateSigningKey, readSigningKey, signText, SigningKeyError, writeKeyPair } from '../../node/signing-keys.js';
import { blockDeflateFile, describeImage, signedText, type OtaManifest } from '../../ota/manifest.js';
import { MAX_WINDOW_BITS, MIN_WINDOW_BITS } from '../../ota/compression.js';
import { prepareImage } from '../../ota/preflight.js';
import { UserError } from '../errors.js';
import { readInputFile, writeOutputFile } from '../files.js';
import { printText } from '../output.js';

interface ManifestOptions {
  output?: string;
  url?: string;
  compress?: boolean;
  wbits: string;
  sign?: string;
  extract?: boolean;
}

export function registerManifestCommands(program: Command): void {
  program
    .command('manifest')
    .description("write the JSON manifest a board updates from (ota.update.from_json, esp32-ota update --pull): the seed's keys and version, chip, project, idf")
    .argument('<firmware>', 'the app image (.app-bin / micropython.bin); a combined .bin with --extract')
    .option('-o, --output <file>', 'the manifest to write (default: FIRMWARE with .json)')
    .option('--url <url>', 'the firmware\'s URL as the board should fetch it (default: its file name, relative to the manifest)')
    .option('--compress', 'also write FIRMWARE.deflate (block-deflate, decompressed by the board as it writes) and name it in the manifest')
    .option('--wbits <n>', `deflate window of the compressed file, ${MIN_WINDOW_BITS}-${MAX_WINDOW_BITS} (the board needs 2^n bytes)`, String(MAX_WINDOW_BITS))
    .option('--sign <key>', 'sign the manifest with this Ed25519 private key (from esp32-ota keygen)')
    .option('--extract', 'take the app out of a combined firmware .bin and write it next to the manifest')
    .action(async (firmware: string, options: ManifestOptions) => {
      const wbits = Number(options.wbits);
      if (!Number.isInteger(wbits) || wbits < MIN_WINDOW_BITS || wbits > MAX_WINDOW_BITS) throw new UserError(`--wbits must be ${MIN_WINDOW_BITS} to ${MAX_WINDOW_BITS}, got '${options.wbits}'`);
      const key = options.sign ? await readSigningKey(options.sign).catch(signingError) : undefined;
      const prepared = prepareImage(await readInputFile(firmware), { name: firmware, sha256: nativeSha256, ...(options.extract ? { extract: true } : {}) });
      const output = options.output ?? firmware.replace(/\.(bin|app-bin)$/i, '') + '.json';
      const folder = dirname(output);
      // An extracted app needs a file of its own for the board to fetch.
      const appName = prepared.extractedFrom ? basename(firmware).replace(/\.bin$/i, '') + '.app-bin' : basename(firmware);
      let manifest: OtaManifest = describeImage(prepared, options.url ?? appName, nativeSha256);
      const files: [string, Uint8Array][] = [];
      if (prepared.extractedFrom) files.push([join(folder, appName), prepared.bytes]);
      if (options.compress) {
        const compressed = blockDeflateFile(prepared.bytes, wbits);
        const name = `${appName}.deflate`;
        manifest = {
          ...manifest,
          compression: { method: 'deflate', wbits, firmware: options.url ? `${options.url}.deflate` : name, sha: nativeSha256Hex(compressed), length: compressed.length },
        };
        files.push([join(folder, name), compressed]);
      }
      let signer: string | undefined;
      if (key) {
        const { signature, publicKey } = signText(key, signedText(manifest));
        manifest = { ...manifest, signature };
        signer = publicKey;
      }
      for (const [path, bytes] of files) await writeOutputFile(path, bytes);
      await writeOutputFile(output, `${JSON.stringify(manifest, null, 2)}\n`);
      printText(manifestSummary(output, manifest, files, signer, prepared.extractedFrom));
    });

  program
    .command('keygen')
    .description('make an Ed25519 key pair for signed manifests: NAME.key (private, keep it secret) and NAME.pub (for the boards)')
    .option('-o, --output <name>', 'file name without extension', 'ota-signing')
    .action(async (options: { output: string }) => {
      const pair = generateSigningKey();
      const privatePath = `${options.output}.key`;
      const publicPath = `${options.output}.pub`;
      await writeKeyPair(privatePath, publicPath, pair).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'EEXIST') throw new UserError(`${error.path ?? privatePath} exists already: keygen never overwrites a key (choose another -o NAME)`);
        if (error.code === 'ENOENT') throw new UserError(`${dirname(privatePath)}: no such folder`);
        throw error;
      });
      printText(
        [
          `Wrote ${privatePath} (private key, mode 0600: keep it off the boards and out of version control)`,
          `Wrote ${publicPath}  (public key ${pair.publicKeyHex})`,
          `Sign manifests:  esp32-ota manifest micropython.bin --sign ${privatePath}`,
          `Install on a board (then it accepts only manifests signed with this key):  esp32-ota install-package -d DEVICE --key ${publicPath}`,
        ].join('\n'),
      );
    });
}

function signingError(error: unknown): never {
  if (error instanceof SigningKeyError) throw new UserError(error.message);
  throw error;
}

function nativeSha256Hex(bytes: Uint8Array): string {
  return Buffer.from(nativeSha256(bytes)).toString('hex');
}

function manifestSummary(output: string, manifest: OtaManifest, files: [string, Uint8Array][], signer: string | undefined, extractedFrom: string | undefined): string {
  const rows: [string, string][] = [
    ['Firmware:', `${manifest.firmware} (${withThousands(manifest.length)} bytes, ${humanSize(manifest.length)})`],
    ['SHA-256:', manifest.sha],
    ['Version:', manifest.version ?? '(none in the image)'],
    ['Chip:', manifest.chip ?? '-'],
    ['Project:', manifest.project ?? '-'],
    ['ESP-IDF:', manifest.idf ?? '-'],
  ];
  const c = manifest.compression;
  if (c) rows.push(['Compressed:', `${c.firmware} (${withThousands(c.length)} bytes, ${((c.length / manifest.length) * 100).toFixed(1)}% of the image, window 2^${c.wbits})`]);
  rows.push(['Signed:', signer ? `Ed25519, public key ${signer}` : 'no']);
  const lines = [`Wrote ${output}${extractedFrom ? ` (app from ${extractedFrom})` : ''}`];
  for (const [path] of files) lines.push(`Wrote ${path}`);
  lines.push(...rows.map(([name, value]) => `  ${name.padEnd(12)} ${value}`));
  return lines.join('\n');
}
