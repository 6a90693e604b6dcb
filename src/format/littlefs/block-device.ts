/** Block device as littlefs sees it (read/prog/erase/sync by block + offset). */
export interface LittleFsBlockDevice {
  readonly blockCount: number;
  read(block: number, offset: number, into: Uint8Array): void;
  /** NOR semantics: programming only clears bits of an erased block. */
  prog(block: number, offset: number, data: Uint8Array): void;
  erase(block: number): void;
  sync(): void;
}

/** A block device over a byte array (an image file, a partition slice of a dump); writes go into `bytes`. */
export function memoryBlockDevice(bytes: Uint8Array, blockSize: number): LittleFsBlockDevice {
  if (bytes.length % blockSize !== 0) {
    throw new RangeError(`image of ${bytes.length} bytes is not a whole number of ${blockSize}-byte blocks`);
  }
  const blockCount = bytes.length / blockSize;
  const at = (block: number, offset: number, length: number): number => {
    if (block < 0 || block >= blockCount || offset < 0 || offset + length > blockSize) {
      throw new RangeError(`block ${block} offset ${offset} length ${length} outside ${blockCount} × ${blockSize}-byte blocks`);
    }
    return block * blockSize + offset;
  };
  return {
    blockCount,
    read(block, offset, into) {
      const start = at(block, offset, into.length);
      into.set(bytes.subarray(start, start + into.length));
    },
    prog(block, offset, data) {
      const start = at(block, offset, data.length);
      for (let i = 0; i < data.length; i++) bytes[start + i]! &= data[i]!;
    },
    erase(block) {
      const start = at(block, 0, blockSize);
      bytes.fill(0xff, start, start + blockSize);
    },
    sync() {},
  };
}
