/**
 * The WebREPL protocol of MicroPython (extmod/modwebrepl.c, micropython-lib
 * net/webrepl/webrepl.py, the webrepl_cli.py client), as pure codecs shared by
 * the Node client, the virtual device's server and the browser page. No Node
 * imports: Uint8Array, DataView, TextEncoder/TextDecoder only.
 *
 * Over one WebSocket: the login, then text frames carry REPL bytes both ways
 * (raw bytes, never checked for UTF-8 by the board) and binary frames carry the
 * file-transfer channel (see file-transfer.ts). Notes and sources: docs/webrepl.md.
 */

export const WEBREPL_DEFAULT_PORT = 8266;

/** First text frame of the board after the WebSocket handshake. */
export const PASSWORD_PROMPT = 'Password: ';
/** Sent after a right password; the `>>> ` is part of this fixed string, whatever mode the REPL is in. */
export const CONNECTED_PROMPT = '\r\nWebREPL connected\r\n>>> ';
/** Sent after a wrong password; then the board closes the TCP connection (no WebSocket close frame). */
export const DENIED_PROMPT = '\r\nAccess denied\r\n';

/** `_webrepl.password()` raises ValueError above 9 bytes (a 10-byte buffer with its NUL). */
export const PASSWORD_MAX_BYTES = 9;
/** webrepl_setup asks for "New password (4-9 chars)"; `webrepl.start(password=...)` does not check the minimum. */
export const PASSWORD_MIN_LENGTH = 4;
/** The board keeps at most this many typed bytes before CR/LF; anything longer can never match. */
export const PASSWORD_INPUT_LIMIT = 10;

/** struct webrepl_file: `<2sBBQLH64s`, 82 bytes. */
export const REQUEST_SIZE = 82;
export const REQUEST_SIGNATURE = 'WA';
export const RESPONSE_SIGNATURE = 'WB';
export const RESPONSE_SIZE = 4;
export const NAME_FIELD_SIZE = 64;
/** The board uses the name field as a C string: at most 63 bytes leave room for its NUL. */
export const NAME_MAX_BYTES = NAME_FIELD_SIZE - 1;

export const WebReplOp = { put: 1, get: 2, version: 3 } as const;
export type WebReplOpName = keyof typeof WebReplOp;

/** write_file_chunk(): the board reads at most 256 bytes of the file per get chunk. */
export const GET_CHUNK_MAX = 256;
/** A get chunk is requested by one byte, 0, in a binary frame. */
export const GET_CHUNK_REQUEST = 0;
/** webrepl_cli.py and webrepl.js send put data 1024 bytes per frame. */
export const PUT_CHUNK_SIZE = 1024;
/**
 * modwebsocket.c reads 7- and 16-bit payload lengths only: a frame with a
 * 64-bit length makes the board close the socket. So no frame may exceed this.
 */
export const MAX_FRAME_PAYLOAD = 0xffff;

export type MicroPythonVersion = readonly [major: number, minor: number, micro: number];

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** Bytes → string with one char per byte (0x00–0xFF), reversible; unlike TextDecoder('latin1'), which is windows-1252. */
export function bytesToLatin1(bytes: Uint8Array): string {
  let text = '';
  for (let i = 0; i < bytes.length; i += 4096) text += String.fromCharCode(...bytes.subarray(i, i + 4096));
  return text;
}

/** Inverse of bytesToLatin1; throws on chars above U+00FF. */
export function latin1ToBytes(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0xff) throw new RangeError(`char U+${code.toString(16).padStart(4, '0')} at ${i} is not a byte`);
    bytes[i] = code;
  }
  return bytes;
}

export function utf8Bytes(text: string): Uint8Array {
  return utf8Encoder.encode(text);
}

// ---- passwords --------------------------------------------------------------------

/**
 * Why a client cannot log in with this password, or undefined if it can. Never
 * includes the password. The board compares the bytes typed before CR/LF with
 * the stored password (at most 9 bytes), so a longer one, or one containing
 * CR, LF (end the line early) or NUL (ends the C string), can never match.
 */
export function passwordProblem(password: string): string | undefined {
  if (/[\r\n\0]/.test(password)) return 'the WebREPL password must not contain CR, LF or NUL';
  const length = utf8Encoder.encode(password).length;
  if (length > PASSWORD_MAX_BYTES) return `the WebREPL password is ${length} bytes; a board accepts at most ${PASSWORD_MAX_BYTES}`;
  return undefined;
}

/** As passwordProblem, plus webrepl_setup's rule of 4 to 9 characters (for configuring a device). */
export function setupPasswordProblem(password: string): string | undefined {
  const problem = passwordProblem(password);
  if (problem) return problem;
  if (password.length < PASSWORD_MIN_LENGTH) {
    return `the WebREPL password has ${password.length} characters; webrepl_setup requires ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_BYTES}`;
  }
  return undefined;
}

/** What the client sends at `Password: ` (webrepl_cli: `passwd.encode("utf-8") + b"\r"`). */
export function encodePasswordLine(password: string): Uint8Array {
  const problem = passwordProblem(password);
  if (problem) throw new RangeError(problem);
  return utf8Encoder.encode(`${password}\r`);
}

export type PasswordLineResult =
  | { done: false }
  /** `rest`: the bytes after the CR/LF, which the board handles as normal traffic of the same frame. */
  | { done: true; accepted: boolean; rest: Uint8Array };

/**
 * The board's side of the login (_webrepl_read in STATE_PASSWD): bytes of any
 * frame type, up to 10 kept, the line ends at CR or LF, then a strcmp with the
 * stored password.
 */
export class PasswordLine {
  private readonly typed: number[] = [];
  private readonly expected: Uint8Array;

  constructor(password: string) {
    if (password.includes('\0')) throw new RangeError('the WebREPL password must not contain NUL');
    this.expected = utf8Encoder.encode(password);
    if (this.expected.length > PASSWORD_MAX_BYTES) throw new RangeError(`the WebREPL password is longer than ${PASSWORD_MAX_BYTES} bytes`);
  }

  feed(bytes: Uint8Array): PasswordLineResult {
    for (let i = 0; i < bytes.length; i++) {
      const byte = bytes[i]!;
      if (byte === 0x0d || byte === 0x0a) {
        return { done: true, accepted: this.matches(), rest: bytes.subarray(i + 1) };
      }
      if (this.typed.length < PASSWORD_INPUT_LIMIT) this.typed.push(byte);
    }
    return { done: false };
  }

  /** strcmp(typed, password): the typed bytes count up to their first NUL. */
  private matches(): boolean {
    const nul = this.typed.indexOf(0);
    const typed = nul < 0 ? this.typed : this.typed.slice(0, nul);
    return typed.length === this.expected.length && typed.every((byte, i) => byte === this.expected[i]);
  }
}

export type LoginEvent = 'password-prompt' | 'connected' | 'denied';

/**
 * The client's side of the login: watches the board's first bytes for
 * `Password: `, then for the connected or denied line. Like webrepl_cli it
 * takes bytes of either frame type.
 */
export class LoginWatcher {
  private seen = '';
  private stage: 'prompt' | 'verdict' | 'done' = 'prompt';

  /** After `connected`: the board's bytes that came after the connected prompt (normal REPL output). */
  surplus: Uint8Array = new Uint8Array(0);

  get passwordSent(): boolean {
    return this.stage !== 'prompt';
  }

  feed(bytes: Uint8Array): LoginEvent | undefined {
    if (this.stage === 'done') return undefined;
    this.seen += bytesToLatin1(bytes);
    if (this.stage === 'prompt') {
      const at = this.seen.indexOf(PASSWORD_PROMPT);
      if (at < 0) return undefined;
      this.seen = this.seen.slice(at + PASSWORD_PROMPT.length);
      this.stage = 'verdict';
      return 'password-prompt';
    }
    const connected = this.seen.indexOf(CONNECTED_PROMPT);
    if (connected >= 0) {
      this.stage = 'done';
      this.surplus = latin1ToBytes(this.seen.slice(connected + CONNECTED_PROMPT.length));
      this.seen = '';
      return 'connected';
    }
    if (this.seen.includes(DENIED_PROMPT)) {
      this.stage = 'done';
      return 'denied';
    }
    return undefined;
  }
}

// ---- file-transfer records -----------------------------------------------------------

export interface WebReplRequest {
  /** 1 put, 2 get, 3 version; the board does not check it (nor the signature). */
  op: number;
  /** File size for put, 0 otherwise. */
  size: number;
  /** File name on the board, e.g. `main.py` or `/lib/x.py` (relative to its working directory). */
  name: string;
  /** The board ignores it (its seek code is `#if 0`); clients send 0. */
  offset?: bigint;
  flags?: number;
}

export interface DecodedWebReplRequest extends Required<WebReplRequest> {
  signature: string;
  /** The fname_len field; the board ignores it and reads `name` up to its first NUL. */
  nameLength: number;
  /** The name bytes up to the first NUL of the 64-byte field (the board's C string). */
  nameBytes: Uint8Array;
}

/** Encodes `struct.pack("<2sBBQLH64s", b"WA", op, flags, offset, size, len(name), name)`. */
export function encodeRequest(request: WebReplRequest): Uint8Array {
  const name = utf8Encoder.encode(request.name);
  if (name.includes(0)) throw new RangeError('a WebREPL file name cannot contain NUL');
  if (name.length > NAME_MAX_BYTES) {
    throw new RangeError(`the file name is ${name.length} bytes; WebREPL names have at most ${NAME_MAX_BYTES} (a 64-byte C string)`);
  }
  checkInteger('op', request.op, 0xff);
  checkInteger('flags', request.flags ?? 0, 0xff);
  checkInteger('size', request.size, 0xffff_ffff);
  const offset = request.offset ?? 0n;
  if (offset < 0n || offset > 0xffff_ffff_ffff_ffffn) throw new RangeError(`offset ${offset} is not a u64`);

  const bytes = new Uint8Array(REQUEST_SIZE);
  const view = new DataView(bytes.buffer);
  bytes[0] = 0x57; // W
  bytes[1] = 0x41; // A
  bytes[2] = request.op;
  bytes[3] = request.flags ?? 0;
  view.setBigUint64(4, offset, true);
  view.setUint32(12, request.size, true);
  view.setUint16(16, name.length, true);
  bytes.set(name, 18);
  return bytes;
}

export function decodeRequest(bytes: Uint8Array): DecodedWebReplRequest {
  if (bytes.length !== REQUEST_SIZE) throw new RangeError(`a WebREPL request is ${REQUEST_SIZE} bytes, not ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const field = bytes.subarray(18, 18 + NAME_FIELD_SIZE);
  const nul = field.indexOf(0);
  const nameBytes = field.slice(0, nul < 0 ? NAME_FIELD_SIZE : nul);
  return {
    signature: bytesToLatin1(bytes.subarray(0, 2)),
    op: bytes[2]!,
    flags: bytes[3]!,
    offset: view.getBigUint64(4, true),
    size: view.getUint32(12, true),
    nameLength: view.getUint16(16, true),
    nameBytes,
    name: new TextDecoder().decode(nameBytes),
  };
}

/** Decodes a name the way MicroPython makes a str of it: invalid UTF-8 is an error (UnicodeError on the board). */
export function decodeName(nameBytes: Uint8Array): string {
  return utf8Decoder.decode(nameBytes);
}

/** `WB` + u16 LE status (write_webrepl_resp); a board only ever sends 0. */
export function encodeResponse(status: number): Uint8Array {
  checkInteger('status', status, 0xffff);
  return Uint8Array.of(0x57, 0x42, status & 0xff, status >> 8);
}

/** The status of a `WB` response; throws if the 4 bytes are not one. */
export function decodeResponse(bytes: Uint8Array): number {
  if (bytes.length !== RESPONSE_SIZE || bytes[0] !== 0x57 || bytes[1] !== 0x42) {
    throw new WebReplProtocolError(`expected a WB response, got ${hexOf(bytes)}`);
  }
  return bytes[2]! | (bytes[3]! << 8);
}

/** One get chunk as the board sends it (one binary frame): u16 LE length, then the bytes; length 0 ends the file. */
export function encodeChunk(data: Uint8Array): Uint8Array {
  if (data.length > 0xffff) throw new RangeError(`a get chunk holds at most 65535 bytes, not ${data.length}`);
  const bytes = new Uint8Array(2 + data.length);
  bytes[0] = data.length & 0xff;
  bytes[1] = data.length >> 8;
  bytes.set(data, 2);
  return bytes;
}

export function decodeChunkLength(header: Uint8Array): number {
  if (header.length !== 2) throw new RangeError('a get chunk length is 2 bytes');
  return header[0]! | (header[1]! << 8);
}

/** The answer to a version request: 3 bytes, major, minor, micro (no `WB`). */
export function encodeVersion(version: MicroPythonVersion): Uint8Array {
  version.forEach((part, i) => checkInteger(['major', 'minor', 'micro'][i]!, part, 0xff));
  return Uint8Array.from(version);
}

export function decodeVersion(bytes: Uint8Array): MicroPythonVersion {
  if (bytes.length !== 3) throw new RangeError('a WebREPL version is 3 bytes');
  return [bytes[0]!, bytes[1]!, bytes[2]!];
}

export class WebReplProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebReplProtocolError';
  }
}

/**
 * `ws://host:8266/` from `host`, `host:port` or a ws:// URL. Credentials in the URL
 * are dropped (the password goes in the login, never in the URL).
 */
export function webReplUrl(address: string): URL {
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(address) ? address : `ws://${address}`;
  const url = new URL(text);
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new RangeError(`not a WebSocket address: ${url.protocol}//${url.host}`);
  // URL drops a port equal to the scheme's default (80 for ws:), so look at the text for an explicit one.
  const authority = (text.split('://')[1] ?? '').split(/[/?#]/)[0]!.replace(/^.*@/, '');
  const explicitPort = /^(?:\[[^\]]*\]|[^:]*):\d+$/.test(authority);
  if (!explicitPort && url.protocol === 'ws:') url.port = String(WEBREPL_DEFAULT_PORT);
  url.username = '';
  url.password = '';
  return url;
}

function checkInteger(what: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) throw new RangeError(`${what} ${value} is not an integer in 0..${max}`);
}

function hexOf(bytes: Uint8Array): string {
  return [...bytes.subarray(0, 16)].map((byte) => byte.toString(16).padStart(2, '0')).join(' ') + (bytes.length > 16 ? ' …' : '');
}
