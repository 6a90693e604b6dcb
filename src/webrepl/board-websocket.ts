/**
 * The WebSocket subset a MicroPython board serves WebREPL with, server side,
 * pure: the upgrade handshake of webrepl.py (server_handshake, send_html) and
 * the framing of extmod/modwebsocket.c. It is laxer than RFC 6455 where the
 * board is, so clients that work with a board work here, webrepl_cli.py
 * included (it sends unmasked frames and `Sec-WebSocket-Key: foo`):
 * - frames from the client may be masked or not; FIN and RSV bits are ignored;
 *   a continuation frame carries on the type of the last data frame;
 * - payload lengths of 7 or 16 bits; a 64-bit length makes the board close the socket;
 * - ping and pong are ignored (no pong is sent); a close frame is answered with
 *   `88 00` and the connection ends;
 * - the board's own frames are unmasked, FIN, one per write, 16-bit lengths at most.
 * The SHA-1 of the accept key is left to the caller (the Node edge).
 */

export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
export const OPCODE_CONTINUATION = 0x0;
export const OPCODE_TEXT = 0x1;
export const OPCODE_BINARY = 0x2;
export const OPCODE_CLOSE = 0x8;
/** The board's answer to a close frame: FIN + close, no payload. */
export const CLOSE_REPLY = Uint8Array.of(0x88, 0x00);
/** The board's 16-bit length limit for its own frames. */
export const MAX_BOARD_FRAME = 0xffff;
/** Our limit on the request head; the board reads lines without one. */
export const MAX_REQUEST_HEAD = 8192;

/** What webrepl.py's send_html answers to an HTTP request that is not a WebSocket upgrade (then it closes). */
export function htmlPage(staticHost = 'https://micropython.org/webrepl/'): string {
  return `HTTP/1.0 200 OK\r\n\r\n<base href="${staticHost}"></base>\r\n<script src="webrepl_content.js"></script>\r\n`;
}

/** The 101 answer of webrepl.py, byte for byte. */
export function handshakeResponse(acceptKey: string): string {
  return `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey}\r\n\r\n`;
}

/** Index just past the `\r\n\r\n` that ends the request head, or -1. */
export function requestHeadEnd(bytes: Uint8Array): number {
  for (let i = 3; i < bytes.length; i++) {
    if (bytes[i] === 0x0a && bytes[i - 1] === 0x0d && bytes[i - 2] === 0x0a && bytes[i - 3] === 0x0d) return i + 1;
  }
  return -1;
}

export interface UpgradeRequest {
  /** Whether webrepl.py would upgrade: `Connection` contains `Upgrade`, `Upgrade` is `websocket`, and a key is present. */
  upgrade: boolean;
  key: string | undefined;
}

/**
 * Reads the request head as server_handshake does: the request line is
 * skipped (any path works), headers are `name: value`. Unlike the board,
 * names and the two tokens are matched without regard to case, as HTTP
 * allows. The key is taken as sent (the board does not check its form).
 */
export function parseUpgradeRequest(head: string): UpgradeRequest {
  let key: string | undefined;
  let connectionUpgrade = false;
  let upgradeWebSocket = false;
  for (const line of head.split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'sec-websocket-key') key = value;
    else if (name === 'connection' && /upgrade/i.test(value)) connectionUpgrade = true;
    else if (name === 'upgrade' && value.toLowerCase() === 'websocket') upgradeWebSocket = true;
  }
  return { upgrade: connectionUpgrade && upgradeWebSocket && key !== undefined && key !== '', key };
}

/** One frame as the board writes it: FIN, the opcode, unmasked, a 7- or 16-bit length. */
export function encodeFrame(opcode: number, payload: Uint8Array): Uint8Array {
  if (payload.length > MAX_BOARD_FRAME) throw new RangeError(`a board frame holds at most ${MAX_BOARD_FRAME} bytes`);
  const header = payload.length < 126 ? 2 : 4;
  const frame = new Uint8Array(header + payload.length);
  frame[0] = 0x80 | (opcode & 0x0f);
  if (header === 2) {
    frame[1] = payload.length;
  } else {
    frame[1] = 126;
    frame[2] = payload.length >> 8;
    frame[3] = payload.length & 0xff;
  }
  frame.set(payload, header);
  return frame;
}

/** `payload` as frames of at most MAX_BOARD_FRAME bytes (the board cannot write more in one). */
export function encodeFrames(opcode: number, payload: Uint8Array): Uint8Array[] {
  const frames: Uint8Array[] = [];
  for (let at = 0; at < payload.length; at += MAX_BOARD_FRAME) {
    frames.push(encodeFrame(opcode, payload.subarray(at, at + MAX_BOARD_FRAME)));
  }
  return frames;
}

export type FrameEvent =
  /** Payload bytes of a data frame, unmasked, as they arrive (a frame may come in several pieces). `text`: opcode 1, else the board treats it as binary. */
  | { kind: 'data'; text: boolean; payload: Uint8Array }
  /** A close frame ended: answer CLOSE_REPLY and end the connection. */
  | { kind: 'close' }
  /** A 64-bit payload length: the board closes the socket. */
  | { kind: 'unsupported-length' };

/** The client → board frame parser of modwebsocket.c, fed any slices of the TCP stream. */
export class BoardFrameReader {
  private header = new Uint8Array(14);
  private headerHave = 0;
  private headerNeed = 2;
  private opcode = 0;
  /** Opcode of the last data frame, which continuation frames carry on. */
  private dataOpcode = OPCODE_TEXT;
  private remaining = 0;
  private mask: Uint8Array | undefined;
  private maskPosition = 0;
  private inPayload = false;
  private stopped = false;

  feed(bytes: Uint8Array): FrameEvent[] {
    const events: FrameEvent[] = [];
    let at = 0;
    while (!this.stopped && (at < bytes.length || (this.inPayload && this.remaining === 0))) {
      if (!this.inPayload) {
        const take = Math.min(this.headerNeed - this.headerHave, bytes.length - at);
        this.header.set(bytes.subarray(at, at + take), this.headerHave);
        this.headerHave += take;
        at += take;
        if (this.headerHave < this.headerNeed) break;
        const event = this.parseHeader();
        if (event) {
          events.push(event);
          this.stopped = true;
        }
        continue;
      }
      const take = Math.min(this.remaining, bytes.length - at);
      const payload = bytes.slice(at, at + take);
      at += take;
      this.remaining -= take;
      if (this.mask) {
        for (let i = 0; i < payload.length; i++) payload[i]! ^= this.mask[this.maskPosition++ & 3]!;
      }
      const control = this.opcode >= OPCODE_CLOSE;
      if (!control && payload.length > 0) {
        events.push({ kind: 'data', text: this.dataOpcode === OPCODE_TEXT, payload });
      }
      if (this.remaining === 0) {
        this.startHeader();
        if (this.opcode === OPCODE_CLOSE) {
          events.push({ kind: 'close' });
          this.stopped = true;
        }
      }
    }
    return events;
  }

  /** Parses the header once `headerNeed` bytes are in; grows `headerNeed` for the extended length and mask. */
  private parseHeader(): FrameEvent | undefined {
    const first = this.header[0]!;
    const second = this.header[1]!;
    const lengthCode = second & 0x7f;
    if (lengthCode === 127) return { kind: 'unsupported-length' };
    const masked = (second & 0x80) !== 0;
    const need = 2 + (lengthCode === 126 ? 2 : 0) + (masked ? 4 : 0);
    if (this.headerHave < need) {
      this.headerNeed = need;
      return undefined;
    }
    this.opcode = first & 0x0f;
    if (this.opcode < OPCODE_CLOSE && this.opcode !== OPCODE_CONTINUATION) this.dataOpcode = this.opcode;
    this.remaining = lengthCode === 126 ? (this.header[2]! << 8) | this.header[3]! : lengthCode;
    this.mask = masked ? this.header.slice(need - 4, need) : undefined;
    this.maskPosition = 0;
    this.inPayload = true;
    return undefined;
  }

  private startHeader(): void {
    this.inPayload = false;
    this.headerHave = 0;
    this.headerNeed = 2;
  }
}
