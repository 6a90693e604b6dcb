/**
 * Loads the MicroPython WebAssembly build with its linear memory made shared
 * (see wasm-shared-memory.ts), and keeps hold of the instance's memory and
 * function table, which the package's API does not expose.
 * Runs in the interpreter's worker thread.
 */
import { loadMicroPython, type LoadOptions, type MicroPython } from '@micropython/micropython-webassembly-pyscript';
import { withSharedMemory } from './wasm-shared-memory.js';

/** The parts of WebAssembly.Memory / Table used here (Node's types lack them). */
export interface WasmMemory {
  readonly buffer: SharedArrayBuffer;
}

export interface WasmTable {
  readonly length: number;
  get(index: number): unknown;
}

interface WasmExports {
  memory: WasmMemory;
  __indirect_function_table: WasmTable;
}

interface WasmInstantiate {
  (binary: Uint8Array, imports: unknown): Promise<{ instance: { exports: WasmExports } }>;
}

interface WasmNamespace {
  instantiate: WasmInstantiate;
  instantiateStreaming?: (source: Promise<{ arrayBuffer(): Promise<ArrayBuffer> }>, imports: unknown) => Promise<unknown>;
}

export interface LoadedInterpreter {
  mp: MicroPython;
  memory: WasmMemory;
  table: WasmTable;
}

export async function loadSharedMemoryMicroPython(options: LoadOptions): Promise<LoadedInterpreter> {
  const wasm = (globalThis as unknown as { WebAssembly: WasmNamespace }).WebAssembly;
  const originalInstantiate = wasm.instantiate;
  const originalStreaming = wasm.instantiateStreaming;
  let exports: WasmExports | undefined;
  // Emscripten calls WebAssembly.instantiate(bytes, imports) under Node; this
  // thread runs nothing else while the interpreter loads.
  wasm.instantiate = async (binary, imports) => {
    const result = await originalInstantiate.call(wasm, withSharedMemory(new Uint8Array(binary)), imports);
    exports = result.instance.exports;
    return result;
  };
  // In a browser Emscripten streams the fetched binary: take the bytes and patch them too.
  if (originalStreaming) wasm.instantiateStreaming = async (source, imports) => wasm.instantiate(new Uint8Array(await (await source).arrayBuffer()), imports);
  try {
    const mp = await loadMicroPython(options);
    if (!exports || !(exports.memory.buffer instanceof SharedArrayBuffer)) {
      throw new Error('the MicroPython build did not load through WebAssembly.instantiate with a shared memory');
    }
    return { mp, memory: exports.memory, table: exports.__indirect_function_table };
  } finally {
    wasm.instantiate = originalInstantiate;
    if (originalStreaming) wasm.instantiateStreaming = originalStreaming;
  }
}
