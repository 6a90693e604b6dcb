/**
 * The board's `ota` package (device/ota/, the build copies it to
 * dist/device/ota/): loading its files as listed in its mip package.json, and
 * installing it into /lib/ota over the raw REPL, writing only the files whose
 * SHA-256 on the board differs.
 */
import { toBase64, toHex } from '../format/bytes.js';
import { sha256 as portableSha256, type Sha256 } from '../format/hash.js';
import type { ReplClient } from '../repl/index.js';
import { OtaError } from './engine.js';

export const PACKAGE_DIRECTORY = '/lib/ota';

export interface BoardPackageFile {
  /** The file's name inside the package, e.g. 'update.py'. */
  readonly name: string;
  readonly bytes: Uint8Array;
}

export interface BoardPackage {
  readonly version: string;
  readonly files: readonly BoardPackageFile[];
}

interface MipPackageJson {
  readonly urls: readonly (readonly [string, string])[];
  readonly version: string;
}

let cached: Promise<BoardPackage> | undefined;

/** device/ota as shipped (read once). Node reads it from disk; a browser fetches it. */
export function loadBoardPackage(): Promise<BoardPackage> {
  cached ??= (async () => {
    const base = new URL('../../device/ota/', import.meta.url);
    const load = async (name: string): Promise<Uint8Array> => {
      const url = new URL(name, base);
      if (url.protocol === 'file:') {
        const { readFile } = await import('node:fs/promises');
        return new Uint8Array(await readFile(url));
      }
      const response = await fetch(url);
      if (!response.ok) throw new Error(`cannot load the board package file ${url.href}: HTTP ${response.status}`);
      return new Uint8Array(await response.arrayBuffer());
    };
    const manifest = JSON.parse(new TextDecoder().decode(await load('package.json'))) as MipPackageJson;
    const files = await Promise.all(manifest.urls.map(async ([, source]) => ({ name: source, bytes: await load(source) })));
    return { version: manifest.version, files };
  })();
  cached.catch(() => (cached = undefined));
  return cached;
}

export interface InstallResult {
  readonly version: string;
  /** Files written because they were missing or different. */
  readonly written: readonly string[];
  /** Files already there and current. */
  readonly current: readonly string[];
  /** Files missing or different (before writing them). */
  readonly stale: readonly string[];
  readonly files: readonly string[];
}

/** The SHA-256 of each package file on the board (null when missing). */
async function boardHashes(client: ReplClient, names: readonly string[]): Promise<Record<string, string | null>> {
  const program = [
    'def _esp32_ota_hashes(names):',
    ' import binascii, hashlib, json',
    ' out = {}',
    ' buf = bytearray(1024)',
    ' for name in names:',
    '  try:',
    `   f = open(${JSON.stringify(PACKAGE_DIRECTORY)} + "/" + name, "rb")`,
    '  except OSError:',
    '   out[name] = None',
    '   continue',
    '  h = hashlib.sha256()',
    '  while True:',
    '   n = f.readinto(buf)',
    '   if not n:',
    '    break',
    '   h.update(memoryview(buf)[:n])',
    '  f.close()',
    '  out[name] = binascii.hexlify(h.digest()).decode()',
    ' print(json.dumps(out))',
    `_esp32_ota_hashes(${JSON.stringify(names)})`,
    'del _esp32_ota_hashes',
  ].join('\n');
  const output = new TextDecoder().decode(await client.exec(program));
  return JSON.parse(output.trim().split(/\r?\n/).pop() ?? '{}') as Record<string, string | null>;
}

/** Checks /lib/ota on the board against the package and writes what is missing or different. */
export async function installBoardPackage(
  client: ReplClient,
  options: { readonly checkOnly?: boolean; readonly sha256?: Sha256; readonly onStep?: (message: string) => void } = {},
): Promise<InstallResult> {
  const hash = options.sha256 ?? portableSha256;
  const pkg = await loadBoardPackage();
  const onBoard = await boardHashes(
    client,
    pkg.files.map((file) => file.name),
  );
  const stale = pkg.files.filter((file) => onBoard[file.name] !== toHex(hash(file.bytes)));
  const current = pkg.files.filter((file) => !stale.includes(file)).map((file) => file.name);
  const summary = { version: pkg.version, current, stale: stale.map((file) => file.name), files: pkg.files.map((file) => file.name) };
  if (options.checkOnly || stale.length === 0) return { ...summary, written: [] };
  await client.exec(
    ['import os', 'for _d in ("/lib", ' + JSON.stringify(PACKAGE_DIRECTORY) + '):', ' try:', '  os.mkdir(_d)', ' except OSError:', '  pass', 'del _d, os'].join('\n'),
  );
  for (const file of stale) {
    options.onStep?.(`Writing ${PACKAGE_DIRECTORY}/${file.name} (${file.bytes.length.toLocaleString('en')} bytes)`);
    const lines = [`import binascii`, `_f = open(${JSON.stringify(`${PACKAGE_DIRECTORY}/${file.name}`)}, "wb")`];
    for (let offset = 0; offset < file.bytes.length; offset += 3072) {
      lines.push(`_f.write(binascii.a2b_base64(b"${toBase64(file.bytes.subarray(offset, offset + 3072))}"))`);
    }
    lines.push('_f.close()', 'del _f');
    await client.exec(lines.join('\n'));
  }
  const after = await boardHashes(
    client,
    stale.map((file) => file.name),
  );
  const wrong = stale.filter((file) => after[file.name] !== toHex(hash(file.bytes)));
  if (wrong.length > 0) throw new OtaError(`${wrong.map((file) => file.name).join(', ')} read back differently from what was written to ${PACKAGE_DIRECTORY}`);
  return { ...summary, written: stale.map((file) => file.name) };
}
