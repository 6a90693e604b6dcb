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
