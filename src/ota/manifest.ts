/**
 * The device-pull manifest: the seed's JSON (`firmware`, `sha`, `length`), read
 * by every version of the board package, plus what our package checks before
 * writing: `version`, `chip`, `project`, `idf`, a block-deflate `compression`
 * and an Ed25519 `signature`. The signed text is built the same way here and
 * in device/ota/update.py (`signed_text`).
 */
import { toHex } from '../format/bytes.js';
import { chipName } from '../format/chips.js';
import type { Sha256 } from '../format/hash.js';
import { FLASH_BLOCK_SIZE, MAX_WINDOW_BITS, deflateBlocks } from './compression.js';
import type { PreparedImage } from './preflight.js';

export interface ManifestCompression {
  readonly method: 'deflate';
  /** log2 of the window the decoder needs (it allocates 2^wbits bytes). */
  readonly wbits: number;
  readonly firmware: string;
  readonly sha: string;
  readonly length: number;
}

export interface OtaManifest {
  readonly firmware: string;
  readonly sha: string;
  readonly length: number;
  readonly version?: string;
  readonly chip?: string;
  readonly project?: string;
  readonly idf?: string;
  readonly compression?: ManifestCompression;
  /** Hex of the Ed25519 signature of signedText(manifest). */
  readonly signature?: string;
}

/** The manifest for an app image, without compression or signature. */
export function describeImage(prepared: PreparedImage, firmware: string, sha256: Sha256): OtaManifest {
  const description = prepared.image.description;
  return {
    firmware,
    sha: toHex(sha256(prepared.bytes)),
    length: prepared.bytes.length,
    ...(prepared.version ? { version: prepared.version } : {}),
    chip: chipName(prepared.image.header.chipId),
    ...(description?.projectName ? { project: description.projectName } : {}),
    ...(description?.idfVersion ? { idf: description.idfVersion } : {}),
  };
}

/**
 * The block-deflate file: for each 4 KiB block of the image, a u16 (little
 * endian) length and the piece of one raw deflate stream that produces that
 * block (BlockDeflater's pieces, so the board decompresses block by block
 * with deflate.DeflateIO fed from a fixed buffer, as the host transfer does).
 */
export function blockDeflateFile(image: Uint8Array, windowBits = MAX_WINDOW_BITS): Uint8Array {
  const pieces = deflateBlocks(image, { windowBits, blockSize: FLASH_BLOCK_SIZE });
  const out = new Uint8Array(pieces.reduce((sum, piece) => sum + 2 + piece.length, 0));
  let offset = 0;
  for (const piece of pieces) {
    out[offset] = piece.length & 0xff;
    out[offset + 1] = piece.length >> 8;
    out.set(piece, offset + 2);
    offset += 2 + piece.length;
  }
  return out;
}

/** What a signature covers: the image and what it is for, not where it is hosted. */
export function signedText(manifest: OtaManifest): string {
  const c = manifest.compression;
  const lines = [
    'esp32-ota manifest 1',
    `sha ${manifest.sha.toLowerCase()}`,
    `length ${manifest.length}`,
    ...(['version', 'chip', 'project', 'idf'] as const).map((key) => `${key} ${manifest[key] ?? ''}`),
    `compression ${c ? `${c.method} ${c.wbits} ${c.sha.toLowerCase()} ${c.length}` : 'none'}`,
  ];
  return `${lines.join('\n')}\n`;
}

/** A manifest that cannot be used: the message names the source and what is wrong. */
export class ManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ManifestError';
  }
}

const HEX64 = /^[0-9a-fA-F]{64}$/;

/** Reads and checks a manifest's text as the board's check_manifest does, and more strictly (every field's type). */
export function parseManifest(text: string, source: string): OtaManifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ManifestError(`${source} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ManifestError(`${source} must be a JSON object with keys "firmware", "sha" and "length", not ${Array.isArray(value) ? 'an array' : value === null ? 'null' : `a ${typeof value}`}`);
  }
  const record = value as Record<string, unknown>;
  const missing = ['firmware', 'sha', 'length'].filter((key) => !Object.hasOwn(record, key));
  if (missing.length > 0) throw new ManifestError(`${source} must be a JSON object with keys "firmware", "sha" and "length" (missing: ${missing.join(', ')})`);
  const problems = [...fileProblems(record, ''), ...['version', 'chip', 'project', 'idf'].filter((key) => record[key] !== undefined && typeof record[key] !== 'string').map((key) => `"${key}" must be a string`)];
  const compression = record['compression'];
  if (compression !== undefined) {
    if (typeof compression !== 'object' || compression === null || Array.isArray(compression)) problems.push('"compression" must be an object');
    else {
      const c = compression as Record<string, unknown>;
      if (c['method'] !== 'deflate') problems.push('"compression.method" must be "deflate"');
      if (!Number.isInteger(c['wbits']) || (c['wbits'] as number) < 8 || (c['wbits'] as number) > MAX_WINDOW_BITS) problems.push(`"compression.wbits" must be a whole number from 8 to ${MAX_WINDOW_BITS}`);
      problems.push(...fileProblems(c, 'compression.'));
    }
  }
  const signature = record['signature'];
  if (signature !== undefined && (typeof signature !== 'string' || !/^[0-9a-fA-F]{128}$/.test(signature))) problems.push('"signature" must be 128 hex digits (an Ed25519 signature)');
  if (problems.length > 0) throw new ManifestError(`${source}: ${problems.join('; ')}`);
  return record as unknown as OtaManifest;
}

function fileProblems(record: Record<string, unknown>, prefix: string): string[] {
  const problems: string[] = [];
  if (typeof record['firmware'] !== 'string' || record['firmware'] === '') problems.push(`"${prefix}firmware" must be a file name or URL`);
  if (typeof record['sha'] !== 'string' || !HEX64.test(record['sha'])) problems.push(`"${prefix}sha" must be 64 hex digits (a SHA-256)`);
  if (!Number.isSafeInteger(record['length']) || (record['length'] as number) <= 0) problems.push(`"${prefix}length" must be a positive whole number of bytes`);
  return problems;
}

/** An http:// or https:// URL (what a board can download), as opposed to a file name or path. */
export function isHttpUrl(text: string): boolean {
  return /^https?:\/\//i.test(text);
}

/** The seed's rule, as the board applies it: http(s) URLs and / paths are absolute; anything else is relative to the manifest's folder. */
export function resolveFirmwareUrl(manifestUrl: string, firmware: string): string {
  if (isHttpUrl(firmware) || firmware.startsWith('/')) return firmware;
  return manifestUrl.slice(0, manifestUrl.lastIndexOf('/') + 1) + firmware;
}
