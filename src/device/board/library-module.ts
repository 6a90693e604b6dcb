/**
 * `_esp32_lib`: native parts of the board modules that the WebAssembly build
 * lacks and the ESP32 build has in C: hashlib's md5 and sha1 (@noble/hashes,
 * as the rest of the project), cryptolib's AES (node:crypto in the worker),
 * and esp's raw flash access. Buffers cross by address, as in _esp32_hw.
 */
import { createCipheriv, createDecipheriv, type Cipher, type Decipher } from 'node:crypto';
import { md5, sha1 } from '@noble/hashes/legacy.js';
import type { InterpreterRuntime } from '../micropython/device-modules.js';
import { fromHex, toHex } from '../../format/bytes.js';
import { SECTOR_SIZE, type NorFlash } from '../nor-flash.js';

type Hasher = ReturnType<typeof md5.create>;

/** cryptolib.aes modes of MicroPython's extmod/modcryptolib.c. */
const AesMode = { ECB: 1, CBC: 2, CTR: 6 } as const;

export function libraryModule(runtime: InterpreterRuntime, flash: NorFlash) {
  const heap = (pointer: number, length: number) => runtime.heap().subarray(pointer, pointer + length);
  const hashers = new Map<number, Hasher>();
  const ciphers = new Map<number, Cipher | Decipher>();
  const aesSetups = new Map<number, { key: Uint8Array; mode: number; iv: Uint8Array }>();
  let nextId = 1;
  const flashRange = (offset: number, length: number) => offset >= 0 && length >= 0 && offset + length <= flash.size;

  return {
    hash_new: (name: string): number => {
      const id = nextId++;
      hashers.set(id, name === 'md5' ? md5.create() : sha1.create());
      return id;
    },
    hash_update: (id: number, pointer: number, length: number): number => {
      hashers.get(id)?.update(heap(pointer, length).slice());
      return 0;
    },
    /** The digest, hex; the hasher is finished (MicroPython's md5/sha1 take no data after digest()). */
    hash_digest: (id: number): string => {
      const hasher = hashers.get(id);
      if (!hasher) return '';
      hashers.delete(id);
      return toHex(hasher.digest());
    },
    hash_free: (id: number): number => (hashers.delete(id) ? 0 : 1),
    aes_new: (keyHex: string, mode: number, ivHex: string): number => {
      const id = nextId++;
      aesSetups.set(id, { key: fromHex(keyHex), mode, iv: fromHex(ivHex) });
      return id;
    },
    /** Runs `length` bytes (a multiple of 16 for ECB and CBC) through the cipher, chaining across calls. */
    aes_run: (id: number, encrypt: number, input: number, output: number, length: number): number => {
      let cipher = ciphers.get(id);
      if (!cipher) {
        const setup = aesSetups.get(id);
        if (!setup) return -1;
        const bits = setup.key.length * 8;
        const name = `aes-${bits}-${setup.mode === AesMode.ECB ? 'ecb' : setup.mode === AesMode.CBC ? 'cbc' : 'ctr'}`;
        const iv = setup.mode === AesMode.ECB ? null : setup.iv;
        cipher = encrypt || setup.mode === AesMode.CTR ? createCipheriv(name, setup.key, iv) : createDecipheriv(name, setup.key, iv);
        cipher.setAutoPadding(false);
        ciphers.set(id, cipher);
      }
      heap(output, length).set(cipher.update(heap(input, length).slice()));
      return 0;
    },
    flash_size: (): number => flash.size,
    flash_read: (offset: number, pointer: number, length: number): number => {
      if (!flashRange(offset, length)) return -1;
      flash.readInto(offset, heap(pointer, length));
      return 0;
    },
    flash_write: (offset: number, pointer: number, length: number): number => {
      if (!flashRange(offset, length)) return -1;
      flash.program(offset, heap(pointer, length).slice());
      return 0;
    },
    flash_erase: (sector: number): number => {
      if (!flashRange(sector * SECTOR_SIZE, SECTOR_SIZE)) return -1;
      flash.erase(sector * SECTOR_SIZE, SECTOR_SIZE);
      return 0;
    },
  };
}
