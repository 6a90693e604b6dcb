/** Reading and writing the user's files, with errors that say what to do. */
import { readFile, realpath, writeFile } from 'node:fs/promises';
import { writeFileAtomically } from '../node/flash-file.js';
import { resolve } from 'node:path';
import { FormatError } from '../format/errors.js';
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
  try {
    await writeFileAtomically(path, data);
  } catch (error) {
    throw asUserError(error, path, 'write');
  }
}

/** Refuses to write OUT over IN: the input would be lost (also through a link or a different spelling of the path). */
export async function refuseSameFile(input: string, output: string): Promise<void> {
  const real = (path: string) => realpath(path).catch(() => resolve(path));
  if ((await real(input)) === (await real(output))) {
    throw new UserError(`${output} is the input file: writing it would destroy ${input}; give another output file`);
  }
}

/** Runs a parser on a file's bytes; its FormatError names the file (a command may read several). */
export function inFile<T>(path: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof FormatError) throw new FormatError(`${path}: ${error.problem}`, error.offset);
    throw error;
  }
}

/** A PEM file (certificate, key, CA) for a TLS option. */
export async function readPemFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch {
    throw new UserError(`${path}: cannot read it (a PEM file is needed)`);
  }
}
