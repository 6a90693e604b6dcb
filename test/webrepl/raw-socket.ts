/**
 * Test helper: a WebSocket client written straight on a TCP socket, to see the
 * exact bytes and frames the server sends and to send frames the way
 * webrepl_cli.py does (unmasked, `Sec-WebSocket-Key: foo`). Its parser is
 * independent of src/webrepl so that it can check it.
 */
import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';

export interface ServerFrame {
  fin: boolean;
  opcode: number;
  payload: Uint8Array;
}

export class RawSocket {
  /** Everything the server sent, raw. */
  received = Buffer.alloc(0);
  /** The HTTP head of the answer, once complete. */
  head: string | undefined;
  readonly frames: ServerFrame[] = [];
  ended = false;
  private parsedUpTo = 0;
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk) => {
      this.received = Buffer.concat([this.received, chunk]);
      this.parse();
      this.wake();
    });
    socket.on('end', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static open(port: number): Promise<RawSocket> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port }, () => resolve(new RawSocket(socket)));
      socket.once('error', reject);
    });
  }

  /** Opens and sends an upgrade request; `key` as webrepl_cli sends it unless given. */
  static async upgrade(port: number, key = 'foo', extraHeaders = ''): Promise<RawSocket> {
    const raw = await RawSocket.open(port);
    raw.socket.write(`GET / HTTP/1.1\r\nHost: echo.websocket.org\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: ${key}\r\n${extraHeaders}\r\n`);
    await raw.until(() => raw.head !== undefined || raw.ended);
    return raw;
  }

  static acceptFor(key: string): string {
    return createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  }

  /** A frame as webrepl_cli writes it (FIN, no mask) or, with `mask`, as an RFC client. */
  sendFrame(opcode: number, payload: Uint8Array | string, mask?: Uint8Array): void {
    const data = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : Buffer.from(payload);
    const length = data.length;
    const header: number[] = [0x80 | opcode];
    const maskBit = mask ? 0x80 : 0;
    if (length < 126) header.push(maskBit | length);
    else header.push(maskBit | 126, length >> 8, length & 0xff);
    if (mask) {
      header.push(...mask);
      for (let i = 0; i < data.length; i++) data[i]! ^= mask[i & 3]!;
    }
    this.socket.write(Buffer.concat([Buffer.from(header), data]));
  }

  sendRaw(bytes: Uint8Array | string): void {
    this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }

  /** Frames' payloads concatenated, as latin1 text. */
  text(opcode = 0x1): string {
    return Buffer.concat(this.frames.filter((frame) => frame.opcode === opcode).map((frame) => frame.payload)).toString('latin1');
  }

  binary(): Buffer {
    return Buffer.concat(this.frames.filter((frame) => frame.opcode === 0x2).map((frame) => frame.payload));
  }

  async until(condition: () => boolean, timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; frames so far: ${JSON.stringify(this.frames.map((f) => [f.opcode, Buffer.from(f.payload).toString('latin1')]))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    waiters.forEach((wake) => wake());
  }

  private parse(): void {
    if (this.head === undefined) {
      const end = this.received.indexOf('\r\n\r\n');
      if (end < 0) return;
      this.head = this.received.subarray(0, end + 4).toString('latin1');
      this.parsedUpTo = end + 4;
      if (!this.head.startsWith('HTTP/1.1 101')) return;
    }
    if (!this.head.startsWith('HTTP/1.1 101')) return;
    for (;;) {
      const data = this.received.subarray(this.parsedUpTo);
      if (data.length < 2) return;
      if ((data[1]! & 0x80) !== 0) throw new Error('a server frame is masked');
      let length = data[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (data.length < 4) return;
        length = data.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        throw new Error('a board never sends 64-bit lengths');
      }
      if (data.length < offset + length) return;
      this.frames.push({ fin: (data[0]! & 0x80) !== 0, opcode: data[0]! & 0x0f, payload: new Uint8Array(data.subarray(offset, offset + length)) });
      this.parsedUpTo += offset + length;
    }
  }
}
