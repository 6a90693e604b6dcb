/**
 * `_esp32_lib`: native parts of the board modules that the WebAssembly build
 * lacks and the ESP32 build has in C: hashlib's md5 and sha1 (@noble/hashes,
 * as the rest of the project), cryptolib's AES (@noble/ciphers, so the page's
 * virtual board has it too),
 * and esp's raw flash access. Buffers cross by address, as in _esp32_hw.
 */
import { cbc, ecb } from '@noble/ciphers/aes.js';
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
  const ciphers = new Map<number, AesState>();
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
      ciphers.set(id, { key: fromHex(keyHex), mode, iv: fromHex(ivHex), keystream: new Uint8Array(0) });
      return id;
    },
    /** Runs `length` bytes (a multiple of 16 for ECB and CBC) through the cipher, chaining across calls. */
    aes_run: (id: number, encrypt: number, input: number, output: number, length: number): number => {
      const state = ciphers.get(id);
      if (!state) return -1;
      heap(output, length).set(aesRun(state, encrypt !== 0, heap(input, length).slice()));
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

/** One cryptolib.aes object: the chaining value (CBC) or counter (CTR) carries over from call to call, as in modcryptolib.c. */
interface AesState {
  readonly key: Uint8Array;
  readonly mode: number;
  /** CBC: the last ciphertext block; CTR: the next counter block. */
  iv: Uint8Array;
  /** CTR: the unused rest of the last counter block's keystream. */
  keystream: Uint8Array;
}

const AES_BLOCK = 16;

function aesRun(state: AesState, encrypt: boolean, data: Uint8Array): Uint8Array {
  if (state.mode === AesMode.ECB) {
    const cipher = ecb(state.key, { disablePadding: true });
    return encrypt ? cipher.encrypt(data) : cipher.decrypt(data);
  }
  if (state.mode === AesMode.CBC) {
    const cipher = cbc(state.key, state.iv, { disablePadding: true });
    const result = encrypt ? cipher.encrypt(data) : cipher.decrypt(data);
    const lastCiphertext = encrypt ? result : data;
    if (data.length >= AES_BLOCK) state.iv = lastCiphertext.slice(data.length - AES_BLOCK);
    return result;
  }
  return ctrRun(state, data);
}

/** CTR: data XOR the keystream E(counter), E(counter + 1), …; the counter is a 128-bit big-endian number. */
function ctrRun(state: AesState, data: Uint8Array): Uint8Array {
  const needed = Math.max(0, data.length - state.keystream.length);
  const blocks = Math.ceil(needed / AES_BLOCK);
  const counters = new Uint8Array(blocks * AES_BLOCK);
  for (let block = 0; block < blocks; block++) {
    counters.set(state.iv, block * AES_BLOCK);
    incrementCounter(state.iv);
  }
  const fresh = blocks ? ecb(state.key, { disablePadding: true }).encrypt(counters) : new Uint8Array(0);
  const keystream = new Uint8Array(state.keystream.length + fresh.length);
  keystream.set(state.keystream);
  keystream.set(fresh, state.keystream.length);
  state.keystream = keystream.slice(data.length);
  return data.map((byte, index) => byte ^ keystream[index]!);
}

function incrementCounter(counter: Uint8Array): void {
  for (let index = counter.length - 1; index >= 0; index--) {
    counter[index] = (counter[index]! + 1) & 0xff;
    if (counter[index] !== 0) return;
  }
}
