/**
 * The virtual board's network faces: its UART on a TCP port (what
 * `tcp:HOST:PORT` and tools like `mpremote connect socket://` reach) and its
 * WebREPL endpoint. Both listen on 127.0.0.1 unless told otherwise.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { VirtualEsp32 } from '../device/virtual-esp32.js';
import { startWebReplServer, type WebReplServer } from '../webrepl/node.js';

/** What a second TCP client reads before the server closes its connection. */
export const UART_BUSY_MESSAGE = 'esp32-ota sim: the UART is in use by another client';

export interface ListeningServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * One TCP client at a time gets the UART, as one cable on a real port: it sees
 * everything the board prints and what it sends reaches the REPL. A second
 * client is told who has it and disconnected (as ser2net and WebREPL do).
 */
export async function serveUartOverTcp(board: VirtualEsp32, port: number, host = '127.0.0.1'): Promise<ListeningServer> {
  const sockets = new Set<Socket>();
  let holder: string | undefined;
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const client = `${socket.remoteAddress}:${socket.remotePort}`;
    if (holder !== undefined) {
      socket.end(`${UART_BUSY_MESSAGE} (by ${holder}): try again when it disconnects\r\n`);
      return;
    }
    holder = client;
    socket.setNoDelay(true);
    const link = board.connect(`TCP client ${client}`);
    link.onData((bytes) => socket.write(bytes));
    socket.on('data', (bytes) => void link.write(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)).catch(() => socket.destroy()));
    socket.on('close', () => {
      holder = undefined;
      void link.close();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  return {
    url: `tcp:${host}:${boundPort}`,
    port: boundPort,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

export async function serveWebRepl(board: VirtualEsp32, options: { password: string; port: number; host?: string }): Promise<WebReplServer> {
  const link = board.connect('WebREPL', { network: true });
  return startWebReplServer({
    password: options.password,
    port: options.port,
    host: options.host ?? '127.0.0.1',
    repl: { write: (bytes) => link.write(bytes), onData: (listener) => link.onData(listener) },
    files: { readFile: (name) => board.readFile(name), writeFile: (name, data) => board.writeFile(name, data) },
    version: () => versionTuple(board),
  });
}

function versionTuple(board: VirtualEsp32): [number, number, number] {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(board.identity?.version ?? '');
  return match ? [Number(match[1]), Number(match[2]), Number(match[3])] : [0, 0, 0];
}
