/**
 * One life of the interpreter, from power-on (or soft reset) to the next
 * reset: loads a fresh MicroPython, wires its console to the virtual UART,
 * gives it its ESP32 identity and hardware modules, and runs code the way
 * pyexec does on a board. Runs in the worker thread.
 */
import type { MicroPython, PyProxy } from '@micropython/micropython-webassembly-pyscript';
import { makeInput } from './console-input.js';
import { attachConsoleStreams } from './console-streams.js';
import { DeviceResetSignal, type InterpreterRuntime, type RegisterDeviceModules } from './device-modules.js';
import { withoutBoardFrames } from './board-frames.js';
import { applyIdentity } from './identity.js';
import { KeyboardInterruptLine, type InterruptSites } from './keyboard-interrupt.js';
import { loadSharedMemoryMicroPython } from './load-interpreter.js';
import { MainTask } from './main-task.js';
import { PendingExceptionRaiser } from './pending-exception-raiser.js';
import { execPrivately } from './private-exec.js';
import { probeInterruptSites } from './probe-interpreter.js';
import type { ExecutionMode, ExecutionResult, InterpreterSettings } from './protocol.js';
import type { StdinRing } from './stdin-ring.js';
import type { HostCaller } from './host-call.js';
import { wallClockMs, type TimedWire } from './timed-wire.js';
import { WasmHeap } from './wasm-heap.js';

export interface SessionHost {
  stdin: StdinRing;
  wire: TimedWire;
  interruptControl: SharedArrayBuffer;
  onOutput(bytes: Uint8Array): void;
  onStdinSpace(): void;
  hostCaller?: HostCaller;
  /** Loads settings.modulesUrl (default: import()); a bundled page hands over its own copy of the modules. */
  importModules?: (url: string) => Promise<unknown>;
  /** Where micropython.wasm is (default: next to the package's micropython.mjs). */
  wasmUrl?: string;
}

/** A JavaScript error escaped through the interpreter: its C state is no longer consistent. */
export class InterpreterCrash extends Error {
  override name = 'InterpreterCrash';
}

export class InterpreterSession {
  private usable = true;

  private constructor(
    private readonly mp: MicroPython,
    readonly memory: SharedArrayBuffer,
    readonly sites: InterruptSites,
    private readonly line: KeyboardInterruptLine,
    private readonly raiser: PendingExceptionRaiser,
    private readonly builtins: PyProxy,
  ) {}

  static async start(settings: InterpreterSettings, host: SessionHost): Promise<InterpreterSession> {
    const { mp, memory, table } = await loadSharedMemoryMicroPython({
      heapsize: settings.heapSize,
      pystack: settings.pystackSize,
      // Placeholders so that Emscripten creates device streams; attachConsoleStreams replaces their ops.
      stdin: () => null,
      stdout: () => {},
      stderr: () => {},
      linebuffer: false,
      ...(host.wasmUrl ? { url: host.wasmUrl } : {}),
    });
    const heap = new WasmHeap(memory, mp._module);
    const sites = probeInterruptSites(mp, heap);
    const line = new KeyboardInterruptLine(host.interruptControl, memory.buffer, sites);
    const raiser = PendingExceptionRaiser.install(mp, heap, table);
    const encoder = new TextEncoder();
    const mainTask = new MainTask(host.stdin, host.wire, (error) => {
      // A timer callback's exception is printed and the program goes on (mp_call_function_1_protected).
      if (!(error instanceof Error && error.name === 'PythonError')) throw error;
      const traceback = withoutBoardFrames(error.message);
      host.onOutput(encoder.encode(traceback.endsWith('\n') ? traceback : traceback + '\n'));
    });
    attachConsoleStreams(mp.FS, {
      stdin: host.stdin,
      wire: host.wire,
      mainTask,
      isInterruptPending: () => line.isPending(),
      onStdinSpace: host.onStdinSpace,
      onOutput: host.onOutput,
    });

    const sleepMs = (milliseconds: number): void => interruptibleSleep(milliseconds, mainTask, host.stdin, line, raiser);
    installSleeps(mp, sleepMs);
    installInput(mp, host, mainTask, line, raiser);
    applyIdentity(mp, heap, settings.identity);
    mountFilesystem(mp, settings);

    if (settings.modulesUrl !== undefined) {
      const runtime: InterpreterRuntime = {
        reset: (kind) => {
          throw new DeviceResetSignal(kind);
        },
        heap: () => heap.bytes(),
        sleepMs,
        hostCall: (request) => {
          if (!host.hostCaller) throw new Error('this interpreter was started without host calls');
          return host.hostCaller.call(request);
        },
        eventCount: () => host.stdin.signal,
        waitForEvent: (seen, timeoutMs) => {
          if (line.isPending()) raiser.raisePending();
          mainTask.waitForEvent(seen, wallClockMs() + timeoutMs);
          if (line.isPending()) raiser.raisePending();
        },
        stdinAvailable: () => host.stdin.available,
        waitForStdin: (timeoutMs) =>
          mainTask.awaitStdin(
            () => {
              if (line.isPending()) raiser.raisePending();
            },
            timeoutMs < 0 ? Infinity : wallClockMs() + timeoutMs,
          ),
        timers: {
          set: (id, periodMs, periodic, fire) => mainTask.setTimer(id, periodMs, periodic, fire),
          clear: (id) => mainTask.clearTimer(id),
          value: (id) => mainTask.timerValue(id),
        },
      };
      const load = host.importModules ?? ((url: string) => import(url) as Promise<unknown>);
      const modules = (await load(settings.modulesUrl)) as { register?: RegisterDeviceModules };
      if (typeof modules.register !== 'function') {
        throw new Error(`${settings.modulesUrl} does not export a register(mp, init, runtime) function`);
      }
      await modules.register(mp, settings.modulesInit, runtime);
    }
    return new InterpreterSession(mp, memory.buffer, sites, line, raiser, mp.pyimport('builtins'));
  }

  /** Compiles `code` as `<stdin>` and runs it in __main__'s globals. Throws InterpreterCrash. */
  execute(code: string, mode: ExecutionMode): ExecutionResult {
    if (!this.usable) throw new InterpreterCrash('the interpreter was reset or crashed; restart it first');
    this.line.enterRunning();
    try {
      const compiled = this.builtins.compile(code, '<stdin>', mode);
      this.builtins.exec(compiled, this.mp.globals.__dict__);
      // As pyexec: an interrupt that came after the last branch is raised now.
      if (this.line.isPending()) this.raiser.throwPendingAsPythonError();
      return {};
    } catch (error) {
      return this.resultOfError(error);
    } finally {
      this.line.leaveRunning();
    }
  }

  private resultOfError(error: unknown): ExecutionResult {
    if (error instanceof DeviceResetSignal) {
      this.usable = false;
      return { reset: error.kind };
    }
    if (error instanceof Error && error.name === 'PythonError') {
      // pyexec treats an uncaught SystemExit (sys.exit(), machine.soft_reset()) as a soft reset.
      if ((error as Error & { type?: string }).type === 'SystemExit') return { reset: 'soft' };
      return { exception: error.message };
    }
    this.usable = false;
    throw new InterpreterCrash(error instanceof Error ? error.message : String(error));
  }
}

function installSleeps(mp: MicroPython, sleepMs: (milliseconds: number) => void): void {
  const time = mp.pyimport('time');
  // time is a frozen Python module here, so its attributes can be replaced.
  // The build's own sleeps spin on the clock and never see Ctrl-C.
  const sleepReturningNone = (milliseconds: number): null => {
    sleepMs(milliseconds);
    return null;
  };
  time.sleep = (seconds: number) => sleepReturningNone(seconds * 1000);
  time.sleep_ms = (milliseconds: number) => sleepReturningNone(milliseconds);
  time.sleep_us = (microseconds: number) => sleepReturningNone(microseconds / 1000);
}

function installInput(mp: MicroPython, host: SessionHost, mainTask: MainTask, line: KeyboardInterruptLine, raiser: PendingExceptionRaiser): void {
  const builtins = mp.pyimport('builtins');
  builtins.input = makeInput({
    stdin: host.stdin,
    mainTask,
    output: host.onOutput,
    raisePendingInterrupt: () => {
      if (line.isPending()) raiser.raisePending();
    },
    raiseBuiltin: (name) => {
      const exception = builtins[name]();
      line.scheduleException(Number(builtins.id(exception)));
      raiser.raisePending();
      throw new InterpreterCrash(`${name} could not be raised`);
    },
  });
}

function interruptibleSleep(
  milliseconds: number,
  mainTask: MainTask,
  wakeups: StdinRing,
  line: KeyboardInterruptLine,
  raiser: PendingExceptionRaiser,
): void {
  const deadline = wallClockMs() + milliseconds;
  for (;;) {
    const seen = wakeups.signal;
    if (line.isPending()) raiser.raisePending();
    if (deadline - wallClockMs() <= 0) return;
    mainTask.waitForEvent(seen, deadline);
  }
}

function mountFilesystem(mp: MicroPython, settings: InterpreterSettings): void {
  let path = '';
  for (const part of settings.filesystemRoot.split('/').filter(Boolean)) {
    path += '/' + part;
    if (!mp.FS.analyzePath(path).exists) mp.FS.mkdir(path);
  }
  const lines = ['import vfs, os, sys'];
  if (path !== '') lines.push("vfs.umount('/')", `vfs.mount(vfs.VfsPosix(${JSON.stringify(path)}), '/')`);
  lines.push(`os.chdir(${JSON.stringify(settings.cwd)})`);
  if (settings.sysPath) lines.push('sys.path.clear()', `sys.path.extend(${JSON.stringify(settings.sysPath)})`);
  execPrivately(mp, lines.join('\n'));
}
