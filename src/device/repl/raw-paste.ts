import { ByteAccumulator } from './byte-accumulator.js';
import { CTRL_C, CTRL_D } from './control-chars.js';
import type { OutputBuffer } from './output-buffer.js';

/** MICROPY_REPL_STDIN_BUFFER_MAX: the ESP32 port keeps pyexec.c's default. */
export const DEFAULT_STDIN_BUFFER_SIZE = 256;

const WINDOW_AVAILABLE = 0x01;
const END_OF_DATA = 0x04;

/**
 * Receives the code of one raw-paste command with its flow control
 * (mp_reader_stdin_* in shared/runtime/pyexec.c): the window is half the stdin
 * buffer; announcing its size grants one window and the `\x01` after it a
 * second; each window's worth of consumed bytes grants another `\x01`.
 * Ctrl-D ends the code, Ctrl-C aborts it; both are answered with `\x04`.
 */
export class RawPasteReceiver {
  private readonly code = new ByteAccumulator();
  private windowRemaining: number;

  constructor(
    private readonly out: OutputBuffer,
    private readonly windowSize: number,
  ) {
    this.windowRemaining = windowSize;
    out.bytes(Uint8Array.of(windowSize & 0xff, windowSize >> 8, WINDOW_AVAILABLE));
  }

  /** Returns 'end' or 'interrupt' when the command is over. */
  feed(byte: number): 'end' | 'interrupt' | undefined {
    if (byte === CTRL_C || byte === CTRL_D) {
      this.out.bytes(Uint8Array.of(END_OF_DATA));
      return byte === CTRL_C ? 'interrupt' : 'end';
    }
    this.code.push(byte);
    if (--this.windowRemaining === 0) {
      this.out.bytes(Uint8Array.of(WINDOW_AVAILABLE));
      this.windowRemaining = this.windowSize;
    }
    return undefined;
  }

  get source(): string {
    return this.code.decode();
  }
}

export function rawPasteWindowSize(stdinBufferSize: number): number {
  return Math.floor(stdinBufferSize / 2);
}
