import type { CodeExecutor, ExecutionMode, ExecutionResult } from './code-executor.js';
import { FriendlyRepl, type FriendlyAction } from './friendly-repl.js';
import { InputQueue } from './input-queue.js';
import { LineHistory } from './line-history.js';
import { KEYBOARD_INTERRUPT_TEXT, SOFT_REBOOT } from './messages.js';
import { OutputBuffer, utf8Bytes } from './output-buffer.js';
import { DEFAULT_STDIN_BUFFER_SIZE, rawPasteWindowSize } from './raw-paste.js';
import { RawRepl, type RawAction } from './raw-repl.js';

export type ReplMode = 'friendly' | 'raw';
export type StartupScriptName = 'boot.py' | 'main.py';
/** `software`: machine.reset(); `panic`: the executor failed (the chip would print a panic and reboot). */
export type HardResetReason = 'software' | 'panic';

export interface ReplMachineOptions {
  executor: CodeExecutor;
  /** Board → host bytes, exactly as they would leave the UART. */
  write: (bytes: Uint8Array) => void;
  /** First banner line, e.g. 'MicroPython v1.23.0 on 2024-06-02; Generic ESP32 module with ESP32'; read at each banner. */
  banner: () => string;
  /** Source of boot.py / main.py on the board's filesystem, undefined when there is no such file. */
  readStartupScript?: (name: StartupScriptName) => string | undefined | Promise<string | undefined>;
  /** The chip restarts: the device prints its boot log and calls start() again. The machine stays silent until then. */
  onHardReset?: (reason: HardResetReason, error?: unknown) => void;
  /** Whether raw-paste mode is offered (default true, as on every firmware since v1.14). */
  rawPaste?: boolean;
  /** MICROPY_REPL_STDIN_BUFFER_MAX; the raw-paste window is half of it (default 256 → 128). */
  stdinBufferSize?: number;
}

/** Thrown inside an async step that a reset or stop has made obsolete. */
class Superseded extends Error {}

/**
 * A MicroPython ESP32 board's REPL as a byte-level state machine: host bytes in
 * through receive(), board bytes out through `write`, the interpreter reached
 * only through the CodeExecutor. It follows the ESP32 port of v1.23
 * (ports/esp32/main.c, shared/runtime/pyexec.c): friendly, paste, raw and
 * raw-paste REPLs, soft reset with boot.py/main.py, cooked program output.
 *
 * While code runs, host bytes go to the executor as the program's stdin; what the
 * program leaves unread comes back and is handled next, as with a UART ring buffer.
 */
export class ReplMachine {
  private readonly out: OutputBuffer;
  private readonly input = new InputQueue();
  private readonly history = new LineHistory();
  private readonly friendly: FriendlyRepl;
  private readonly raw: RawRepl;
  private currentMode: ReplMode = 'friendly';
  private state: 'halted' | 'idle' | 'busy' = 'halted';
  private executing = false;
  private pumping = false;
  /** Bumped by every reset; async steps of an older generation stop. */
  private generation = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly options: ReplMachineOptions) {
    this.out = new OutputBuffer(options.write);
    this.friendly = new FriendlyRepl(this.out, this.history, options.banner);
    this.raw = new RawRepl(this.out, {
      rawPaste: options.rawPaste ?? true,
      windowSize: rawPasteWindowSize(options.stdinBufferSize ?? DEFAULT_STDIN_BUFFER_SIZE),
    });
  }

  get mode(): ReplMode {
    return this.currentMode;
  }

  /** False before start() and after a hard reset or stop(). */
  get isRunning(): boolean {
    return this.state !== 'halted';
  }

  /**
   * MicroPython starting after a hard boot, on a fresh interpreter: friendly mode,
   * boot.py, main.py, banner, prompt. Input received before is discarded.
   */
  start(): void {
    this.supersede();
    this.currentMode = 'friendly';
    this.runTask((generation) => this.boot(false, generation));
  }

  /** The chip stops (e.g. a reset pin pulse): nothing more is printed, input is dropped until start(). */
  stop(): void {
    this.supersede();
    this.halt();
  }

  /** True while a command runs: input goes to its stdin. */
  get running(): boolean {
    return this.executing;
  }

  /** Host → board bytes. */
  receive(bytes: Uint8Array): void {
    if (this.state === 'halted' || bytes.length === 0) return;
    if (this.executing) {
      this.options.executor.feedInput(bytes.slice());
      return;
    }
    this.input.push(bytes);
    this.pump();
  }

  /** Resolves once no code runs, no reset is under way and all received input has been handled (or the machine is halted). */
  idle(): Promise<void> {
    if (this.state !== 'busy') return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.state === 'idle') {
        const byte = this.input.next();
        if (byte === undefined) break;
        if (this.currentMode === 'friendly') this.onFriendlyAction(this.friendly.feed(byte));
        else this.onRawAction(this.raw.feed(byte));
      }
    } finally {
      this.pumping = false;
    }
    this.out.flush();
    if (this.state !== 'busy') this.wakeIdleWaiters();
  }

  private onFriendlyAction(action: FriendlyAction | undefined): void {
    switch (action?.kind) {
      case 'execute':
        this.runTask((generation) => this.runFriendlyCommand(action.code, action.mode, generation));
        break;
      case 'soft-reset':
        this.runTask((generation) => this.boot(true, generation));
        break;
      case 'enter-raw':
        this.currentMode = 'raw';
        this.raw.showHeader();
        break;
    }
  }

  private onRawAction(action: RawAction | undefined): void {
    switch (action?.kind) {
      case 'execute':
        this.runTask((generation) => this.runRawCommand(action.code, generation));
        break;
      case 'paste-interrupted':
        this.finishRawCommand({ exception: KEYBOARD_INTERRUPT_TEXT });
        this.raw.showPrompt();
        break;
      case 'soft-reset':
        this.runTask((generation) => this.boot(true, generation));
        break;
      case 'enter-friendly':
        this.currentMode = 'friendly';
        this.friendly.showBanner();
        break;
    }
  }

  private async runFriendlyCommand(code: string, mode: ExecutionMode, generation: number): Promise<void> {
    const result = await this.execute(code, mode, undefined, generation);
    if (result.reset === 'hard') return this.hardReset('software');
    this.printException(result);
    if (result.reset === 'soft') return this.boot(true, generation);
    this.friendly.showPrompt();
  }

  private async runRawCommand(code: string, generation: number): Promise<void> {
    const result = await this.execute(code, 'exec', undefined, generation);
    // machine.reset() restarts the chip at once: no end-of-output markers.
    if (result.reset === 'hard') return this.hardReset('software');
    this.finishRawCommand(result);
    if (result.reset === 'soft') return this.boot(true, generation);
    this.raw.showPrompt();
  }

  /** After a raw command's stdout: `\x04`, the exception text if any, `\x04`. */
  private finishRawCommand(result: ExecutionResult): void {
    this.out.text('\x04');
    this.printException(result);
    this.out.text('\x04');
  }

  private printException(result: ExecutionResult): void {
    if (result.exception) this.out.cooked(utf8Bytes(result.exception));
  }

  /**
   * The ESP32 start-up path (mp_task in ports/esp32/main.c): after a soft reset
   * `MPY: soft reboot` and a fresh interpreter; then boot.py, main.py (friendly
   * mode only, and only if boot.py ended cleanly), then the REPL of the current mode.
   */
  private async boot(softReset: boolean, generation: number): Promise<void> {
    let announce = softReset;
    for (;;) {
      if (announce) {
        this.out.text(SOFT_REBOOT);
        this.out.flush();
        await this.options.executor.softReset();
        this.checkCurrent(generation);
      }
      this.history.clear();
      const reset = await this.runStartupScripts(generation);
      if (reset === 'hard') return this.hardReset('software');
      if (reset !== 'soft') break;
      announce = true;
    }
    if (this.currentMode === 'raw') this.raw.showHeader();
    else this.friendly.showBanner();
  }

  private async runStartupScripts(generation: number): Promise<ExecutionResult['reset']> {
    const boot = await this.runStartupScript('boot.py', generation);
    if (boot.reset) return boot.reset;
    if (this.currentMode !== 'friendly' || boot.exception) return undefined;
    const main = await this.runStartupScript('main.py', generation);
    return main.reset;
  }

  private async runStartupScript(name: StartupScriptName, generation: number): Promise<ExecutionResult> {
    const source = await this.options.readStartupScript?.(name);
    this.checkCurrent(generation);
    if (source === undefined) return {};
    const result = await this.execute(source, 'exec', name, generation);
    if (result.reset !== 'hard') this.printException(result);
    return result;
  }

  /** Runs code with host input routed to it; afterwards the input it left unread is handled by the REPL. */
  private async execute(
    code: string,
    mode: ExecutionMode,
    sourceName: string | undefined,
    generation: number,
  ): Promise<ExecutionResult> {
    const executor = this.options.executor;
    this.out.flush();
    this.executing = true;
    const running = executor.execute(
      code,
      mode,
      (stdout) => {
        if (generation !== this.generation) return;
        this.out.cooked(stdout);
        this.out.flush();
      },
      sourceName,
    );
    // Bytes that came in behind the command are already in the board's stdin buffer.
    const queued = this.input.takeAll();
    if (queued.length > 0) executor.feedInput(queued);
    const result = await running;
    this.checkCurrent(generation);
    this.executing = false;
    this.input.pushFront(executor.takeUnreadInput());
    return result;
  }

  private runTask(task: (generation: number) => Promise<void>): void {
    const generation = this.generation;
    this.state = 'busy';
    this.out.flush();
    task(generation).then(
      () => {
        if (generation !== this.generation) return;
        this.state = 'idle';
        this.pump();
      },
      (error: unknown) => {
        if (error instanceof Superseded || generation !== this.generation) return;
        this.hardReset('panic', error);
      },
    );
  }

  private hardReset(reason: HardResetReason, error?: unknown): void {
    this.out.flush();
    this.supersede();
    this.halt();
    this.options.onHardReset?.(reason, error);
  }

  private supersede(): void {
    this.generation++;
    this.executing = false;
    this.input.clear();
  }

  private halt(): void {
    this.state = 'halted';
    this.wakeIdleWaiters();
  }

  private checkCurrent(generation: number): void {
    if (generation !== this.generation) throw new Superseded();
  }

  private wakeIdleWaiters(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }
}
