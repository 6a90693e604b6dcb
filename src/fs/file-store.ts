/**
 * One interface for the files of a MicroPython board's `/`, wherever they
 * are: a littlefs image file, the `vfs` partition of a flash dump or combined
 * firmware image, or a live board over its REPL. `esp32-ota fs` runs the same
 * commands on each. Paths are absolute ('/lib/a.py'). Browser-safe.
 */

export interface FileEntry {
  /** Absolute path, e.g. '/lib/a.py'. */
  readonly path: string;
  readonly type: 'file' | 'dir';
  /** Bytes (0 for directories). */
  readonly size: number;
  /** Modification time, seconds since 1970, when the filesystem keeps one. */
  readonly mtime?: number;
}

export interface FileStoreUsage {
  readonly blockSize: number;
  readonly blockCount: number;
  readonly blocksUsed: number;
  readonly blocksFree: number;
}

/** How much of a file has been moved so far (board transfers report it). */
export type FileProgress = (doneBytes: number, totalBytes: number) => void;

export interface FileStore {
  /** Where the files are, for messages ('vfs.bin', "partition 'vfs' of dump.bin", 'tcp:host:2323'). */
  readonly description: string;
  /** undefined when there is nothing at `path`. */
  stat(path: string): Promise<FileEntry | undefined>;
  /** The entries of a directory, sorted by name. */
  list(path: string): Promise<FileEntry[]>;
  /** Everything below `path` (not `path` itself), parents before children, sorted by path. */
  walk(path: string): Promise<FileEntry[]>;
  readFile(path: string, onProgress?: FileProgress): Promise<Uint8Array>;
  /** Creates or replaces a file; its directory must exist. */
  writeFile(path: string, data: Uint8Array, onProgress?: FileProgress): Promise<void>;
  mkdir(path: string): Promise<void>;
  /** A file or an empty directory. */
  remove(path: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  usage(): Promise<FileStoreUsage>;
}

/** errno values as MicroPython raises them on an ESP32. */
export const Errno = { ENOENT: 2, EIO: 5, EEXIST: 17, ENOTDIR: 20, EISDIR: 21, EINVAL: 22, EFBIG: 27, ENOSPC: 28, ENAMETOOLONG: 36, ENOTEMPTY: 39 } as const;

const ERRNO_TEXT: Record<number, string> = {
  [Errno.ENOENT]: 'no such file or directory',
  [Errno.EIO]: 'input/output error',
  [Errno.EEXIST]: 'already exists',
  [Errno.ENOTDIR]: 'not a directory',
  [Errno.EISDIR]: 'is a directory',
  [Errno.EINVAL]: 'invalid argument',
  [Errno.EFBIG]: 'file too large',
  [Errno.ENOSPC]: 'no space left on the filesystem',
  [Errno.ENAMETOOLONG]: 'name too long',
  [Errno.ENOTEMPTY]: 'directory not empty',
  // littlefs's own code for a directory that is not empty, as MicroPython passes it on
  90: 'directory not empty',
};

/** A filesystem refused an operation: errno as MicroPython numbers it, and the path. */
export class FileStoreError extends Error {
  constructor(
    readonly errno: number,
    readonly path: string,
    detail?: string,
  ) {
    super(`${path}: ${detail ?? ERRNO_TEXT[errno] ?? `error ${errno}`}`);
    this.name = 'FileStoreError';
  }
}

/** '/a//b/./c/' → '/a/b/c'; '..' is refused (the stores have no notion of a working directory). */
export function normalisePath(path: string): string {
  const parts = path.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) throw new FileStoreError(Errno.EINVAL, path, "'..' is not supported in paths: give the path from /");
  return '/' + parts.join('/');
}

export function parentOf(path: string): string {
  const at = path.lastIndexOf('/');
  return at <= 0 ? '/' : path.slice(0, at);
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

export function joinPath(directory: string, name: string): string {
  return directory === '/' ? `/${name}` : `${directory}/${name}`;
}
