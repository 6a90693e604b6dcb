/** Reading and writing the user's files, with errors that say what to do. */
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { UserError } from './errors.js';

const MAX_INPUT_BYTES = 256 * 1024 * 1024;

export async function readInputFile(path: string): Promise<Uint8Array> {
  try {
    const bytes = await readFile(path);
    if (bytes.length > MAX_INPUT_BYTES) throw new UserError(`${path}: ${bytes.length} bytes is larger than any ESP32 flash (256 MiB at most)`);
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  } catch (error) {
    throw asUserError(error, path, 'read');
  }
}

export async function readInputText(path: string): Promise<string> {
  return new TextDecoder().decode(await readInputFile(path));
}

export async function writeOutputFile(path: string, data: Uint8Array | string): Promise<void> {
  try {
    await writeFile(path, data);
  } catch (error) {
    throw asUserError(error, path, 'write');
  }
}

function asUserError(error: unknown, path: string, verb: 'read' | 'write'): unknown {
  if (error instanceof UserError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new UserError(`${path}: no such file${verb === 'write' ? ' or folder' : ''}`);
  if (code === 'EISDIR') return new UserError(`${path}: is a folder, expected a file`);
  if (code === 'EACCES' || code === 'EPERM') return new UserError(`${path}: permission denied (cannot ${verb} it)`);
  return error;
}

/** Writes `data` through a temporary file and a rename, so `path` is either untouched or complete. */
export async function writeOutputFileWhole(path: string, data: Uint8Array): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(temporary, data);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw asUserError(error, path, 'write');
  }
}
