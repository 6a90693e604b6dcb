import { showBytes } from './byte-text.js';

/** The board did not send what the protocol expects within the time allowed. */
export class ReplTimeoutError extends Error {
  constructor(
    /** What was awaited, for people: e.g. `"raw REPL; CTRL-B to exit\r\n>"` or `2 bytes (the raw-paste answer)`. */
    readonly waitingFor: string,
    readonly timeoutMs: number,
    /** The bytes received and not yet consumed when the time ran out: what the wait looked at. */
    readonly received: Uint8Array,
    linkDescription: string,
  ) {
    super(`timed out after ${timeoutMs} ms waiting for ${waitingFor} from ${linkDescription}; ${describeReceived(received)}`);
    this.name = 'ReplTimeoutError';
  }
}

/** The board sent bytes the protocol does not allow at this point. */
export class ReplProtocolError extends Error {
  constructor(
    message: string,
    readonly received: Uint8Array,
  ) {
    super(`${message} (received ${showBytes(received)})`);
    this.name = 'ReplProtocolError';
  }
}

/** Code run on the board raised an exception. */
export class DeviceError extends Error {
  constructor(
    /** The board's exception text with `\n` line ends, e.g. 'Traceback (most recent call last):\n  File "<stdin>", line 1, in <module>\nZeroDivisionError: divide by zero\n'. */
    readonly traceback: string,
    /** What the code printed before it failed. */
    readonly stdout: Uint8Array,
  ) {
    super(lastLine(traceback));
    this.name = 'DeviceError';
  }
}

export function describeReceived(received: Uint8Array): string {
  if (received.length === 0) return 'received nothing';
  const count = `${received.length.toLocaleString('en-US')} byte${received.length === 1 ? '' : 's'}`;
  return `received ${count}: ${showBytes(received)}`;
}

function lastLine(text: string): string {
  const lines = text.split('\n').map((line) => line.trim()).filter((line) => line.length > 0);
  return lines.at(-1) ?? 'the board reported an error without a message';
}
