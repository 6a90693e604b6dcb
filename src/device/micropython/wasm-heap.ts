/**
 * Word and byte access to the interpreter's linear memory, plus C-heap
 * allocations that MicroPython's garbage collector never moves or frees
 * (malloc is outside the GC heap). Views are made per call because the
 * memory can grow, which replaces its buffer.
 */
import type { EmscriptenModule } from '@micropython/micropython-webassembly-pyscript';
import type { WasmMemory } from './load-interpreter.js';

export class WasmHeap {
  constructor(
    private readonly memory: WasmMemory,
    private readonly module: EmscriptenModule,
  ) {}

  bytes(): Uint8Array {
    return new Uint8Array(this.memory.buffer);
  }

  words(): Int32Array {
    return new Int32Array(this.memory.buffer);
  }

  readU32(address: number): number {
    return this.words()[address >> 2]! >>> 0;
  }

  writeU32(address: number, value: number): void {
    this.words()[address >> 2] = value | 0;
  }

  /** Copies `data` into a fresh, never-freed C allocation; returns its address. */
  allocate(data: Uint8Array, extraBytes = 0): number {
    const address = this.module._malloc(data.length + extraBytes);
    if (address === 0) throw new Error('the interpreter is out of C heap');
    this.bytes().set(data, address);
    return address;
  }
}
