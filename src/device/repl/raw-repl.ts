import { ByteAccumulator } from './byte-accumulator.js';
import { CTRL_A, CTRL_B, CTRL_C, CTRL_D, CTRL_E } from './control-chars.js';
import { NEW_LINE, RAW_COMMAND_ACCEPTED, RAW_PROMPT, RAW_REPL_HEADER } from './messages.js';
import type { OutputBuffer } from './output-buffer.js';
import { RawPasteReceiver } from './raw-paste.js';

/** What the raw REPL asks of the machine once a byte has been handled. */
export type RawAction =
  | { kind: 'execute'; code: string }
  | { kind: 'paste-interrupted' }
  | { kind: 'soft-reset' }
  | { kind: 'enter-friendly' };

export interface RawReplOptions {
  /** Whether `\x05A\x01` starts raw-paste mode (`R\x01`) or is refused (`R\x00`). */
  rawPaste: boolean;
  /** Raw-paste flow-control window in bytes. */
  windowSize: number;
}

const RAW_PASTE_COMMAND = 'A'.charCodeAt(0);

/**
 * The raw REPL of pyexec_raw_repl (shared/runtime/pyexec.c): no echo, every byte
 * but Ctrl-A/B/C/D goes into the command; Ctrl-D runs it after `OK`. A command
 * buffer of exactly Ctrl-E and one letter followed by Ctrl-A is a raw-paste request.
 */
export class RawRepl {
  private readonly command = new ByteAccumulator();
  private paste: RawPasteReceiver | undefined;

  constructor(
    private readonly out: OutputBuffer,
    private readonly options: RawReplOptions,
  ) {}

  /** What the board prints when it enters (or re-enters, on Ctrl-A) the raw REPL. */
  showHeader(): void {
    this.out.text(RAW_REPL_HEADER);
    this.showPrompt();
  }

  showPrompt(): void {
    this.command.clear();
    this.paste = undefined;
    this.out.text(RAW_PROMPT);
  }

  feed(byte: number): RawAction | undefined {
    if (this.paste) return this.feedPaste(this.paste, byte);
    switch (byte) {
      case CTRL_A:
        if (this.command.length === 2 && this.command.at(0) === CTRL_E) {
          this.startRawPaste(this.command.at(1)!);
        } else {
          this.showHeader();
        }
        return undefined;
      case CTRL_B:
        this.command.clear();
        this.out.text(NEW_LINE);
        return { kind: 'enter-friendly' };
      case CTRL_C:
        this.command.clear();
        return undefined;
      case CTRL_D:
        return this.endOfCommand();
      default:
        this.command.push(byte);
        return undefined;
    }
  }

  private endOfCommand(): RawAction {
    this.out.text(RAW_COMMAND_ACCEPTED);
    if (this.command.length === 0) {
      this.out.text(NEW_LINE);
      return { kind: 'soft-reset' };
    }
    const code = this.command.decode();
    this.command.clear();
    return { kind: 'execute', code };
  }

  private startRawPaste(request: number): void {
    this.command.clear();
    if (request !== RAW_PASTE_COMMAND) {
      // do_reader_stdin answers an unknown request, then the raw REPL prompts again.
      this.out.text('R\x00');
      this.showPrompt();
    } else if (!this.options.rawPaste) {
      // No firmware refuses 'A', so there is no source to follow; this is what
      // docs/reference/repl.rst, mpremote and pyboard.py expect: `R\x00`, then
      // plain raw mode with no further prompt.
      this.out.text('R\x00');
    } else {
      this.out.text('R\x01');
      this.paste = new RawPasteReceiver(this.out, this.options.windowSize);
    }
  }

  private feedPaste(paste: RawPasteReceiver, byte: number): RawAction | undefined {
    const event = paste.feed(byte);
    if (event === undefined) return undefined;
    this.paste = undefined;
    return event === 'end' ? { kind: 'execute', code: paste.source } : { kind: 'paste-interrupted' };
  }
}
