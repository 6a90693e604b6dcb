/** Messages and start data exchanged between MicroPythonWorker and its worker thread. */
import type { ResetKind } from './device-modules.js';
import type { DeviceIdentity } from './identity.js';
import type { InterruptSites } from './keyboard-interrupt.js';
import type { HostCallEnd } from './host-call.js';

export type ExecutionMode = 'exec' | 'single';

/** What execute() reports; see MicroPythonWorker.execute. */
export interface ExecutionResult {
  /** The traceback text exactly as MicroPython prints it, `\n` line endings. */
  exception?: string;
  reset?: ResetKind;
}

/** Per-interpreter settings; a restart (a new thread) may change them. */
export interface InterpreterSettings {
  /** Initial GC heap in bytes (this build grows it on demand; see docs/virtual-device.md). */
  heapSize: number;
  /** Python value stack, in words. */
  pystackSize: number;
  identity: DeviceIdentity;
  /** Directory of the Emscripten file system that Python sees as `/`. */
  filesystemRoot: string;
  /** Python's working directory, inside filesystemRoot's view. */
  cwd: string;
  /** sys.path; the build's default ['', '.frozen', '/lib'] when absent. */
  sysPath?: string[];
  modulesUrl?: string;
  modulesInit?: unknown;
}

export interface WorkerBootData {
  stdinBuffer: SharedArrayBuffer;
  /** The board-faithful console wire (timed-wire.ts); unused in the forgiving default. */
  wireBuffer: SharedArrayBuffer;
  interruptControl: SharedArrayBuffer;
  settings: InterpreterSettings;
  hostCalls?: HostCallEnd;
}

export type ToWorker = { type: 'execute'; code: string; mode: ExecutionMode };

export type FromWorker =
  | { type: 'ready'; memory: SharedArrayBuffer; sites: InterruptSites }
  | { type: 'start-failed'; message: string }
  | { type: 'output'; bytes: Uint8Array }
  | { type: 'stdin-space' }
  | { type: 'done'; result: ExecutionResult }
  | { type: 'crashed'; message: string };
