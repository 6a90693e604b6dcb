/**
 * What the REPL state machine needs from the Python interpreter. The REPL
 * protocols (prompts, echo, raw framing, resets) live in the machine; an
 * executor only runs code and owns the running program's stdin.
 */

/**
 * How the source is compiled, as pyexec.c does it:
 * - `exec`: a whole file (raw REPL, raw-paste, boot.py, main.py).
 * - `single`: one interactive statement; expression values are printed (`>>> 1+1`).
 * - `paste`: a whole file compiled as REPL input (friendly paste mode passes
 *   EXEC_FLAG_IS_REPL with MP_PARSE_FILE_INPUT), so top-level expression
 *   statements print their value too.
 */
export type ExecutionMode = 'exec' | 'single' | 'paste';

export interface ExecutionResult {
  /**
   * Text of the uncaught exception, with `\n` line ends, e.g.
   * 'Traceback (most recent call last):\n  File "<stdin>", line 1, in <module>\nZeroDivisionError: divide by zero\n'.
   * Absent on success and on SystemExit (which prints nothing).
   */
  exception?: string;
  /** `soft`: machine.soft_reset(); `hard`: machine.reset() (the chip restarts at once). */
  reset?: 'soft' | 'hard';
}

export interface CodeExecutor {
  /**
   * Compiles and runs `code`. `onOutput` gets stdout as the program writes it,
   * raw with `\n` line ends (the machine cooks it for the UART).
   * `sourceName` is the file name used in tracebacks: `<stdin>` unless given.
   */
  execute(
    code: string,
    mode: ExecutionMode,
    onOutput: (stdout: Uint8Array) => void,
    sourceName?: string,
  ): Promise<ExecutionResult>;

  /**
   * Host bytes that arrive from the call to execute() on, in order: the running
   * program's stdin, like a board's UART ring buffer. The executor reacts to the
   * interrupt character (Ctrl-C unless the program changed it with
   * micropython.kbd_intr) by raising KeyboardInterrupt and drops it, as the
   * ESP32 UART interrupt handler does.
   */
  feedInput(bytes: Uint8Array): void;

  /**
   * Removes and returns the fed bytes the program did not read, oldest first.
   * Called after each execution: the REPL then reads them, so a host that sends
   * its next command before the previous one has finished loses nothing.
   */
  takeUnreadInput(): Uint8Array;

  /** A fresh interpreter: globals and imported modules are gone, files stay. */
  softReset(): Promise<void>;
}
