/**
 * Carrying the files of a filesystem partition into one of another size.
 */
import { FormatError } from './errors.js';

export interface CarriedFiles {
  readonly image: Uint8Array;
  readonly fileCount: number;
  readonly fileBytes: number;
  readonly summary: string;
}

/** The files of `old` in a new filesystem image of `newSize` bytes; FormatError when they cannot be carried. */
export function carryFilesystem(old: Uint8Array, newSize: number, what: string): CarriedFiles {
  void old;
  void newSize;
  throw new FormatError(`${what} holds a filesystem whose files cannot be carried into its new size yet; pass --erase-fs to start it empty`);
}
