/**
 * The virtual device's WebREPL endpoint: a TCP server that speaks WebSocket
 * and WebREPL as a MicroPython board does (webrepl.py accept_conn, modwebrepl.c,
 * modwebsocket.c). It asks for the password, then bridges text frames to and
 * from the board's REPL byte stream and serves file put/get/version from a
 * filesystem interface. One client at a time: like a board, a second client
 * gets the WebSocket handshake and then the connection is closed. The protocol
 * itself lives in the pure modules; this file only moves bytes.
 */
import { createHash } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import {
  BoardFrameReader,
  CLOSE_REPLY,
  encodeFrames,
  handshakeResponse,
  htmlPage,
  MAX_REQUEST_HEAD,
  OPCODE_BINARY,
  OPCODE_TEXT,
  parseUpgradeRequest,
  requestHeadEnd,
  WEBSOCKET_GUID,
} from './board-websocket.js';
import { WebReplFileDevice, type WebReplFileSystem } from './file-transfer.js';
import {
  bytesToLatin1,
  CONNECTED_PROMPT,
  DENIED_PROMPT,
  PASSWORD_PROMPT,
  PasswordLine,
  setupPasswordProblem,
  utf8Bytes,
  WEBREPL_DEFAULT_PORT,
  type MicroPythonVersion,
} from './webrepl-protocol.js';

/** The board's REPL as a byte stream, e.g. the host end of createLinkedTransports() whose device end drives a ReplMachine. */
export interface WebReplDeviceStream {
  /** Bytes the client typed, into the REPL's input. A returned promise is awaited for errors only. */
  write(bytes: Uint8Array): unknown;
  /** The REPL's output. Returns the function that removes the listener. */
  onData(listener: (bytes: Uint8Array) => void): () => void;
}

export interface WebReplServerOptions {
  /** The password set by webrepl_setup (webrepl_cfg.PASS): 4 to 9 characters. Never logged. */
  password: string;
  repl: WebReplDeviceStream;
  files: WebReplFileSystem;
  /** The running firmware's MicroPython version, answered to version requests. */
  version: MicroPythonVersion | (() => MicroPythonVersion);
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8266; 0 picks a free port. */
  port?: number;
  /** What the board prints on its own console (UART), e.g. `\nWebREPL connection from: ('127.0.0.1', 40000)\n`. */
  console?: (text: string) => void;
  /** webrepl_cfg.BASE: where the HTML answer to a plain HTTP request loads the client from. */
  staticHost?: string;
}

export interface WebReplServer {
  readonly host: string;
  readonly port: number;
  /** e.g. ws://127.0.0.1:8266/ */
  readonly url: string;
  /** Whether a client holds the one WebREPL slot (from its handshake, before or after the password). */
  readonly clientConnected: boolean;
  /** As webrepl.stop(): stops listening and closes the client's connection (TCP close, no WebSocket close frame). */
  close(): Promise<void>;
}

export async function startWebReplServer(options: WebReplServerOptions): Promise<WebReplServer> {
  const problem = setupPasswordProblem(options.password);
  if (problem) throw new RangeError(problem);
  const endpoint = new WebReplEndpoint(options);
  await endpoint.listen(options.host ?? '127.0.0.1', options.port ?? WEBREPL_DEFAULT_PORT);
  return endpoint;
}

const EOF_DEACTIVATING = 'dupterm: EOF received, deactivating\n';

class WebReplEndpoint implements WebReplServer {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private session: Session | undefined;
  private readonly stopOutput: () => void;
  private address: AddressInfo | undefined;

  constructor(private readonly options: WebReplServerOptions) {
    this.server = createServer((socket) => this.accept(socket));
    this.stopOutput = options.repl.onData((bytes) => this.session?.deviceOutput(bytes));
  }

  listen(host: string, port: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host, port, backlog: 1 }, () => {
        this.server.off('error', reject);
        this.address = this.server.address() as AddressInfo;
        resolve();
      });
    }).catch((error: unknown) => {
      this.stopOutput();
      throw error;
    });
  }

  get host(): string {
    return this.address?.address ?? '';
  }

  get port(): number {
    return this.address?.port ?? 0;
  }

  get url(): string {
    const host = this.host.includes(':') ? `[${this.host}]` : this.host;
    return `ws://${host}:${this.port}/`;
  }

  get clientConnected(): boolean {
    return this.session !== undefined;
  }

  async close(): Promise<void> {
    this.stopOutput();
    this.session?.shutdown();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const sockets = [...this.sockets].map(
      (socket) =>
        new Promise<void>((resolve) => {
          if (socket.destroyed) return resolve();
          socket.once('close', () => resolve());
          socket.end();
          // A peer that never answers our FIN must not hold close() up.
          setTimeout(() => socket.destroy(), 1000).unref();
        }),
    );
    await Promise.all([closed, ...sockets]);
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('error', () => undefined); // a reset by the peer ends the connection; 'close' follows
    socket.on('close', () => {
      this.sockets.delete(socket);
      if (this.session?.socket === socket) this.session = undefined;
    });

    let head: Uint8Array = new Uint8Array(0);
    const onHead = (chunk: Buffer): void => {
      head = concat(head, chunk);
      const end = requestHeadEnd(head);
      if (end < 0) {
        if (head.length > MAX_REQUEST_HEAD) socket.destroy();
        return;
      }
      socket.off('data', onHead);
      this.handshake(socket, bytesToLatin1(head.subarray(0, end)), head.subarray(end));
    };
    socket.on('data', onHead);
  }

  /** accept_conn() of webrepl.py. */
  private handshake(socket: Socket, head: string, rest: Uint8Array): void {
    const request = parseUpgradeRequest(head);
    if (!request.upgrade || request.key === undefined) {
      socket.end(htmlPage(this.options.staticHost));
      return;
    }
    const accept = createHash('sha1')
      .update(request.key + WEBSOCKET_GUID)
      .digest('base64');
    socket.write(handshakeResponse(accept));
    const from = pythonAddress(socket);
    if (this.session) {
      this.options.console?.(`\nConcurrent WebREPL connection from ${from} rejected\n`);
      socket.end();
      return;
    }
    this.options.console?.(`\nWebREPL connection from: ${from}\n`);
    const session = new Session(socket, this.options, () => {
      if (this.session === session) this.session = undefined;
    });
    this.session = session;
    session.start(rest);
  }
}

/** One client on the WebREPL slot: _webrepl (login, file transfer) over websocket. */
class Session {
  private readonly frames = new BoardFrameReader();
  private readonly passwordLine: PasswordLine;
  private readonly files: WebReplFileDevice;
  private authenticated = false;
  private ended = false;

  constructor(
    readonly socket: Socket,
    private readonly options: WebReplServerOptions,
    private readonly onEnd: () => void,
  ) {
    this.passwordLine = new PasswordLine(options.password);
    const version = options.version;
    this.files = new WebReplFileDevice({
      files: options.files,
      version: typeof version === 'function' ? version : () => version,
      send: (frame) => this.send(OPCODE_BINARY, frame),
      drop: (consoleText) => this.end(consoleText),
    });
  }

  start(rest: Uint8Array): void {
    this.send(OPCODE_TEXT, utf8Bytes(PASSWORD_PROMPT));
    this.socket.on('data', (chunk: Buffer) => this.receive(chunk));
    this.socket.on('close', () => this.end(EOF_DEACTIVATING));
    if (rest.length > 0) this.receive(rest);
  }

  /** REPL output; not forwarded until the password is entered (webrepl_write in STATE_PASSWD). */
  deviceOutput(bytes: Uint8Array): void {
    if (this.authenticated && !this.ended) this.send(OPCODE_TEXT, bytes);
  }

  private receive(chunk: Uint8Array): void {
    for (const event of this.frames.feed(chunk)) {
      if (this.ended) return;
      switch (event.kind) {
        case 'data':
          this.data(event.text, event.payload);
          break;
        case 'close':
          this.socket.write(CLOSE_REPLY);
          this.end(EOF_DEACTIVATING);
          break;
        case 'unsupported-length':
          this.end('dupterm: Exception in read() method, deactivating: OSError: [Errno 5] EIO\n');
          break;
      }
    }
  }

  private data(text: boolean, payload: Uint8Array): void {
    if (!this.authenticated) {
      const result = this.passwordLine.feed(payload);
      if (!result.done) return;
      if (!result.accepted) {
        this.send(OPCODE_TEXT, utf8Bytes(DENIED_PROMPT));
        this.end(EOF_DEACTIVATING);
        return;
      }
      this.authenticated = true;
      this.send(OPCODE_TEXT, utf8Bytes(CONNECTED_PROMPT));
      payload = result.rest;
      if (payload.length === 0) return;
    }
    if (text) {
      const written = this.options.repl.write(payload.slice());
      if (written instanceof Promise) written.catch(() => undefined);
    } else {
      this.files.receive(payload);
    }
  }

  private send(opcode: number, payload: Uint8Array): void {
    if (this.ended || this.socket.destroyed) return;
    for (const frame of encodeFrames(opcode, payload)) this.socket.write(frame);
  }

  /** webrepl.stop(): dupterm detached quietly, then the socket closed. */
  shutdown(): void {
    this.ended = true;
    this.socket.end();
    this.onEnd();
  }

  /** The board closes the socket: FIN after what was written, no WebSocket close frame. */
  private end(consoleText?: string): void {
    if (this.ended) return;
    this.ended = true;
    if (consoleText) this.options.console?.(consoleText);
    this.socket.end();
    this.onEnd();
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** remote_addr as webrepl.py prints it: a Python tuple. */
function pythonAddress(socket: Socket): string {
  const address = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
  return `('${address}', ${socket.remotePort ?? 0})`;
}
