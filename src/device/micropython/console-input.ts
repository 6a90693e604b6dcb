/**
 * builtins.input() for the virtual UART. The build's own input() reads
 * mp_hal_stdin_rx_chr(), which this port defines as 0, so it would spin for
 * ever without seeing Ctrl-C. This one reads the stdin ring and edits the
 * line like the board's shared/readline: printable ASCII is echoed, backspace
 * (0x08, 0x7f) erases with "\b \b", Enter is `\r`, escape sequences (cursor
 * keys) are skipped; Ctrl-C raises KeyboardInterrupt, Ctrl-D on an empty line
 * EOFError, Ctrl-A/B/E on an empty line return ''. History and in-line cursor
 * movement are not modelled. The echoed end of line is `\n`, which the REPL
 * layer cooks to `\r\n` like the rest of the output.
 */
import type { MainTask } from './main-task.js';
import type { StdinRing } from './stdin-ring.js';

const CTRL_A = 0x01;
const CTRL_B = 0x02;
const CTRL_C = 0x03;
const CTRL_D = 0x04;
const CTRL_E = 0x05;
const BACKSPACE = 0x08;
const DELETE = 0x7f;
const ESCAPE = 0x1b;
const ENTER = 0x0d;

export interface InputWiring {
  stdin: StdinRing;
  /** How the program waits for input that is not there yet (and takes it off the board-faithful wire). */
  mainTask: MainTask;
  output(bytes: Uint8Array): void;
  /** Raises a pending KeyboardInterrupt, if there is one, in the calling Python code. */
  raisePendingInterrupt(): void;
  /** Raises a new instance of a builtin exception in the calling Python code. */
  raiseBuiltin(name: 'KeyboardInterrupt' | 'EOFError'): never;
}

export function makeInput(wiring: InputWiring): (prompt?: unknown) => string {
  const encoder = new TextEncoder();
  const readByte = (): number => {
    const one = new Uint8Array(1);
    wiring.mainTask.awaitStdin(wiring.raisePendingInterrupt);
    wiring.stdin.read(one);
    return one[0]!;
  };

  return (prompt?: unknown) => {
    if (prompt !== undefined && prompt !== null) wiring.output(encoder.encode(String(prompt)));
    const line: number[] = [];
    for (;;) {
      const byte = readByte();
      if (byte === ENTER) {
        wiring.output(encoder.encode('\n'));
        return String.fromCharCode(...line);
      }
      if (byte === CTRL_C) wiring.raiseBuiltin('KeyboardInterrupt');
      if (line.length === 0 && byte === CTRL_D) wiring.raiseBuiltin('EOFError');
      if (line.length === 0 && (byte === CTRL_A || byte === CTRL_B || byte === CTRL_E)) return '';
      if (byte === ESCAPE) {
        skipEscapeSequence(readByte);
      } else if (byte === BACKSPACE || byte === DELETE) {
        if (line.pop() !== undefined) wiring.output(encoder.encode('\b \b'));
      } else if (byte >= 0x20 && byte <= 0x7e) {
        line.push(byte);
        wiring.output(Uint8Array.of(byte));
      }
    }
  };
}

/** ESC [ params final, or ESC O final (VT100 cursor and function keys). */
function skipEscapeSequence(readByte: () => number): void {
  const introducer = readByte();
  if (introducer !== 0x5b && introducer !== 0x4f) return;
  for (;;) {
    const byte = readByte();
    if (byte >= 0x40 && byte <= 0x7e) return;
  }
}
