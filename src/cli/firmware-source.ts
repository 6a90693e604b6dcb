/**
 * Where `esp32-ota update` gets the firmware: a file, an http(s) URL, or a
 * JSON manifest like the seed's from_json ({"firmware", "sha", "length"}, the
 * firmware relative to the manifest unless it is absolute).
 */
import { dirname, isAbsolute, join } from 'node:path';
import { readInputFile, readInputText } from './files.js';
import { isHttpUrl, parseManifest, resolveFirmwareUrl } from '../ota/manifest.js';
import { downloadBytes } from '../node/http-fetch.js';

export interface FirmwareSource {
  readonly bytes: Uint8Array;
  /** For messages: the file name or URL. */
  readonly name: string;
  readonly sha?: string;
  readonly length?: number;
}

export async function loadFirmwareSource(source: string): Promise<FirmwareSource> {
  if (source.toLowerCase().endsWith('.json')) return loadManifest(source);
  return { bytes: await loadBytes(source), name: source };
}

async function loadManifest(source: string): Promise<FirmwareSource> {
  const text = isHttpUrl(source) ? new TextDecoder().decode(await downloadBytes(source)) : await readInputText(source);
  const manifest = parseManifest(text, source);
  const firmware = isHttpUrl(source) ? resolveFirmwareUrl(source, manifest.firmware) : resolveLocalFirmware(source, manifest.firmware);
  return { bytes: await loadBytes(firmware), name: firmware, sha: manifest.sha, length: manifest.length };
}

/** Next to a manifest on disk: http(s) URLs and absolute paths as they are, anything else relative to its folder. */
function resolveLocalFirmware(manifest: string, firmware: string): string {
  return isHttpUrl(firmware) || isAbsolute(firmware) ? firmware : join(dirname(manifest), firmware);
}

async function loadBytes(source: string): Promise<Uint8Array> {
  return isHttpUrl(source) ? downloadBytes(source) : readInputFile(source);
}
