/**
 * Turns the linear memory that a WebAssembly binary defines into a *shared*
 * memory, so that the bytes of a running interpreter can be read and written
 * from another thread. The MicroPython build defines one memory with limits
 * `{min, max}` (flags 0x01); shared memory is flags 0x03 with the same limits,
 * so the change is one byte and no offsets move. Code that runs in that
 * memory is unchanged: plain loads and stores are allowed on shared memory.
 */

const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d];
const MEMORY_SECTION = 5;
const LIMITS_MIN_MAX = 0x01;
const LIMITS_MIN_MAX_SHARED = 0x03;

export function withSharedMemory(binary: Uint8Array): Uint8Array {
  if (!WASM_MAGIC.every((byte, i) => binary[i] === byte)) {
    throw new Error('not a WebAssembly binary');
  }
  const patched = binary.slice();
  let position = 8;
  const readLeb = (): number => {
    let value = 0;
    let shift = 0;
    for (;;) {
      const byte = patched[position++];
      if (byte === undefined) throw new Error('truncated WebAssembly binary');
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value;
      shift += 7;
    }
  };
  while (position < patched.length) {
    const sectionId = patched[position++];
    const sectionSize = readLeb();
    const sectionEnd = position + sectionSize;
    if (sectionId === MEMORY_SECTION) {
      const memoryCount = readLeb();
      const flags = patched[position];
      if (memoryCount !== 1 || flags !== LIMITS_MIN_MAX) {
        throw new Error(`expected one memory with a maximum size, found ${memoryCount} with flags ${flags}`);
      }
      patched[position] = LIMITS_MIN_MAX_SHARED;
      return patched;
    }
    position = sectionEnd;
  }
  throw new Error('the WebAssembly binary defines no memory (an imported memory is not supported)');
}
