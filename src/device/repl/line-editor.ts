import {
  BACKSPACE,
  CARRIAGE_RETURN,
  CTRL_A,
  CTRL_B,
  CTRL_C,
  CTRL_D,
  CTRL_E,
  CTRL_F,
  CTRL_K,
  CTRL_N,
  CTRL_P,
  CTRL_U,
  DELETE,
  ESCAPE,
  SPACE,
  TAB,
} from './control-chars.js';
import { HISTORY_SIZE, type LineHistory } from './line-history.js';
import type { OutputBuffer } from './output-buffer.js';

/**
 * The friendly REPL's line editor as an ESP32 build of MicroPython v1.23 has it
 * (shared/readline/readline.c with MICROPY_REPL_EMACS_KEYS and
 * MICROPY_REPL_AUTO_INDENT on, emacs word moves off): VT100 echo and redraw,
 * history, auto-indent. Only `\r` ends a line (v1.23 ignores `\n`); bytes outside
 * 32..126 that are not keys are dropped. Tab completion of names needs the
 * interpreter and is not modelled: Tab after whitespace still inserts 4 spaces.
 */

/** Why the editor stopped: Enter, or a control key the REPL acts on. */
export type LineSignal = 'enter' | 'ctrl-a' | 'ctrl-b' | 'ctrl-c' | 'ctrl-d' | 'ctrl-e';

const CONTROL_SIGNALS: Record<number, LineSignal> = {
  [CTRL_A]: 'ctrl-a',
  [CTRL_B]: 'ctrl-b',
  [CTRL_C]: 'ctrl-c',
  [CTRL_D]: 'ctrl-d',
  [CTRL_E]: 'ctrl-e',
};

enum EscapeState {
  None,
  Escape,
  Bracket,
  BracketDigit,
  LetterO,
}

/** What one key asks the screen to do, applied by redraw() as readline.c does. */
interface Redraw {
  stepBack: number;
  fromCursor: boolean;
  stepForward: number;
}

const INDENT = '    ';

export class LineEditor {
  /** Every line of the statement so far; the one being edited starts at editStart. */
  private buffer = '';
  private editStart = 0;
  private cursor = 0;
  private escape = EscapeState.None;
  private escapeDigit = '';
  private historyIndex = -1;
  private autoIndentEnabled = false;
  private autoIndentJustAdded = false;

  constructor(
    private readonly out: OutputBuffer,
    private readonly history: LineHistory,
  ) {}

  /** The whole statement typed so far, lines joined with `\n`. */
  get text(): string {
    return this.buffer;
  }

  /**
   * Starts editing a new line after `previousLines` (which then end with `\n`):
   * prints the prompt and, for a continuation line, the automatic indent.
   */
  begin(prompt: string, previousLines = ''): void {
    this.buffer = previousLines;
    this.editStart = previousLines.length;
    this.cursor = this.editStart;
    this.escape = EscapeState.None;
    this.escapeDigit = '';
    this.historyIndex = -1;
    this.out.text(prompt);
    if (previousLines.length === 0) {
      this.autoIndentEnabled = true;
      this.autoIndentJustAdded = false;
    }
    this.autoIndent();
  }

  /** Handles one host byte; returns a signal when the line is done or a REPL control key was pressed. */
  feed(byte: number): LineSignal | undefined {
    const lengthBefore = this.buffer.length;
    const redraw: Redraw = { stepBack: 0, fromCursor: false, stepForward: 0 };
    switch (this.escape) {
      case EscapeState.None: {
        const signal = this.plainByte(byte, redraw);
        if (signal) return signal;
        break;
      }
      case EscapeState.Escape:
        this.afterEscape(byte);
        break;
      case EscapeState.Bracket:
        this.afterBracket(byte, redraw);
        break;
      case EscapeState.BracketDigit:
        this.afterBracketDigit(byte, redraw);
        break;
      case EscapeState.LetterO:
        this.afterLetterO(byte, redraw);
        break;
    }
    this.applyRedraw(redraw, lengthBefore);
    this.autoIndentJustAdded = false;
    return undefined;
  }

  private plainByte(byte: number, redraw: Redraw): LineSignal | undefined {
    if (byte >= CTRL_A && byte <= CTRL_E && this.buffer.length === this.editStart) {
      return CONTROL_SIGNALS[byte];
    }
    switch (byte) {
      case CTRL_A:
        this.home(redraw);
        return undefined;
      case CTRL_B:
        this.left(redraw);
        return undefined;
      case CTRL_C:
        return 'ctrl-c';
      case CTRL_D:
        this.deleteAtCursor(redraw);
        return undefined;
      case CTRL_E:
        this.end(redraw);
        return undefined;
      case CTRL_F:
        this.right(redraw);
        return undefined;
      case CTRL_K:
        this.buffer = this.buffer.slice(0, this.cursor);
        redraw.fromCursor = true;
        return undefined;
      case CTRL_N:
        this.newerHistory(redraw);
        return undefined;
      case CTRL_P:
        this.olderHistory(redraw);
        return undefined;
      case CTRL_U:
        this.buffer = this.buffer.slice(0, this.editStart) + this.buffer.slice(this.cursor);
        redraw.stepBack = this.cursor - this.editStart;
        redraw.fromCursor = true;
        return undefined;
      case CARRIAGE_RETURN:
        this.out.text('\r\n');
        this.history.push(this.buffer.slice(this.editStart));
        return 'enter';
      case ESCAPE:
        this.escape = EscapeState.Escape;
        return undefined;
      case BACKSPACE:
      case DELETE:
        this.backspace(redraw);
        return undefined;
    }
    if (this.autoIndentJustAdded && (byte === TAB || byte === SPACE)) {
      this.undoAutoIndent(byte, redraw);
    } else if (byte === TAB) {
      this.tab(redraw);
    } else if (byte >= 0x20 && byte <= 0x7e) {
      this.insert(String.fromCharCode(byte), redraw);
    }
    return undefined;
  }

  private afterEscape(byte: number): void {
    const ch = String.fromCharCode(byte);
    this.escape = ch === '[' ? EscapeState.Bracket : ch === 'O' ? EscapeState.LetterO : EscapeState.None;
  }

  private afterBracket(byte: number, redraw: Redraw): void {
    const ch = String.fromCharCode(byte);
    if (ch >= '0' && ch <= '9') {
      this.escape = EscapeState.BracketDigit;
      this.escapeDigit = ch;
      return;
    }
    this.escape = EscapeState.None;
    if (ch === 'A') this.olderHistory(redraw);
    else if (ch === 'B') this.newerHistory(redraw);
    else if (ch === 'C') this.right(redraw);
    else if (ch === 'D') this.left(redraw);
    else if (ch === 'H') this.home(redraw);
    else if (ch === 'F') this.end(redraw);
  }

  private afterBracketDigit(byte: number, redraw: Redraw): void {
    this.escape = EscapeState.None;
    if (byte !== '~'.charCodeAt(0)) return;
    const digit = this.escapeDigit;
    if (digit === '1' || digit === '7') this.home(redraw);
    else if (digit === '4' || digit === '8') this.end(redraw);
    else if (digit === '3') this.deleteAtCursor(redraw);
  }

  private afterLetterO(byte: number, redraw: Redraw): void {
    this.escape = EscapeState.None;
    const ch = String.fromCharCode(byte);
    if (ch === 'H') this.home(redraw);
    else if (ch === 'F') this.end(redraw);
  }

  private home(redraw: Redraw): void {
    redraw.stepBack = this.cursor - this.editStart;
  }

  private end(redraw: Redraw): void {
    redraw.stepForward = this.buffer.length - this.cursor;
  }

  private left(redraw: Redraw): void {
    if (this.cursor > this.editStart) redraw.stepBack = 1;
  }

  private right(redraw: Redraw): void {
    if (this.cursor < this.buffer.length) redraw.stepForward = 1;
  }

  private deleteAtCursor(redraw: Redraw): void {
    if (this.cursor < this.buffer.length) {
      this.buffer = this.buffer.slice(0, this.cursor) + this.buffer.slice(this.cursor + 1);
      redraw.fromCursor = true;
    }
  }

  private olderHistory(redraw: Redraw): void {
    const older = this.history.entry(this.historyIndex + 1);
    if (this.historyIndex + 1 < HISTORY_SIZE && older !== undefined) {
      this.historyIndex++;
      this.replaceEditedLine(older, redraw);
    }
  }

  private newerHistory(redraw: Redraw): void {
    if (this.historyIndex < 0) return;
    this.historyIndex--;
    this.replaceEditedLine(this.historyIndex >= 0 ? (this.history.entry(this.historyIndex) ?? '') : '', redraw);
  }

  private replaceEditedLine(line: string, redraw: Redraw): void {
    this.buffer = this.buffer.slice(0, this.editStart) + line;
    redraw.stepBack = this.cursor - this.editStart;
    redraw.fromCursor = true;
    redraw.stepForward = line.length;
  }

  /** Deletes one character, or a whole indent level when only spaces (4 or more) precede the cursor. */
  private backspace(redraw: Redraw): void {
    if (this.cursor <= this.editStart) return;
    const beforeCursor = this.buffer.slice(this.editStart, this.cursor);
    const count = /^ {4,}$/.test(beforeCursor) ? 4 : 1;
    this.buffer = this.buffer.slice(0, this.cursor - count) + this.buffer.slice(this.cursor);
    redraw.stepBack = count;
    redraw.fromCursor = true;
  }

  /** A Tab right after an automatic indent keeps it; a space takes back 3 of its 4 spaces. Either way auto-indent stops. */
  private undoAutoIndent(byte: number, redraw: Redraw): void {
    this.autoIndentEnabled = false;
    this.autoIndentJustAdded = false;
    if (byte === SPACE) {
      redraw.stepBack = 3;
      this.buffer = this.buffer.slice(0, Math.max(0, this.buffer.length - 3));
    }
  }

  private tab(redraw: Redraw): void {
    const previous = this.buffer[this.cursor - 1];
    if (this.buffer.length !== 0 && previous !== undefined && /\s/.test(previous)) {
      this.insert(INDENT, redraw);
    }
  }

  private insert(text: string, redraw: Redraw): void {
    this.buffer = this.buffer.slice(0, this.cursor) + text + this.buffer.slice(this.cursor);
    redraw.fromCursor = true;
    redraw.stepForward = text.length;
  }

  private applyRedraw(redraw: Redraw, lengthBefore: number): void {
    if (redraw.stepBack > 0) {
      this.moveCursorBack(redraw.stepBack);
      this.cursor -= redraw.stepBack;
    }
    if (redraw.fromCursor) {
      if (this.buffer.length < lengthBefore) this.out.text('\x1b[K');
      this.out.text(this.buffer.slice(this.cursor));
      this.moveCursorBack(this.buffer.length - (this.cursor + redraw.stepForward));
      this.cursor += redraw.stepForward;
    } else if (redraw.stepForward > 0) {
      this.out.text(this.buffer.slice(this.cursor, this.cursor + redraw.stepForward));
      this.cursor += redraw.stepForward;
    }
  }

  private moveCursorBack(steps: number): void {
    if (steps <= 0) return;
    this.out.text(steps <= 4 ? '\b'.repeat(steps) : `\x1b[${steps}D`);
  }

  /**
   * After the prompt of a continuation line: indent like the previous line, one
   * level more after a trailing `:`, nothing when the previous two lines were blank.
   */
  private autoIndent(): void {
    const buffer = this.buffer;
    if (!this.autoIndentEnabled || buffer.length <= 1 || !buffer.endsWith('\n')) return;
    const previousStart = buffer.lastIndexOf('\n', buffer.length - 2) + 1;
    const previousLine = buffer.slice(previousStart, buffer.length - 1);
    const leadingSpaces = /^ */.exec(previousLine)![0].length;
    const previousIsBlank = /^ *$/.test(previousLine);
    if (previousStart > 0 && previousIsBlank && this.lineBeforeIsBlank(previousStart - 1)) return;
    let levels = Math.floor(leadingSpaces / 4);
    if (buffer[buffer.length - 2] === ':') levels++;
    for (; levels > 0; levels--) {
      this.buffer += INDENT;
      this.out.text(INDENT);
      this.cursor += INDENT.length;
      this.autoIndentJustAdded = true;
    }
  }

  /** Whether the line ending at `newlineAt` is all spaces and not the first line. */
  private lineBeforeIsBlank(newlineAt: number): boolean {
    for (let k = newlineAt; k > 0; k--) {
      const ch = this.buffer[k - 1];
      if (ch === '\n') return true;
      if (ch !== ' ') return false;
    }
    return false;
  }
}
