/**
 * Where `esp32-ota update` gets the firmware: a file, an http(s) URL, or a
 * JSON manifest like the seed's from_json ({"firmware", "sha", "length"}, the
 * firmware relative to the manifest unless it is absolute).
 */
import { dirname, isAbsolute, join } from 'node:path';
import { UserError } from './errors.js';
import { readInputFile, readInputText } from './files.js';

export interface FirmwareSource {
  readonly bytes: Uint8Array;
  /** For messages: the file name or URL. */
  readonly name: string;
  readonly sha?: string;
  readonly length?: number;
}

const isUrl = (text: string) => /^https?:\/\//i.test(text);

export async function loadFirmwareSource(source: string): Promise<FirmwareSource> {
  if (source.toLowerCase().endsWith('.json')) return loadManifest(source);
  return { bytes: await loadBytes(source), name: source };
}

async function loadManifest(source: string): Promise<FirmwareSource> {
  const text = isUrl(source) ? new TextDecoder().decode(await download(source)) : await readInputText(source);
  let manifest: unknown;
  try {
    manifest = JSON.parse(text);
  } catch (error) {
    throw new UserError(`${source} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) {
    throw new UserError(`${source} must be a JSON object with keys "firmware", "sha" and "length", not ${Array.isArray(manifest) ? 'an array' : manifest === null ? 'null' : `a ${typeof manifest}`}`);
  }
  const record = manifest as Record<string, unknown>;
  const missing = ['firmware', 'sha', 'length'].filter((key) => !Object.hasOwn(record, key));
  if (missing.length > 0) {
    throw new UserError(`${source} must be a JSON object with keys "firmware", "sha" and "length" (missing: ${missing.join(', ')})`);
  }
  if (typeof record['firmware'] !== 'string' || typeof record['sha'] !== 'string' || typeof record['length'] !== 'number') {
    throw new UserError(`${source}: "firmware" and "sha" must be strings and "length" a number`);
  }
  const firmware = resolveFirmware(source, record['firmware']);
  return { bytes: await loadBytes(firmware), name: firmware, sha: record['sha'], length: record['length'] };
}

/** The seed's rule: http:, https: and / are absolute; anything else is relative to the manifest. */
function resolveFirmware(manifest: string, firmware: string): string {
  if (isUrl(firmware) || firmware.startsWith('/') || isAbsolute(firmware)) return firmware;
  if (isUrl(manifest)) return manifest.slice(0, manifest.lastIndexOf('/') + 1) + firmware;
  return join(dirname(manifest), firmware);
}

async function loadBytes(source: string): Promise<Uint8Array> {
  return isUrl(source) ? download(source) : readInputFile(source);
}

async function download(url: string): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    // fetch says "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND, …) is its cause.
    const cause = (error as Error).cause as NodeJS.ErrnoException | undefined;
    throw new UserError(`cannot download ${url}: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
  }
  if (response.status !== 200) throw new UserError(`cannot download ${url}: HTTP ${response.status} ${response.statusText}`);
  return new Uint8Array(await response.arrayBuffer());
}
