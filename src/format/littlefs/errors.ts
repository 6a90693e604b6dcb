/** littlefs errors as the errno values MicroPython raises for them (OSError(errno)). */
export const ERRNO = {
  EIO: 5,
  ENOENT: 2,
  EBADF: 9,
  ENOMEM: 12,
  EEXIST: 17,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  EFBIG: 27,
  ENOSPC: 28,
  ENAMETOOLONG: 36,
  ENOTEMPTY: 39,
  ENODATA: 61,
  /** littlefs's LFS_ERR_CORRUPT; MicroPython raises OSError(84) for it. */
  ECORRUPT: 84,
} as const;

const NAMES = new Map<number, string>(Object.entries(ERRNO).map(([name, code]) => [code, name]));

export class LittleFsError extends Error {
  readonly errno: number;

  constructor(errno: number, message: string) {
    super(`[Errno ${errno}] ${NAMES.get(errno) ?? 'E?'}: ${message}`);
    this.name = 'LittleFsError';
    this.errno = errno;
  }
}

export function fsError(errno: number, message: string): LittleFsError {
  return new LittleFsError(errno, message);
}
