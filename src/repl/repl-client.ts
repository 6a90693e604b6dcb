import type { Transport } from '../transport/transport.js';
import { ByteReader } from './byte-reader.js';
import { asciiBytes, utf8Bytes, utf8Text } from './byte-text.js';
import { PYBOARD_PACING, requestRawPaste, sendPlainRaw, sendRawPaste, type PlainRawPacing, type RawLink } from './code-transfer.js';
import { Deadline } from './deadline.js';
import { DeviceError, ReplProtocolError } from './errors.js';
import {
  END_OF_COMMAND,
  END_OF_OUTPUT,
  ENTER_RAW_REPL,
  EXIT_RAW_REPL,
  FRIENDLY_PROMPT,
  INTERRUPT,
  RAW_PROMPT,
  RAW_REPL_HEADER,
  SOFT_REBOOT,
} from './protocol.js';

export interface ReplClientOptions {
  /** Time limit of an operation called without one (default 10 s, as mpremote). */
  timeoutMs?: number;
  /** How the plain raw REPL is fed when the board has no raw paste (default: 256 bytes every 10 ms). */
  plainRawPacing?: PlainRawPacing;
  /** interrupt() discards output until the link has been quiet this long (default 100 ms). */
  quietMs?: number;
}

export interface ExecOptions {
  /** Gets the program's stdout as it arrives (cooked: `\r\n` line ends). */
  onStdout?: (bytes: Uint8Array) => void;
  /** For the whole command: sending the code, running it, its output. */
  timeoutMs?: number;
}

/**
 * A program started with startProgram(): until finish(), the caller owns the
 * byte stream. Its stdout comes through `output` (read it there, not from the
 * transport: the reader already buffers every byte) and `write` feeds its stdin.
 * The board turns Ctrl-C (0x03) in stdin into KeyboardInterrupt unless the
 * program calls micropython.kbd_intr(-1); a program must not print `\x04`
 * before it ends, since that byte ends its output.
 */
export interface RunningProgram {
  readonly output: ByteReader;
  write(data: Uint8Array): Promise<void>;
  /** Waits for the program to end: the rest of its stdout, or DeviceError when it raised. */
  finish(options?: ExecOptions): Promise<Uint8Array>;
}

/**
 * Where the board's REPL is, as far as the client knows:
 * `unknown`: not entered yet, or a step failed half-way (enterRawRepl() recovers);
 * `raw-prompt`: at the raw prompt `>`, which has been read;
 * `raw-prompt-due`: a command has ended and its `>` is still to be read (read lazily, as mpremote does);
 * `program`: a program started with startProgram() runs.
 */
type ReplState = 'unknown' | 'raw-prompt' | 'raw-prompt-due' | 'program';

/**
 * Drives a MicroPython board's raw REPL over any Transport, accepting exactly
 * the bytes a real board sends (shared/runtime/pyexec.c), in the way of
 * MicroPython's tools/pyboard.py and mpremote. One operation at a time.
 */
export class ReplClient {
  readonly reader: ByteReader;
  private readonly timeoutMs: number;
  private readonly pacing: PlainRawPacing;
  private readonly quietMs: number;
  private state: ReplState = 'unknown';
  private rawPaste: boolean | undefined;
  private operation: string | undefined;

  constructor(
    readonly transport: Transport,
    options: ReplClientOptions = {},
  ) {
    this.reader = new ByteReader(transport);
    // Raw-paste mode answers with a binary window size, which a text-only link cannot carry.
    if (transport.textOnly) this.rawPaste = false;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.pacing = options.plainRawPacing ?? PYBOARD_PACING;
    this.quietMs = options.quietMs ?? 100;
  }

  /** Whether the board offers raw-paste mode; undefined until the first command asks. A refusal is remembered for the connection. */
  get rawPasteSupported(): boolean | undefined {
    return this.rawPaste;
  }

  get inRawRepl(): boolean {
    return this.state !== 'unknown';
  }

  /** Ctrl-C twice: stops a running program. Returns the output discarded until the link fell quiet. */
  interrupt(options: { timeoutMs?: number } = {}): Promise<Uint8Array> {
    return this.exclusive('interrupt', async () => {
      this.state = 'unknown';
      await this.transport.write(asciiBytes(INTERRUPT));
      return this.reader.drain({ quietMs: this.quietMs, timeoutMs: options.timeoutMs ?? this.timeoutMs });
    });
  }

  /**
   * Stops whatever runs and enters the raw REPL, as mpremote does: `\r` and
   * Ctrl-C, drop what has arrived, `\r` Ctrl-A, wait for the raw REPL header and
   * prompt. With softReset, then Ctrl-D: `soft reboot`, boot.py, header, prompt.
   */
  enterRawRepl(options: { softReset?: boolean; timeoutMs?: number } = {}): Promise<void> {
    return this.exclusive('enterRawRepl', async () => {
      this.state = 'unknown';
      const deadline = new Deadline(options.timeoutMs ?? this.timeoutMs);
      await this.transport.write(asciiBytes(INTERRUPT));
      this.reader.takeBuffered();
      await this.transport.write(asciiBytes(ENTER_RAW_REPL));
      await this.reader.readUntil(RAW_REPL_HEADER + RAW_PROMPT, { deadline, waitingFor: 'the raw REPL header and prompt' });
      if (options.softReset) {
        await this.transport.write(Uint8Array.of(END_OF_COMMAND));
        await this.reader.readUntil(SOFT_REBOOT, { deadline, waitingFor: 'the soft reboot message' });
        await this.reader.readUntil(RAW_REPL_HEADER + RAW_PROMPT, { deadline, waitingFor: 'the raw REPL header after the soft reboot' });
      }
      this.state = 'raw-prompt';
    });
  }

  /** Ctrl-B: back to the friendly REPL; resolves at its `>>> ` prompt. */
  exitRawRepl(options: { timeoutMs?: number } = {}): Promise<void> {
    return this.exclusive('exitRawRepl', async () => {
      this.assertNoProgram('leave the raw REPL');
      this.state = 'unknown';
      await this.transport.write(asciiBytes(EXIT_RAW_REPL));
      await this.reader.readUntil(FRIENDLY_PROMPT, { timeoutMs: options.timeoutMs ?? this.timeoutMs, waitingFor: 'the friendly REPL prompt' });
    });
  }

  /** Runs code in the raw REPL; resolves with its stdout, or rejects with DeviceError when it raised. */
  exec(code: string | Uint8Array, options: ExecOptions = {}): Promise<Uint8Array> {
    return this.exclusive('exec', async () => {
      const deadline = new Deadline(options.timeoutMs ?? this.timeoutMs);
      await this.launch(code, deadline);
      return this.collect(deadline, options.onStdout);
    });
  }

  /** The value of a Python expression, through json.dumps on the board. */
  async evalJson<T = unknown>(expression: string, options: { timeoutMs?: number } = {}): Promise<T> {
    const stdout = await this.exec(`import json;print(json.dumps(${expression}))`, options);
    const lines = utf8Text(stdout).split(/\r?\n/).filter((line) => line.trim().length > 0);
    try {
      return JSON.parse(lines.at(-1) ?? '') as T;
    } catch {
      throw new ReplProtocolError(`the board printed no JSON for ${expression}`, stdout);
    }
  }

  /** Sends code and resolves once the board has taken it and starts running it; see RunningProgram. */
  startProgram(code: string | Uint8Array, options: { timeoutMs?: number } = {}): Promise<RunningProgram> {
    return this.exclusive('startProgram', async () => {
      await this.launch(code, new Deadline(options.timeoutMs ?? this.timeoutMs));
      return {
        output: this.reader,
        write: (data) => this.transport.write(data),
        finish: (finishOptions) => this.finishProgram(finishOptions),
      };
    });
  }

  /** Waits for the program of startProgram() to end; resolves with the stdout not read through `output`. */
  finishProgram(options: ExecOptions = {}): Promise<Uint8Array> {
    return this.exclusive('finishProgram', async () => {
      if (this.state !== 'program') throw new Error('no program is running: call startProgram() first');
      return this.collect(new Deadline(options.timeoutMs ?? this.timeoutMs), options.onStdout);
    });
  }

  /** Stops listening to the transport (which stays open). */
  dispose(): void {
    this.reader.dispose();
  }

  /** Brings the code to the board; on return the board runs it. */
  private async launch(code: string | Uint8Array, deadline: Deadline): Promise<void> {
    this.assertNoProgram('start a new command');
    if (this.state === 'unknown') throw new Error('the board is not known to be in the raw REPL: call enterRawRepl() first');
    const bytes = typeof code === 'string' ? utf8Bytes(code) : code;
    // An empty raw REPL command is a soft reset, not an empty program.
    if (bytes.length === 0) throw new RangeError('no code to run');
    await this.failing(async () => {
      if (this.state === 'raw-prompt-due') {
        await this.reader.readUntil(RAW_PROMPT, { deadline, waitingFor: 'the raw REPL prompt (">")' });
      }
      const link: RawLink = { transport: this.transport, reader: this.reader };
      if (this.rawPaste !== false) this.rawPaste = await requestRawPaste(link, deadline);
      if (this.rawPaste) await sendRawPaste(link, bytes, deadline);
      else await sendPlainRaw(link, bytes, deadline, this.pacing);
      this.state = 'program';
    });
  }

  /** The rest of a running command's output: stdout, `\x04`, exception text, `\x04`. */
  private async collect(deadline: Deadline, onStdout: ((bytes: Uint8Array) => void) | undefined): Promise<Uint8Array> {
    const [stdout, stderr] = await this.failing(async () => {
      const end = Uint8Array.of(END_OF_OUTPUT);
      const out = await this.reader.readUntil(end, { deadline, onData: onStdout, waitingFor: 'the end of the program\'s output ("\\x04")' });
      const err = await this.reader.readUntil(end, { deadline, waitingFor: 'the end of the program\'s exception text ("\\x04")' });
      return [out.subarray(0, -1), err.subarray(0, -1)];
    });
    this.state = 'raw-prompt-due';
    if (stderr.length > 0) throw new DeviceError(utf8Text(stderr).replace(/\r\n/g, '\n'), stdout);
    return stdout;
  }

  /** After a failed step the board may be anywhere in the protocol. */
  private async failing<T>(step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (error) {
      this.state = 'unknown';
      throw error;
    }
  }

  private assertNoProgram(what: string): void {
    if (this.state === 'program') throw new Error(`cannot ${what} while a program runs: call finishProgram() first`);
  }

  private async exclusive<T>(name: string, operation: () => Promise<T>): Promise<T> {
    if (this.operation) throw new Error(`cannot ${name}: ${this.operation} has not finished`);
    this.operation = name;
    try {
      return await operation();
    } finally {
      this.operation = undefined;
    }
  }
}
