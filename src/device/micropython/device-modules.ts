/**
 * The hook through which hardware modules (machine, esp32, flashbdev, ...)
 * are added to the interpreter. A modules file is an ES module, loaded in the
 * interpreter's worker thread, that exports
 *
 *     export function register(mp, init, runtime): void | Promise<void>
 *
 * It is called after every (re)start, before any code runs. `mp` is the
 * loadMicroPython() API (registerJsModule, runPython, pyimport, FS); `init`
 * is MicroPythonWorker.start's `modulesInit`, structured-cloned into the
 * worker, so SharedArrayBuffers in it (a flash model's bytes) are shared with
 * the main thread. Functions of a registered JS module run synchronously when
 * Python calls them.
 */
import type { MicroPython } from '@micropython/micropython-webassembly-pyscript';

export type ResetKind = 'soft' | 'hard';

export interface InterpreterRuntime {
  /**
   * Ends the running program at once, like machine.reset() (no Python code
   * runs after it, not even `finally` blocks); execute() then resolves with
   * `{ reset: kind }` and the interpreter must be restarted. Never returns.
   */
  reset(kind: ResetKind): never;
  /**
   * The interpreter's memory, for bulk copies to and from a Python buffer
   * whose address Python passes in (uctypes.addressof(buf)). Get a new view
   * after Python allocated: the memory may grow and replace its buffer.
   */
  heap(): Uint8Array;
  /** Sleeps; Ctrl-C ends the sleep with KeyboardInterrupt in the calling Python code. */
  sleepMs(milliseconds: number): void;
  /** A synchronous call to MicroPythonWorker's `hostCalls` handler on the main thread; see host-call.ts. */
  hostCall(request: unknown): unknown;
  /**
   * The doorbell of things from outside: it changes when stdin gets bytes,
   * on Ctrl-C, and when the host calls MicroPythonWorker.wake() (a socket
   * became readable...). Read it, look for work, then waitForEvent(seen).
   */
  eventCount(): number;
  /** Sleeps until eventCount() differs from `seen` or the timeout passes; raises KeyboardInterrupt on Ctrl-C. */
  waitForEvent(seen: number, timeoutMs: number): void;
  /** Bytes waiting in the UART's receive buffer (sys.stdin). */
  stdinAvailable(): number;
  /**
   * Waits, as the board's poll on stdin does, until stdin has bytes (true)
   * or `timeoutMs` passed (false; negative: no limit). Raises
   * KeyboardInterrupt on Ctrl-C.
   */
  waitForStdin(timeoutMs: number): boolean;
  /** machine.Timer's hardware: an alarm every `periodMs` (or once) that runs `fire` when the program next waits. */
  timers: {
    set(id: number, periodMs: number, periodic: boolean, fire: () => void): void;
    clear(id: number): void;
    /** ms since the timer started or last reloaded. */
    value(id: number): number;
  };
}

export type RegisterDeviceModules = (mp: MicroPython, init: unknown, runtime: InterpreterRuntime) => void | Promise<void>;

/** Thrown through the interpreter by InterpreterRuntime.reset(). */
export class DeviceResetSignal extends Error {
  constructor(readonly kind: ResetKind) {
    super(`device ${kind} reset`);
    this.name = 'DeviceResetSignal';
  }
}
