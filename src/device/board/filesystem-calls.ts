/**
 * The calls behind python/_flashfs.py: the board's littlefs, mounted in the
 * interpreter's worker on the flash model, with open files as numbered
 * handles. Each returns its result or a negative errno (the Python side
 * raises OSError); buffers cross by address in the interpreter's heap.
 */
import { LittleFsError, type LittleFs, type LittleFsFile } from '../../format/littlefs/index.js';

const EBADF = 9;
const EINVAL = 22;


export class FilesystemCalls {
  private readonly files = new Map<number, LittleFsFile>();
  private nextHandle = 1;

  constructor(
    private fs: LittleFs,
    private readonly heap: (pointer: number, length: number) => Uint8Array,
  ) {}

  /** The host changed the partition: mount it again; files open before are closed (their handles fail with EBADF). */
  remount(fs: LittleFs): void {
    this.files.clear();
    this.fs = fs;
  }

  calls() {
    return {
      lfs_open: (path: string, mode: string) =>
        this.run(() => {
          const flags = mode.replace(/[bt]/g, '') || 'r';
          const file = this.fs.open(path, flags);
          const handle = this.nextHandle++;
          this.files.set(handle, file);
          return handle;
        }),
      lfs_read: (handle: number, pointer: number, length: number) => this.withFile(handle, (file) => file.read(this.heap(pointer, length))),
      lfs_write: (handle: number, pointer: number, length: number) => this.withFile(handle, (file) => file.write(this.heap(pointer, length).slice())),
      lfs_seek: (handle: number, offset: number, whence: number) =>
        whence === 0 || whence === 1 || whence === 2 ? this.withFile(handle, (file) => file.seek(offset, whence)) : -EINVAL,
      lfs_tell: (handle: number) => this.withFile(handle, (file) => file.tell()),
      lfs_size: (handle: number) => this.withFile(handle, (file) => file.size()),
      lfs_truncate: (handle: number, size: number) =>
        this.withFile(handle, (file) => {
          file.truncate(size);
          return size;
        }),
      lfs_sync: (handle: number) =>
        this.withFile(handle, (file) => {
          file.sync();
          return 0;
        }),
      lfs_close: (handle: number) =>
        this.withFile(handle, (file) => {
          this.files.delete(handle);
          file.close();
          return 0;
        }),
      lfs_stat: (path: string) =>
        this.run(() => {
          const stat = this.fs.stat(path);
          return `${stat.type === 'dir' ? 'd' : 'f'} ${stat.type === 'dir' ? 0 : stat.size} ${stat.mtimeNs === undefined ? 0 : stat.mtimeNs / 1_000_000_000n}`;
        }),
      lfs_listdir: (path: string) =>
        this.run(() =>
          this.fs
            .readdir(path)
            .map((entry) => `${entry.type === 'dir' ? 'd' : 'f'} ${entry.type === 'dir' ? 0 : entry.size} ${entry.name}\n`)
            .join(''),
        ),
      lfs_mkdir: (path: string) => this.run(() => (this.fs.mkdir(path), 0)),
      lfs_remove: (path: string) => this.run(() => (this.fs.remove(path), 0)),
      lfs_rename: (from: string, to: string) => this.run(() => (this.fs.rename(from, to), 0)),
      lfs_statvfs: () =>
        this.run(() => {
          const usage = this.fs.statvfs();
          return `${usage.blockSize} ${usage.blockCount} ${usage.blocksFree}`;
        }),
    };
  }

  private withFile(handle: number, work: (file: LittleFsFile) => number): number {
    const file = this.files.get(handle);
    if (!file) return -EBADF;
    return this.run(() => work(file));
  }

  private run<T>(work: () => T): T | number {
    try {
      return work();
    } catch (error) {
      if (error instanceof LittleFsError) return -error.errno;
      throw error;
    }
  }
}
