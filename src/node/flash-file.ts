/** A virtual board's flash kept in a file, so its state survives restarts. */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { createSharedFlash, type FlashTiming, type NorFlash, type SharedFlash } from '../device/nor-flash.js';

/** Loads a flash image file; its size is the chip's size. */
export async function loadFlashFile(path: string, timing?: FlashTiming): Promise<SharedFlash> {
  const contents = await readFile(path);
  const shared = createSharedFlash(contents.length, timing);
  new Uint8Array(shared.memory).set(contents);
  return shared;
}

/** Writes the whole chip to `path` (through a temporary file, so a crash never leaves half a file). */
export async function saveFlashFile(path: string, flash: NorFlash): Promise<void> {
  await writeFileAtomically(path, flash.bytes);
}

/** Replaces `path` with `bytes` through a temporary file, so a crash never leaves half a file. */
export async function writeFileAtomically(path: string, bytes: Uint8Array): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, bytes);
  await rename(temporary, path);
}
