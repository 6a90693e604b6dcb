/** Sizes on the command line: 0x1c0000, 1835008, 1792K, 4M (also KB/KiB, MB/MiB). */
import { FLASH_SIZE_NAMES } from '../format/app-image.js';
import { UserError } from './errors.js';
import { parseWholeNumber, type Multipliers } from './option-values.js';

const UNITS: Multipliers = { '': 1, k: 1024, kb: 1024, kib: 1024, m: 0x100000, mb: 0x100000, mib: 0x100000 };

export function parseByteSize(text: string): number {
  const value = parseWholeNumber(text, UNITS);
  if (!(value > 0)) {
    throw new UserError(`not a size: '${text}' (use hex like 0x1c0000, bytes, or K/M like 1792K, 4M)`);
  }
  return value;
}

const FLASH_SIZES = FLASH_SIZE_NAMES.map((_, code) => 0x100000 << code);

/** A flash chip size as the image header can state it: 1M, 2M, 4M … 128M. */
export function parseFlashSize(text: string): number {
  const size = parseByteSize(text);
  if (!FLASH_SIZES.includes(size)) throw new UserError(`not a flash size: '${text}' (one of ${FLASH_SIZE_NAMES.map((name) => name.replace('B', '')).join(', ')})`);
  return size;
}

/** `NAME=SIZE[,NAME=SIZE…]` (repeatable options are joined first). */
export function parseSizeAssignments(items: readonly string[], option: string): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const item of items.flatMap((text) => text.split(','))) {
    const at = item.lastIndexOf('=');
    if (at <= 0) throw new UserError(`${option} '${item}': expected NAME=SIZE, e.g. vfs=0x200000`);
    sizes.set(item.slice(0, at).trim(), parseByteSize(item.slice(at + 1)));
  }
  return sizes;
}
