/**
 * Getting one command's code into the board's raw REPL: raw-paste mode with
 * its flow control when the board offers it, the plain raw REPL otherwise.
 * Each function starts at the raw prompt (already read) and returns once the
 * board has taken the whole command and is about to run it.
 */
import { equalBytes } from '../format/bytes.js';
import type { Transport } from '../transport/transport.js';
import type { ByteReader } from './byte-reader.js';
import { asciiBytes } from './byte-text.js';
import type { Deadline } from './deadline.js';
import { ReplProtocolError } from './errors.js';
import {
  COMMAND_ACCEPTED,
  END_OF_COMMAND,
  END_OF_DATA,
  RAW_PASTE_REFUSED,
  RAW_PASTE_REQUEST,
  RAW_PASTE_SUPPORTED,
  RAW_PROMPT,
  RAW_REPL_HEADER,
  WINDOW_GRANT,
} from './protocol.js';

export interface RawLink {
  transport: Transport;
  reader: ByteReader;
}

/** How the plain raw REPL is fed: pyboard.py and mpremote send 256 bytes every 10 ms, so boards with small input buffers keep up. */
export interface PlainRawPacing {
  chunkSize: number;
  pauseMs: number;
}

export const PYBOARD_PACING: PlainRawPacing = { chunkSize: 256, pauseMs: 10 };

/**
 * Asks for raw-paste mode. True: the board answered `R\x01` and waits for the
 * window size to be read (sendRawPaste). False: it refused with `R\x00`, or is
 * older than raw paste and took the request as command bytes plus Ctrl-A, which
 * reprints the raw REPL header; either way it now waits for a plain raw command.
 */
export async function requestRawPaste(link: RawLink, deadline: Deadline): Promise<boolean> {
  await link.transport.write(asciiBytes(RAW_PASTE_REQUEST));
  const answer = await link.reader.readExactly(2, { deadline, waitingFor: 'the answer to the raw-paste request ("R\\x01" or "R\\x00")' });
  if (equalBytes(answer, asciiBytes(RAW_PASTE_SUPPORTED))) return true;
  if (equalBytes(answer, asciiBytes(RAW_PASTE_REFUSED))) return false;
  link.reader.unshift(answer);
  await link.reader.readUntil(RAW_REPL_HEADER + RAW_PROMPT, {
    deadline,
    waitingFor: 'the raw REPL header after a raw-paste request the board did not understand',
  });
  return false;
}

/**
 * Raw-paste data transfer: the board announces a window size W as 2 bytes LE
 * (which grants one window) and then `\x01` (a second); it sends another `\x01`
 * whenever it has consumed W bytes. The host never has more bytes in flight than
 * granted, ends with `\x04` and waits for the board's `\x04`. A `\x04` from the
 * board while data still flows means it stopped reading (e.g. a syntax error):
 * the host answers `\x04` and the board reports the error as the command's output.
 */
export async function sendRawPaste(link: RawLink, code: Uint8Array, deadline: Deadline): Promise<'sent' | 'aborted'> {
  const { reader, transport } = link;
  const sizeBytes = await reader.readExactly(2, { deadline, waitingFor: 'the raw-paste window size' });
  const windowSize = sizeBytes[0]! | (sizeBytes[1]! << 8);
  if (windowSize === 0) throw new ReplProtocolError('the board announced a raw-paste window of 0 bytes', sizeBytes);
  let credit = windowSize;
  let sent = 0;
  while (sent < code.length) {
    // Take in every flow-control byte already here; wait for one when out of credit.
    while (credit === 0 || reader.bufferedLength > 0) {
      const signal = await reader.readExactly(1, { deadline, waitingFor: 'a raw-paste window grant ("\\x01")' });
      if (signal[0] === WINDOW_GRANT) credit += windowSize;
      else if (signal[0] === END_OF_DATA) {
        await transport.write(Uint8Array.of(END_OF_DATA));
        return 'aborted';
      } else throw new ReplProtocolError('unexpected byte from the board during raw-paste transfer', signal);
    }
    const piece = code.subarray(sent, sent + credit);
    await transport.write(piece);
    sent += piece.length;
    credit -= piece.length;
  }
  await transport.write(Uint8Array.of(END_OF_DATA));
  const answer = await reader.readUntil(Uint8Array.of(END_OF_DATA), {
    deadline,
    waitingFor: 'the board to confirm the end of raw-paste data ("\\x04")',
  });
  if (answer.subarray(0, -1).some((byte) => byte !== WINDOW_GRANT)) {
    throw new ReplProtocolError('unexpected bytes from the board at the end of raw-paste transfer', answer);
  }
  return 'sent';
}

/** Plain raw REPL: the code, paced, then Ctrl-D; the board answers `OK`. */
export async function sendPlainRaw(link: RawLink, code: Uint8Array, deadline: Deadline, pacing = PYBOARD_PACING): Promise<void> {
  for (let at = 0; at < code.length; at += pacing.chunkSize) {
    if (at > 0 && pacing.pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pacing.pauseMs));
    await link.transport.write(code.subarray(at, at + pacing.chunkSize));
  }
  await link.transport.write(Uint8Array.of(END_OF_COMMAND));
  const answer = await link.reader.readExactly(COMMAND_ACCEPTED.length, { deadline, waitingFor: `"${COMMAND_ACCEPTED}" after the command` });
  if (!equalBytes(answer, asciiBytes(COMMAND_ACCEPTED))) {
    throw new ReplProtocolError(`the board did not accept the command: expected "${COMMAND_ACCEPTED}"`, answer);
  }
}
