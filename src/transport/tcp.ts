/**
 * A Transport over a TCP connection (`tcp:HOST:PORT`): a board's REPL bridged
 * to TCP (e.g. ser2net, or the virtual ESP32's server). Bytes only, Nagle off
 * so that small REPL writes leave at once.
 */
import { connect, type Socket } from 'node:net';
import { TransportClosedError, TransportEvents, type Transport } from './transport.js';

export interface TcpOptions {
  /** How long connecting may take (default 5 s). */
  timeoutMs?: number;
}

export function openTcpTransport(host: string, port: number, options: TcpOptions = {}): Promise<Transport> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer from ${endpoint(host, port)} within ${timeoutMs} ms: is the address right and the board on the network?`));
    }, timeoutMs);
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(connectError(host, port, error));
    });
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(new TcpTransport(socket, `tcp:${endpoint(host, port)}`));
    });
  });
}

class TcpTransport implements Transport {
  private readonly events = new TransportEvents();
  private failure: Error | undefined;
  /** The end of what the peer sent: a bridge that refuses us (ser2net "Port already in use") says why in its last line. */
  private lastReceived = '';
  private closing = false;

  constructor(
    private readonly socket: Socket,
    readonly description: string,
  ) {
    socket.on('data', (chunk: Buffer) => {
      this.lastReceived = (this.lastReceived + chunk.toString('latin1')).slice(-160);
      this.events.emitData(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
    });
    socket.on('error', (error) => (this.failure = error));
    socket.on('close', () => {
      this.failure ??= this.peerClosed();
      this.events.emitClose(this.failure);
    });
  }

  /** A clean close by the other end is no error, unless its last line was a message (a refusal) worth passing on. */
  private peerClosed(): Error | undefined {
    if (this.closing) return undefined;
    const lastLine = this.lastReceived.trimEnd().split(/\r?\n/).pop() ?? '';
    if (!/^[\x20-\x7e]{3,}$/.test(lastLine) || /^>/.test(lastLine)) return undefined;
    return new Error(`the other end closed the connection after saying "${lastLine}"`);
  }

  get closed(): boolean {
    return this.events.closed;
  }

  write(data: Uint8Array): Promise<void> {
    if (this.closed || this.socket.destroyed || !this.socket.writable) {
      return Promise.reject(new TransportClosedError(this.description, this.failure));
    }
    return new Promise((resolve, reject) => {
      this.socket.write(data, (error) => (error ? reject(new TransportClosedError(this.description, error)) : resolve()));
    });
  }

  onData(listener: (chunk: Uint8Array) => void): () => void {
    return this.events.onData(listener);
  }

  onClose(listener: (error?: Error) => void): () => void {
    return this.events.onClose(listener);
  }

  /** Sends what is queued, then closes; resolves once the socket is closed. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closing = true;
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.end();
      // A peer that never answers the FIN must not keep us waiting.
      setTimeout(() => this.socket.destroy(), 1_000).unref();
    });
  }
}

function endpoint(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

function connectError(host: string, port: number, error: NodeJS.ErrnoException): Error {
  const where = endpoint(host, port);
  switch (error.code) {
    case 'ECONNREFUSED':
      return new Error(`nothing listens on ${where} — is the board/simulator running?`, { cause: error });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new Error(`cannot find host ${host}: check the name or use its IP address`, { cause: error });
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new Error(`cannot reach ${where}: is this computer on the board's network?`, { cause: error });
    default:
      return new Error(`cannot connect to ${where}: ${error.message}`, { cause: error });
  }
}
