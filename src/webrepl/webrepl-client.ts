/**
 * A Transport over WebREPL (Node, `ws`): connects to `ws://HOST:8266/`, logs in,
 * then carries REPL bytes as text frames both ways, raw (the board never checks
 * them for UTF-8, and neither does this client), and offers the file
 * operations put/get/version over binary frames. The protocol lives in the
 * pure modules, which a browser page uses with its own WebSocket.
 */
import WebSocket from 'ws';
import { TransportClosedError, TransportEvents, type Transport } from '../transport/transport.js';
import { WebReplFileClient } from './file-transfer.js';
import {
  encodePasswordLine,
  LoginWatcher,
  MAX_FRAME_PAYLOAD,
  passwordProblem,
  webReplUrl,
  type MicroPythonVersion,
} from './webrepl-protocol.js';

export interface WebReplClientOptions {
  /** The board's WebREPL password. Sent once at its prompt; never logged nor put in messages. */
  password: string;
  /** Limit for the WebSocket handshake and the login, in ms (default 10000). */
  timeoutMs?: number;
  /** A file operation fails when the board sends nothing for this long, in ms (default 10000). */
  fileReplyTimeoutMs?: number;
  /** Put data per binary frame (default 1024, as webrepl_cli). */
  putChunkSize?: number;
}

/** The board answered `Access denied`. */
export class WebReplAuthError extends Error {
  constructor(description: string) {
    super(`WebREPL refused the password (${description})`);
    this.name = 'WebReplAuthError';
  }
}

/** No WebREPL session could be set up (no connection, no login). */
export class WebReplConnectError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WebReplConnectError';
  }
}

/** Connects and logs in; resolves once the board has said `WebREPL connected`. */
export function connectWebRepl(address: string, options: WebReplClientOptions): Promise<WebReplClient> {
  return WebReplClient.connect(address, options);
}

const EARLY_DATA_LIMIT = 1 << 20;

export class WebReplClient implements Transport {
  readonly description: string;
  private readonly events = new TransportEvents();
  private readonly files: WebReplFileClient;
  private closing = false;
  private closedPromise: Promise<void>;
  /** REPL bytes that came before any data listener, handed to the first one. */
  private early: Uint8Array[] | undefined = [];
  private earlyLength = 0;

  private constructor(
    private readonly socket: WebSocket,
    description: string,
    private readonly redact: (text: string) => string,
    options: WebReplClientOptions,
  ) {
    this.description = description;
    this.files = new WebReplFileClient({
      send: (frame) => this.send(frame, true),
      putChunkSize: options.putChunkSize,
      replyTimeoutMs: options.fileReplyTimeoutMs,
      onDesync: (error) => this.shutdown(error),
    });
    this.closedPromise = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static connect(address: string, options: WebReplClientOptions): Promise<WebReplClient> {
    const problem = passwordProblem(options.password);
    if (problem) return Promise.reject(new RangeError(problem));
    let url: URL;
    try {
      url = webReplUrl(address);
    } catch (error) {
      return Promise.reject(error);
    }
    const description = `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`;
    const password = options.password;
    const redact = (text: string): string => (password === '' ? text : text.split(password).join('***'));
    const timeoutMs = options.timeoutMs ?? 10_000;

    const socket = new WebSocket(url.href, {
      perMessageDeflate: false, // a board offers no extensions
      skipUTF8Validation: true, // REPL text frames carry any bytes
      handshakeTimeout: timeoutMs,
    });
    const client = new WebReplClient(socket, description, redact, options);
    const login = new LoginWatcher();

    return new Promise<WebReplClient>((resolve, reject) => {
      let settled = false;
      const finish = (error?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.off('message', onLoginMessage);
        socket.off('error', onLoginError);
        socket.off('close', onLoginClose);
        if (error) {
          socket.on('error', () => undefined); // terminate() during the handshake emits one more
          socket.terminate();
          reject(error);
          return;
        }
        client.attach();
        if (login.surplus.length > 0) client.deliver(login.surplus);
        resolve(client);
      };
      const timer = setTimeout(() => {
        finish(new WebReplConnectError(`no WebREPL login from ${description} within ${timeoutMs} ms`));
      }, timeoutMs);
      const onLoginMessage = (data: WebSocket.RawData): void => {
        const event = login.feed(toBytes(data));
        if (event === 'password-prompt') {
          socket.send(encodePasswordLine(password), { binary: false }, (error) => {
            if (error) finish(new WebReplConnectError(`cannot send the WebREPL password to ${description}: ${redact(error.message)}`));
          });
          // The board's answer may already be here.
          const verdict = login.feed(new Uint8Array(0));
          if (verdict) onVerdict(verdict);
        } else if (event) {
          onVerdict(event);
        }
      };
      const onVerdict = (event: 'connected' | 'denied' | 'password-prompt'): void => {
        if (event === 'connected') finish();
        else if (event === 'denied') finish(new WebReplAuthError(description));
      };
      const onLoginError = (error: Error): void => {
        finish(new WebReplConnectError(`cannot connect to WebREPL at ${description}: ${redact(error.message)}`, { cause: error }));
      };
      const onLoginClose = (code: number): void => {
        finish(
          new WebReplConnectError(
            login.passwordSent
              ? `${description} closed the WebREPL connection after the password was sent (code ${code})`
              : `${description} closed the WebREPL connection before asking for the password (code ${code}); ` +
                  'a board does this when another WebREPL client is connected, as it serves one at a time',
          ),
        );
      };
      socket.on('message', onLoginMessage);
      socket.on('error', onLoginError);
      socket.on('close', onLoginClose);
    });
  }

  get closed(): boolean {
    return this.events.closed;
  }

  /** Sends REPL bytes as text frames (at most 65535 bytes each, the board's limit). */
  async write(data: Uint8Array): Promise<void> {
    if (this.closed || this.closing) throw new TransportClosedError(this.description);
    for (let at = 0; at < data.length; at += MAX_FRAME_PAYLOAD) {
      await this.send(data.slice(at, at + MAX_FRAME_PAYLOAD), false);
    }
  }

  onData(listener: (chunk: Uint8Array) => void): () => void {
    const remove = this.events.onData(listener);
    const early = this.early;
    this.early = undefined;
    if (early && early.length > 0) queueMicrotask(() => early.forEach((chunk) => listener(chunk)));
    return remove;
  }

  onClose(listener: (error?: Error) => void): () => void {
    return this.events.onClose(listener);
  }

  /** Sends a WebSocket close; the board answers it and ends the connection. */
  async close(): Promise<void> {
    if (!this.closed && !this.closing) {
      this.closing = true;
      this.files.fail(new TransportClosedError(this.description));
      if (this.socket.readyState === WebSocket.OPEN) this.socket.close(1000);
      const timer = setTimeout(() => this.socket.terminate(), 2000);
      await this.closedPromise;
      clearTimeout(timer);
    }
    await this.closedPromise;
  }

  /**
   * Writes `data` to the board as file `name` (created or replaced). Valid only
   * while no REPL command is mid-flight. If the board cannot create the file it
   * drops the whole WebREPL connection, as a real board does.
   */
  putFile(name: string, data: Uint8Array): Promise<void> {
    return this.files.putFile(name, data);
  }

  /** The content of file `name`. A board drops the connection when the file cannot be opened (e.g. does not exist). */
  getFile(name: string): Promise<Uint8Array> {
    return this.files.getFile(name);
  }

  /** The board's MicroPython version, e.g. [1, 23, 0]. */
  version(): Promise<MicroPythonVersion> {
    return this.files.version();
  }

  private attach(): void {
    this.socket.on('message', (data, isBinary) => {
      const bytes = toBytes(data);
      if (isBinary) this.files.receive(bytes);
      else this.deliver(bytes);
    });
    this.socket.on('error', (error) => this.shutdown(this.closedError(error)));
    this.socket.on('close', () => this.shutdown(this.closing ? undefined : this.closedError()));
  }

  private deliver(bytes: Uint8Array): void {
    if (this.early) {
      if (this.earlyLength + bytes.length <= EARLY_DATA_LIMIT) {
        this.early.push(bytes);
        this.earlyLength += bytes.length;
      }
      return;
    }
    this.events.emitData(bytes);
  }

  private closedError(cause?: Error): TransportClosedError {
    return new TransportClosedError(this.description, new Error(cause ? this.redact(cause.message) : 'the board closed the WebREPL connection'));
  }

  private shutdown(error?: Error): void {
    if (this.events.closed) return;
    this.files.fail(error ?? new TransportClosedError(this.description));
    if (this.socket.readyState !== WebSocket.CLOSED) this.socket.terminate();
    this.events.emitClose(error);
  }

  private send(bytes: Uint8Array, binary: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.socket.readyState !== WebSocket.OPEN) {
        reject(new TransportClosedError(this.description));
        return;
      }
      this.socket.send(bytes, { binary, compress: false }, (error) => {
        if (error) reject(new TransportClosedError(this.description, new Error(this.redact(error.message))));
        else resolve();
      });
    });
  }
}

function toBytes(data: WebSocket.RawData): Uint8Array {
  if (Array.isArray(data)) return Uint8Array.from(Buffer.concat(data));
  if (data instanceof ArrayBuffer) return new Uint8Array(data.slice(0));
  return new Uint8Array(data); // a plain copy, not a view of ws's buffer
}
