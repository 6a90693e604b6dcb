/**
 * The transfer protocol's wire formats (docs/transfer-protocol.md): binary
 * frames from the host to the agent on the board's stdin, and the agent's
 * ASCII report lines on its stdout. Pure: no Node imports.
 *
 * Frame, little-endian:
 *
 *   0  u8   0xA7 (sync)
 *   1  u8   type: 'S' start a run of blocks, 'D' one block, 'E' end, 'X' abort
 *   2  u16  sequence number (frame index, from 0)
 *   4  u16  payload length (at most MAX_PAYLOAD)
 *   6  u32  CRC-32 of the payload
 *  10  u16  low 16 bits of the CRC-32 of bytes 0..9 (the header check)
 *  12       payload
 *
 * The header check lets the agent trust a length before reading the payload,
 * and find the next frame again after lost or corrupted bytes.
 */
import { crc32 } from '../format/crc32.js';

export const FRAME_SYNC = 0xa7;
export const FRAME_HEADER_SIZE = 12;
/** Largest payload the agent accepts (its frame buffer). A compressed block's piece stays below 4096 + ~300. */
export const MAX_PAYLOAD = 8192;
export const PROTOCOL_VERSION = 1;

export const FrameType = {
  /** Payload `<IBB`: first block, mode (0 plain, 1 deflate), window bits. Starts a new deflate stream. */
  Start: 0x53,
  /** Payload: the next block, plain (4096 bytes, fewer for the image's last block) or its deflate piece. */
  Data: 0x44,
  /** Payload `<I32s`: image length, SHA-256. The agent checks, reads the partition back, reports. */
  End: 0x45,
  /** Payload: ASCII reason. The agent stops at once (accepted with any sequence number). */
  Abort: 0x58,
} as const;
export type FrameTypeCode = (typeof FrameType)[keyof typeof FrameType];

export const TransferMode = { Plain: 0, Deflate: 1 } as const;

export interface Frame {
  type: FrameTypeCode;
  seq: number;
  payload: Uint8Array;
}

export function encodeFrame(type: FrameTypeCode, seq: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  if (!Number.isInteger(seq) || seq < 0 || seq > 0xffff) throw new RangeError(`frame sequence number ${seq} is outside 0..65535`);
  if (payload.length > MAX_PAYLOAD) throw new RangeError(`frame payload of ${payload.length} bytes is larger than ${MAX_PAYLOAD}`);
  const frame = new Uint8Array(FRAME_HEADER_SIZE + payload.length);
  const view = new DataView(frame.buffer);
  frame[0] = FRAME_SYNC;
  frame[1] = type;
  view.setUint16(2, seq, true);
  view.setUint16(4, payload.length, true);
  view.setUint32(6, crc32(payload), true);
  view.setUint16(10, crc32(frame.subarray(0, 10)) & 0xffff, true);
  frame.set(payload, FRAME_HEADER_SIZE);
  return frame;
}

/**
 * How frames travel: `binary` as encoded above; `base64` for links that carry
 * only text (a browser's WebSocket to WebREPL must send valid UTF-8): the
 * header's 12 bytes as 16 base64 characters, then the payload's own base64.
 * The agent decodes each part (binascii.a2b_base64, in C on a board).
 */
export type Framing = 'binary' | 'base64';

/** Characters of the base64 form of `n` bytes. */
export function base64Length(n: number): number {
  return Math.ceil(n / 3) * 4;
}

/** A frame as it goes on a link with `framing`. */
export function encodeWireFrame(framing: Framing, type: FrameTypeCode, seq: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const frame = encodeFrame(type, seq, payload);
  if (framing === 'binary') return frame;
  return new TextEncoder().encode(base64(frame.subarray(0, FRAME_HEADER_SIZE)) + base64(frame.subarray(FRAME_HEADER_SIZE)));
}

function base64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 8192) binary += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return btoa(binary);
}

/** The frame at the start of `bytes`, or why not: for tests and tools (the agent has its own reader). */
export function decodeFrame(bytes: Uint8Array): Frame | { error: 'short' | 'sync' | 'header' | 'payload' } {
  if (bytes.length < FRAME_HEADER_SIZE) return { error: 'short' };
  if (bytes[0] !== FRAME_SYNC) return { error: 'sync' };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if ((crc32(bytes.subarray(0, 10)) & 0xffff) !== view.getUint16(10, true)) return { error: 'header' };
  const length = view.getUint16(4, true);
  if (bytes.length < FRAME_HEADER_SIZE + length) return { error: 'short' };
  const payload = bytes.subarray(FRAME_HEADER_SIZE, FRAME_HEADER_SIZE + length);
  if (crc32(payload) !== view.getUint32(6, true)) return { error: 'payload' };
  return { type: bytes[1] as FrameTypeCode, seq: view.getUint16(2, true), payload };
}

export function startPayload(firstBlock: number, mode: number, windowBits: number): Uint8Array {
  const payload = new Uint8Array(6);
  const view = new DataView(payload.buffer);
  view.setUint32(0, firstBlock, true);
  payload[4] = mode;
  payload[5] = windowBits;
  return payload;
}

export function endPayload(length: number, sha256: Uint8Array): Uint8Array {
  if (sha256.length !== 32) throw new RangeError('a SHA-256 has 32 bytes');
  const payload = new Uint8Array(36);
  new DataView(payload.buffer).setUint32(0, length, true);
  payload.set(sha256, 4);
  return payload;
}

// --- the agent's report lines ---------------------------------------------------

/**
 * What the agent prints, one line each, ASCII, starting with `@` so that
 * other output (a board's warnings, `\r` from cooked line ends) is ignored:
 *
 *   @H <version> key=value...        hello: window, payload limit, free heap, deflate, partition
 *   @Q <first> <crc> <crc>...        resume: CRC-32 (8 hex) of blocks first, first+1, ... as in the partition
 *   @R                                ready for frames
 *   @C <consumed>                     credit: stdin bytes consumed so far
 *   @W <consumed>                     starving: stdin has been empty for a while
 *   @A <seq> <start> <consumed>       frame seq handled (a block written); its header began at stdin offset start
 *   @N <seq> <consumed>               a damaged frame; the agent waits for frame seq again
 *   @E <sha256> <length>              done: length, SHA-256 and the partition read back all match
 *   @F <code> <message>               failed (the agent has stopped and restored Ctrl-C)
 */
export type AgentMessage =
  | { kind: 'hello'; version: number; fields: Record<string, string> }
  | { kind: 'crcs'; first: number; crcs: number[] }
  | { kind: 'ready' }
  | { kind: 'credit'; consumed: number }
  | { kind: 'starving'; consumed: number }
  | { kind: 'ack'; seq: number; start: number; consumed: number }
  | { kind: 'nak'; seq: number; consumed: number }
  | { kind: 'done'; sha256Hex: string; length: number }
  | { kind: 'failed'; code: string; message: string }
  /** The UART rate switch: 'switching' (announced at the old rate), 'ok' (heard the probe at the new rate), 'fail' (back at the old rate). */
  | { kind: 'baud'; state: 'switching' | 'ok' | 'fail'; rate: number };

/** One line of agent output (without or with its `\r\n`), or undefined when it is not a report line. */
export function parseAgentLine(line: string): AgentMessage | undefined {
  const text = line.trim();
  const at = text.indexOf('@');
  if (at < 0 || text.length < at + 2) return undefined;
  const words = text.slice(at + 1).split(/\s+/);
  const [tag, ...args] = words;
  const int = (word: string | undefined): number | undefined => (word !== undefined && /^\d+$/.test(word) ? Number(word) : undefined);
  switch (tag) {
    case 'H': {
      const version = int(args[0]);
      if (version === undefined) return undefined;
      const fields: Record<string, string> = {};
      for (const word of args.slice(1)) {
        const eq = word.indexOf('=');
        if (eq > 0) fields[word.slice(0, eq)] = word.slice(eq + 1);
      }
      return { kind: 'hello', version, fields };
    }
    case 'Q': {
      const first = int(args[0]);
      const crcs = args.slice(1).map((word) => (/^[0-9a-fA-F]{1,8}$/.test(word) ? parseInt(word, 16) : NaN));
      if (first === undefined || crcs.some((crc) => Number.isNaN(crc))) return undefined;
      return { kind: 'crcs', first, crcs };
    }
    case 'R':
      return { kind: 'ready' };
    case 'C':
    case 'W': {
      const consumed = int(args[0]);
      return consumed === undefined ? undefined : { kind: tag === 'C' ? 'credit' : 'starving', consumed };
    }
    case 'A': {
      const [seq, start, consumed] = [int(args[0]), int(args[1]), int(args[2])];
      if (seq === undefined || start === undefined || consumed === undefined) return undefined;
      return { kind: 'ack', seq, start, consumed };
    }
    case 'N': {
      const seq = int(args[0]);
      const consumed = int(args[1]);
      if (seq === undefined || consumed === undefined) return undefined;
      return { kind: 'nak', seq, consumed };
    }
    case 'E': {
      const length = int(args[1]);
      if (!args[0] || !/^[0-9a-f]{64}$/.test(args[0]) || length === undefined) return undefined;
      return { kind: 'done', sha256Hex: args[0], length };
    }
    case 'B': {
      const state = args[0] === 'ok' || args[0] === 'fail' ? args[0] : 'switching';
      const rate = int(state === 'switching' ? args[0] : args[1]);
      return rate === undefined ? undefined : { kind: 'baud', state, rate };
    }
    case 'F':
      return { kind: 'failed', code: args[0] ?? 'unknown', message: args.slice(1).join(' ') };
    default:
      return undefined;
  }
}
