/**
 * The MicroPython interpreter of the virtual ESP32, seen from the main thread.
 * The interpreter (the real MicroPython WebAssembly build) runs in a worker
 * thread so that Python code never blocks the host's event loop. Bytes the
 * host types while code runs reach it through a shared stdin ring; the
 * interrupt character raises KeyboardInterrupt in it through shared memory.
 */
import { DEFAULT_IDENTITY, type DeviceIdentity } from './identity.js';
import {
  KeyboardInterruptLine,
  NO_INTERRUPT_CHAR,
  allocateInterruptControl,
} from './keyboard-interrupt.js';
import type { ExecutionMode, ExecutionResult, FromWorker, InterpreterSettings, ToWorker, WorkerBootData } from './protocol.js';
import type { InterpreterThread, SpawnInterpreterThread } from './interpreter-thread.js';
import { StdinRing } from './stdin-ring.js';
import type { HostCallHandler } from './host-call.js';
import { TimedWire, wallClockMs } from './timed-wire.js';
import { concatBytes } from '../../format/bytes.js';

export type { ExecutionMode, ExecutionResult } from './protocol.js';

export interface MicroPythonWorkerOptions {
  /** Initial GC heap, bytes (default 1 MiB). */
  heapSize?: number;
  /** Python value stack, words (default 2048, the package's default). */
  pystackSize?: number;
  /** Bytes the stdin ring holds before feedInput queues on the main thread (power of two, default 64 KiB). */
  stdinCapacity?: number;
  /** Board-faithful stdin (a ring of a board's size behind a timed wire; see setStdinModel). Default: the forgiving ring, nothing lost. */
  stdinModel?: StdinModel;
  /** What sys, os.uname() report (default: v1.23.0, 'Generic ESP32 module with ESP32'). */
  identity?: DeviceIdentity;
  /** Directory of the interpreter's in-memory file system that Python sees as `/` (default '/flash'). */
  filesystemRoot?: string;
  /** Python's working directory (default '/'). */
  cwd?: string;
  /** sys.path (default: the build's ['', '.frozen', '/lib']). */
  sysPath?: string[];
  /** An ES module exporting register(mp, init, runtime); see device-modules.ts. */
  modulesUrl?: URL;
  /** Passed to register(); structured-cloned, SharedArrayBuffers stay shared. */
  modulesInit?: unknown;
  /** Output produced while no execute() is in progress (e.g. by register()). */
  onOutput?: (bytes: Uint8Array) => void;
  /** Serves InterpreterRuntime.hostCall() of the board's modules (e.g. the network), on the main thread. */
  hostCalls?: HostCallHandler;
  /** Starts the interpreter's thread; default: a Node worker thread (node-thread.ts, loaded only then). */
  spawnThread?: SpawnInterpreterThread;
}

/**
 * The board's stdin as its console driver fills it: at most `limit` unread
 * bytes, and what does not fit is 'queued' until the program reads (a link
 * that back-pressures: USB Serial/JTAG, TinyUSB CDC from v1.24) or 'dropped'
 * (the UART interrupt handler's ringbuf_put on a full ring).
 */
export interface StdinModel {
  readonly limit: number;
  readonly overflow: 'queued' | 'dropped';
  /**
   * A program that waits for input and finds none wakes only at this tick
   * (ms) or a timer alarm, not when bytes arrive (the UART's interrupt
   * handler does not notify the main task; see main-task.ts). Absent: bytes
   * wake it.
   */
  readonly wakeTickMs?: number;
}

/** What a restart may change: a hard reset may boot another firmware. */
export interface RestartChanges {
  identity?: DeviceIdentity;
  modulesInit?: unknown;
}

interface RunningExecution {
  onOutput: (bytes: Uint8Array) => void;
  resolve: (result: ExecutionResult) => void;
  reject: (error: Error) => void;
}

interface Waiter {
  resolve: () => void;
  reject: (error: Error) => void;
}

/** Not a literal import: a page's bundler must not follow it into Node's worker_threads. */
const NODE_THREAD_MODULE = './node-thread.js';

async function nodeThreadSpawner(): Promise<SpawnInterpreterThread> {
  const module = (await import(/* @vite-ignore */ NODE_THREAD_MODULE)) as { spawnNodeThread: SpawnInterpreterThread };
  return module.spawnNodeThread;
}

export class MicroPythonWorker {
  private worker!: InterpreterThread;
  private line: KeyboardInterruptLine | undefined;
  private running: RunningExecution | undefined;
  private starting: Waiter | undefined;
  /** Input that did not fit in the ring yet, oldest first. */
  private readonly queuedInput: Uint8Array[] = [];
  private terminated = false;
  private stdinModel: StdinModel | undefined;
  /** Board-faithful input that did not fit on the wire yet (a link that back-pressures). */
  private readonly queuedTimed: { bytes: Uint8Array; dueAt: number }[] = [];

  private constructor(
    private settings: InterpreterSettings,
    private readonly stdin: StdinRing,
    private readonly wire: TimedWire,
    private readonly interruptControl: SharedArrayBuffer,
    private readonly onIdleOutput: ((bytes: Uint8Array) => void) | undefined,
    private readonly hostCalls: HostCallHandler | undefined,
    private readonly spawnThread: SpawnInterpreterThread,
  ) {}

  static async start(options: MicroPythonWorkerOptions = {}): Promise<MicroPythonWorker> {
    const settings: InterpreterSettings = {
      heapSize: options.heapSize ?? 1024 * 1024,
      pystackSize: options.pystackSize ?? 2048,
      identity: options.identity ?? DEFAULT_IDENTITY,
      filesystemRoot: options.filesystemRoot ?? '/flash',
      cwd: options.cwd ?? '/',
      sysPath: options.sysPath,
      modulesUrl: options.modulesUrl?.href,
      modulesInit: options.modulesInit,
    };
    const interpreter = new MicroPythonWorker(
      settings,
      StdinRing.allocate(options.stdinCapacity ?? 64 * 1024),
      TimedWire.allocate(),
      allocateInterruptControl(),
      options.onOutput,
      options.hostCalls,
      options.spawnThread ?? (await nodeThreadSpawner()),
    );
    if (options.stdinModel) interpreter.setStdinModel(options.stdinModel);
    await interpreter.spawn();
    return interpreter;
  }

  /**
   * Board-faithful stdin from now on (a reset may boot firmware whose console
   * driver differs): input crosses a timed wire (feedInput's `arrivesAt`) into
   * a ring of `limit` bytes. Undefined: the forgiving default.
   */
  setStdinModel(model: StdinModel | undefined): void {
    if (model && !(Number.isInteger(model.limit) && model.limit >= 1 && model.limit <= this.stdin.capacity)) {
      throw new RangeError(`the stdin limit must be 1..${this.stdin.capacity} bytes, not ${model.limit}`);
    }
    if (model) this.wire.configure(model.limit, model.overflow === 'dropped', model.wakeTickMs ?? 0);
    else this.wire.configure(this.stdin.capacity, false, 0);
    this.stdinModel = model;
  }

  /** Input bytes lost because the ring was full (board-faithful mode, overflow 'dropped'). */
  get droppedInput(): number {
    return this.wire.dropped;
  }

  /**
   * Runs `code` like the board's REPL does: compiled as `<stdin>`, in the
   * globals of __main__, which persist until restart(). 'single' echoes the
   * repr of expression statements (friendly REPL); 'exec' does not (raw REPL,
   * paste mode). stdout and stderr stream to `onOutput` as raw bytes with
   * `\n` line endings while the code runs. Resolves with the traceback text
   * of an uncaught exception, or with `reset` when the code ended by a reset
   * (machine.reset() through the modules hook: 'hard'; an uncaught
   * SystemExit, as pyexec treats it: 'soft'). After a reset, call restart().
   * Rejects if the interpreter crashed (a JavaScript error escaped through it).
   */
  execute(code: string, mode: ExecutionMode, onOutput: (stdout: Uint8Array) => void): Promise<ExecutionResult> {
    if (this.terminated) return Promise.reject(new Error('the interpreter was terminated'));
    if (this.running) return Promise.reject(new Error('code is already running'));
    if (!this.line) return Promise.reject(new Error('the interpreter is not ready'));
    const line = this.line;
    return new Promise((resolve, reject) => {
      this.running = { onOutput, resolve, reject };
      line.markStarting();
      this.send({ type: 'execute', code, mode });
    });
  }

  /**
   * Bytes the host sent while code runs. The current interrupt character
   * (0x03 unless the code called micropython.kbd_intr) raises
   * KeyboardInterrupt; every other byte goes to sys.stdin, in order, none
   * dropped. Outside execute() there is no interrupt character. With a
   * stdin model, the bytes reach the ring at `arrivesAt` (wall-clock ms,
   * default now), and a full ring drops or holds them as the model says.
   */
  feedInput(bytes: Uint8Array, arrivesAt?: number): void {
    let start = 0;
    while (start < bytes.length) {
      const interruptChar = this.line?.interruptChar() ?? NO_INTERRUPT_CHAR;
      const at = interruptChar === NO_INTERRUPT_CHAR ? -1 : bytes.indexOf(interruptChar, start);
      const end = at === -1 ? bytes.length : at;
      if (this.stdinModel) this.queueTimed(bytes.subarray(start, end), arrivesAt ?? wallClockMs());
      else this.queueInput(bytes.subarray(start, end));
      if (at !== -1) this.interrupt();
      start = end + 1;
    }
  }

  /**
   * A fresh interpreter: globals, modules and the in-memory file system are
   * gone (soft reset, or the software part of a hard reset). Input not yet
   * read stays queued, as in a UART buffer. The interpreter starts in a new
   * thread (see serveInterpreterThread); code still running ends with the old
   * one, and that execute() rejects.
   */
  async restart(changes: RestartChanges = {}): Promise<void> {
    if (this.terminated) throw new Error('the interpreter was terminated');
    this.settings = {
      ...this.settings,
      ...(changes.identity && { identity: changes.identity }),
      ...('modulesInit' in changes && { modulesInit: changes.modulesInit }),
    };
    this.line = undefined;
    this.rejectRunning(new Error('the interpreter was restarted while code was running'));
    await this.worker.terminate();
    await this.spawn();
  }

  /**
   * Removes and returns the bytes fed but not read by the program, oldest
   * first; call it when no code runs. The board's REPL reads them next, as
   * it would find them in the UART buffer.
   */
  takeUnreadInput(): Uint8Array {
    const inRing = new Uint8Array(this.stdin.available);
    const timed = this.queuedTimed.splice(0).map((run) => run.bytes);
    return concatBytes(inRing.subarray(0, this.stdin.read(inRing)), this.wire.takeAll(), ...timed, ...this.queuedInput.splice(0));
  }

  /**
   * Wakes Python code that waits for something from outside (select.poll,
   * a socket's recv, time.sleep's check for Ctrl-C): call it whenever such a
   * thing happened on the host. Spurious wake-ups are harmless.
   */
  wake(): void {
    this.stdin.wake();
  }

  async terminate(): Promise<void> {
    if (this.terminated) return;
    this.terminated = true;
    this.line = undefined;
    const error = new Error('the interpreter was terminated');
    this.rejectRunning(error);
    this.starting?.reject(error);
    this.starting = undefined;
    await this.worker.terminate();
  }

  private interrupt(): void {
    this.line?.interrupt();
    this.stdin.wake();
  }

  private queueTimed(segment: Uint8Array, dueAt: number): void {
    if (segment.length === 0) return;
    this.queuedTimed.push({ bytes: segment.slice(), dueAt });
    this.drainQueuedInput();
  }

  private queueInput(segment: Uint8Array): void {
    if (segment.length === 0) return;
    if (this.queuedInput.length === 0) {
      const written = this.stdin.write(segment);
      if (written === segment.length) return;
      segment = segment.subarray(written);
    }
    this.queuedInput.push(segment.slice());
    this.drainQueuedInput();
  }

  private drainQueuedInput(): void {
    while (this.queuedTimed.length > 0) {
      const head = this.queuedTimed[0]!;
      const pushed = this.wire.push(head.bytes, head.dueAt);
      this.stdin.wake();
      if (pushed === head.bytes.length) {
        this.queuedTimed.shift();
        continue;
      }
      head.bytes = head.bytes.subarray(pushed);
      this.stdin.markWriterWaiting(); // the wire is full: the reader says when it has taken some
      return;
    }
    let announcedWait = false;
    while (this.queuedInput.length > 0) {
      const head = this.queuedInput[0]!;
      const written = this.stdin.write(head);
      if (written === head.length) {
        this.queuedInput.shift();
        continue;
      }
      this.queuedInput[0] = head.subarray(written);
      if (announcedWait) return;
      // Ask the reader to report space; then retry once, in case it emptied
      // the ring before it could see the request.
      this.stdin.markWriterWaiting();
      announcedWait = true;
    }
  }

  private spawn(): Promise<void> {
    const boot: WorkerBootData = {
      stdinBuffer: this.stdin.buffer,
      wireBuffer: this.wire.buffer,
      interruptControl: this.interruptControl,
      settings: this.settings,
    };
    return new Promise((resolve, reject) => {
      this.starting = { resolve, reject };
      const worker: InterpreterThread = this.spawnThread(boot, {
        message: (message) => this.receive(message),
        error: (error) => this.fail(worker, error),
        exit: (code) => this.fail(worker, new Error(`the interpreter thread exited (code ${code})`)),
      }, this.hostCalls);
      this.worker = worker;
    });
  }

  private receive(message: FromWorker): void {
    switch (message.type) {
      case 'output':
        (this.running?.onOutput ?? this.onIdleOutput)?.(message.bytes);
        break;
      case 'stdin-space':
        this.drainQueuedInput();
        break;
      case 'ready':
        this.line = new KeyboardInterruptLine(this.interruptControl, message.memory, message.sites);
        this.starting?.resolve();
        this.starting = undefined;
        break;
      case 'start-failed':
        this.starting?.reject(new Error(`the interpreter did not start: ${message.message}`));
        this.starting = undefined;
        break;
      case 'done': {
        const running = this.running;
        this.running = undefined;
        running?.resolve(message.result);
        break;
      }
      case 'crashed':
        this.rejectRunning(new Error(`the interpreter crashed: ${message.message}`));
        break;
    }
  }

  private fail(worker: InterpreterThread, error: Error): void {
    if (worker !== this.worker || this.terminated) return;
    this.line = undefined;
    this.rejectRunning(error);
    this.starting?.reject(error);
    this.starting = undefined;
  }

  private rejectRunning(error: Error): void {
    const running = this.running;
    this.running = undefined;
    running?.reject(error);
  }

  private send(message: ToWorker): void {
    this.worker.postMessage(message);
  }
}
