/**
 * Opens the FileStore a `fs` command works on: a littlefs image file, the
 * filesystem partition of a flash dump or combined image, or a board (-d).
 * File targets are changed in memory and written back (through a temporary
 * file) only when the whole command succeeded: a refused command changes no file.
 */
import { BoardFileStore } from '../fs/board-store.js';
import { FileStoreError, type FileStore } from '../fs/file-store.js';
import { LocationError, describeLocation, locateFilesystem, type FilesystemLocation } from '../fs/filesystem-location.js';
import { LittleFsStore } from '../fs/littlefs-store.js';
import { nativeSha256 } from '../node/native-hash.js';
import { withBoard, type DeviceOptions } from './device-options.js';
import { UserError } from './errors.js';
import { readInputFile, writeOutputFileWhole } from './files.js';

export interface TargetOptions extends DeviceOptions {
  partition?: string;
}

/** `file` is undefined when the command works on the board named by -d. */
export async function withFileStore<T>(file: string | undefined, options: TargetOptions, changes: boolean, work: (store: FileStore) => Promise<T>): Promise<T> {
  if (file === undefined) {
    if (options.partition !== undefined) throw new UserError('-p LABEL applies to flash dumps and combined images; on a board the filesystem is its mounted /');
    return withBoard(options, (_device, client) => work(new BoardFileStore(client, { sha256: nativeSha256 })));
  }
  const bytes = await readInputFile(file);
  const location = locate(bytes, file, options.partition);
  if (location.kind !== 'image' && location.beyondEnd) {
    throw new UserError(
      `${describeLocation(location, file)} lies past the end of the file (${bytes.length} bytes): it holds no filesystem; esp32-ota fs mkfs ${file} adds a fresh one`,
    );
  }
  const store = asUserError(() => new LittleFsStore(describeLocation(location, file), bytes.subarray(location.start, location.start + location.length)));
  const result = await work(store);
  if (changes) await writeOutputFileWhole(file, bytes);
  return result;
}

export function locate(bytes: Uint8Array, file: string, partition: string | undefined): FilesystemLocation {
  return asUserError(() => locateFilesystem(bytes, file, partition));
}

function asUserError<T>(make: () => T): T {
  try {
    return make();
  } catch (error) {
    if (error instanceof LocationError || error instanceof FileStoreError) throw new UserError(error.message);
    throw error;
  }
}
