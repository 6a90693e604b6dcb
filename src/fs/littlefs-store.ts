/**
 * The files of a littlefs image in memory: a bare image file, or the `vfs`
 * partition of a flash dump or combined firmware image (a view into the
 * file's bytes). Changes are made to the bytes in memory; the caller writes
 * them back only when a whole command succeeded, so a refused command
 * changes no file. Browser-safe.
 */
import { LittleFs, LittleFsError, MICROPYTHON_ESP32_LITTLEFS, memoryBlockDevice, type LittleFsStat } from '../format/littlefs/index.js';
import { FileStoreError, joinPath, type FileEntry, type FileStore, type FileStoreUsage } from './file-store.js';

export class LittleFsStore implements FileStore {
  private readonly fs: LittleFs;

  /** Mounts the littlefs in `bytes` (which it changes in place); throws FileStoreError when there is none. */
  constructor(
    readonly description: string,
    bytes: Uint8Array,
    private readonly now: () => Date = () => new Date(),
  ) {
    if (bytes.length === 0 || bytes.length % MICROPYTHON_ESP32_LITTLEFS.blockSize !== 0) {
      throw new FileStoreError(22, description, `no littlefs filesystem: ${bytes.length} bytes is not a whole number of ${MICROPYTHON_ESP32_LITTLEFS.blockSize}-byte blocks`);
    }
    try {
      this.fs = LittleFs.mount(memoryBlockDevice(bytes, MICROPYTHON_ESP32_LITTLEFS.blockSize));
    } catch (error) {
      if (error instanceof LittleFsError) {
        throw new FileStoreError(error.errno, description, `no littlefs filesystem found (${error.message}); esp32-ota fs mkfs makes one`);
      }
      throw error;
    }
  }

  async stat(path: string): Promise<FileEntry | undefined> {
    try {
      return this.entry(path, this.fs.stat(path));
    } catch (error) {
      if (error instanceof LittleFsError && error.errno === 2) return undefined;
      throw this.translate(path, error);
    }
  }

  async list(path: string): Promise<FileEntry[]> {
    return this.guard(path, () =>
      this.fs
        .readdir(path)
        .map((stat) => this.entry(joinPath(path, stat.name), stat))
        .sort((a, b) => (a.path < b.path ? -1 : 1)),
    );
  }

  async walk(path: string): Promise<FileEntry[]> {
    const out: FileEntry[] = [];
    const visit = async (directory: string): Promise<void> => {
      for (const entry of await this.list(directory)) {
        out.push(entry);
        if (entry.type === 'dir') await visit(entry.path);
      }
    };
    await visit(path);
    return out;
  }

  async readFile(path: string): Promise<Uint8Array> {
    return this.guard(path, () => this.fs.readFile(path));
  }

  async writeFile(path: string, data: Uint8Array): Promise<void> {
    this.guard(path, () => this.fs.writeFile(path, data, { mtimeNs: BigInt(this.now().getTime()) * 1_000_000n }));
  }

  async mkdir(path: string): Promise<void> {
    this.guard(path, () => this.fs.mkdir(path));
  }

  async remove(path: string): Promise<void> {
    this.guard(path, () => this.fs.remove(path));
  }

  async rename(from: string, to: string): Promise<void> {
    this.guard(from, () => this.fs.rename(from, to));
  }

  async usage(): Promise<FileStoreUsage> {
    const { blockSize, blockCount, blocksUsed, blocksFree } = this.fs.statvfs();
    return { blockSize, blockCount, blocksUsed, blocksFree };
  }

  private entry(path: string, stat: LittleFsStat): FileEntry {
    return {
      path,
      type: stat.type,
      size: stat.type === 'file' ? stat.size : 0,
      ...(stat.mtimeNs !== undefined ? { mtime: Number(stat.mtimeNs / 1_000_000_000n) } : {}),
    };
  }

  private guard<T>(path: string, operation: () => T): T {
    try {
      return operation();
    } catch (error) {
      throw this.translate(path, error);
    }
  }

  private translate(path: string, error: unknown): unknown {
    return error instanceof LittleFsError ? new FileStoreError(error.errno, path) : error;
  }
}
