import { ByteAccumulator } from './byte-accumulator.js';
import { CARRIAGE_RETURN, CTRL_C, CTRL_D } from './control-chars.js';
import { needsContinuation } from './continuation.js';
import { LineEditor, type LineSignal } from './line-editor.js';
import type { LineHistory } from './line-history.js';
import {
  CONTINUATION_PROMPT,
  NEW_LINE,
  PASTE_MODE_HEADER,
  PASTE_NEW_LINE,
  PRIMARY_PROMPT,
  friendlyBanner,
} from './messages.js';
import type { OutputBuffer } from './output-buffer.js';

/** What the friendly REPL asks of the machine once a key has been handled. */
export type FriendlyAction =
  | { kind: 'execute'; code: string; mode: 'single' | 'paste' }
  | { kind: 'soft-reset' }
  | { kind: 'enter-raw' };

/**
 * The friendly REPL of pyexec_friendly_repl (shared/runtime/pyexec.c, the
 * blocking variant the ESP32 port uses): prompt, continuation lines, paste mode
 * and the control keys typed at an empty prompt.
 */
export class FriendlyRepl {
  private readonly editor: LineEditor;
  private readonly pasted = new ByteAccumulator();
  private continuing = false;
  private pasting = false;

  constructor(
    private readonly out: OutputBuffer,
    history: LineHistory,
    private readonly banner: () => string,
  ) {
    this.editor = new LineEditor(out, history);
  }

  /** What the board prints when it enters the friendly REPL: banner, then the prompt. */
  showBanner(): void {
    this.out.text(friendlyBanner(this.banner()));
    this.showPrompt();
  }

  /** A fresh `>>> ` with an empty statement. */
  showPrompt(): void {
    this.continuing = false;
    this.pasting = false;
    this.editor.begin(PRIMARY_PROMPT);
  }

  feed(byte: number): FriendlyAction | undefined {
    if (this.pasting) return this.feedPaste(byte);
    const signal = this.editor.feed(byte);
    if (signal === undefined) return undefined;
    return this.continuing ? this.afterContinuationLine(signal) : this.afterFirstLine(signal);
  }

  private afterFirstLine(signal: LineSignal): FriendlyAction | undefined {
    switch (signal) {
      case 'ctrl-a':
        this.out.text(NEW_LINE);
        return { kind: 'enter-raw' };
      case 'ctrl-b':
        this.out.text(NEW_LINE);
        this.showBanner();
        return undefined;
      case 'ctrl-c':
        this.out.text(NEW_LINE);
        this.showPrompt();
        return undefined;
      case 'ctrl-d':
        this.out.text(NEW_LINE);
        return { kind: 'soft-reset' };
      case 'ctrl-e':
        this.out.text(PASTE_MODE_HEADER);
        this.pasted.clear();
        this.pasting = true;
        return undefined;
      case 'enter':
        if (this.editor.text.length === 0) {
          this.showPrompt();
          return undefined;
        }
        return this.continueOrExecute();
    }
  }

  /** In a continuation line only Ctrl-C (cancel) and Ctrl-D (run now) are special; any other signal re-checks the statement. */
  private afterContinuationLine(signal: LineSignal): FriendlyAction | undefined {
    if (signal === 'ctrl-c') {
      this.out.text(NEW_LINE);
      this.showPrompt();
      return undefined;
    }
    if (signal === 'ctrl-d') return this.execute();
    return this.continueOrExecute();
  }

  private continueOrExecute(): FriendlyAction | undefined {
    const statement = this.editor.text;
    if (!needsContinuation(statement)) return this.execute();
    this.continuing = true;
    this.editor.begin(CONTINUATION_PROMPT, `${statement}\n`);
    return undefined;
  }

  private execute(): FriendlyAction {
    this.continuing = false;
    return { kind: 'execute', code: this.editor.text, mode: 'single' };
  }

  private feedPaste(byte: number): FriendlyAction | undefined {
    if (byte === CTRL_C) {
      this.out.text(NEW_LINE);
      this.showPrompt();
      return undefined;
    }
    if (byte === CTRL_D) {
      this.out.text(NEW_LINE);
      this.pasting = false;
      return { kind: 'execute', code: this.pasted.decode(), mode: 'paste' };
    }
    this.pasted.push(byte);
    if (byte === CARRIAGE_RETURN) this.out.text(PASTE_NEW_LINE);
    else this.out.bytes(Uint8Array.of(byte));
    return undefined;
  }
}
