// The part of @micropython/micropython-webassembly-pyscript 1.27.0 this project
// uses. The package ships no types; shapes were read from its api.js.
declare module '@micropython/micropython-webassembly-pyscript' {
  /** A Python object seen from JavaScript; attributes and calls go to Python. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  export type PyProxy = any;

  /** Thrown by `runPython` and PyProxy calls; `message` is the traceback text. */
  export interface PythonError extends Error {
    name: 'PythonError';
    type: string;
  }

  export interface EmscriptenStreamOps {
    read?(stream: unknown, buffer: Int8Array, offset: number, length: number, position?: number): number;
    write?(stream: unknown, buffer: Int8Array, offset: number, length: number, position?: number): number;
    poll?(stream: unknown, timeout: number): number;
    [name: string]: unknown;
  }

  export interface EmscriptenStream {
    fd: number;
    stream_ops: EmscriptenStreamOps;
  }

  export interface EmscriptenFS {
    getStream(fd: number): EmscriptenStream | null;
    ErrnoError: new (errno: number) => Error;
    mkdir(path: string): void;
    mkdirTree?(path: string): void;
    readdir(path: string): string[];
    stat(path: string): { mode: number; size: number };
    isDir(mode: number): boolean;
    isFile(mode: number): boolean;
    readFile(path: string): Uint8Array;
    writeFile(path: string, data: Uint8Array | string): void;
    analyzePath(path: string): { exists: boolean };
  }

  export interface EmscriptenModule {
    _malloc(size: number): number;
    _free(pointer: number): void;
    _mp_sched_keyboard_interrupt(): void;
    _mp_hal_get_interrupt_char(): number;
  }

  export interface MicroPython {
    _module: EmscriptenModule;
    FS: EmscriptenFS;
    globals: { __dict__: PyProxy; get(key: string): unknown; set(key: string, value: unknown): void };
    registerJsModule(name: string, module: object): void;
    pyimport(name: string): PyProxy;
    runPython(code: string): unknown;
  }

  export interface LoadOptions {
    heapsize?: number;
    pystack?: number;
    stdin?: () => number | null | undefined;
    stdout?: (data: Uint8Array | string) => void;
    stderr?: (data: Uint8Array | string) => void;
    linebuffer?: boolean;
    url?: string;
  }

  export function loadMicroPython(options?: LoadOptions): Promise<MicroPython>;
}
