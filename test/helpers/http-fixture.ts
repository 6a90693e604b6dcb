/** HTTP servers on loopback for the network tests: a file, chunked, redirects, auth, stalls and resets. */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Server } from 'node:net';
import { randomBytes } from 'node:crypto';

export interface HttpFixture {
  readonly port: number;
  readonly url: string;
  readonly body: Uint8Array;
  /** Paths asked for, in order. */
  readonly requests: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[];
  close(): Promise<void>;
}

/**
 * What /reset-mid-body sends before its RST: little enough to sit whole in the
 * client's socket receive buffer as soon as it is written (loopback).
 */
const RESET_AFTER_BYTES = 20_000;

/**
 * Runs `then` once the client end (a socket in this process: the virtual
 * board's network) has had a poll phase to read what the kernel holds for it.
 * A RST that finds bytes still unread there is reported by libuv as a clean
 * end of stream (uv__stream_io's POLLHUP short cut after a partial read), not
 * ECONNRESET; so a reset on a timer turned into an EOF whenever this process
 * was too busy to read within the delay. The first setImmediate ends this
 * turn of the event loop; the second runs after the next turn's poll phase.
 */
function afterClientReads(then: () => void): void {
  setImmediate(() => setImmediate(then));
}

export async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

export async function httpFixture(options: { bodySize?: number; routes?: Record<string, (request: IncomingMessage, response: ServerResponse) => void> } = {}): Promise<HttpFixture> {
  const body = new Uint8Array(randomBytes(options.bodySize ?? 1_600_000));
  const requests: HttpFixture['requests'] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      requests.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body: Buffer.concat(chunks).toString() });
      const route = options.routes?.[request.url ?? ''];
      if (route) return route(request, response);
      switch (request.url) {
        case '/firmware.bin':
          response.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length });
          response.end(body);
          return;
        case '/stall':
          return; // never answers
        case '/reset-mid-body':
          response.writeHead(200, { 'Content-Length': body.length });
          response.write(body.subarray(0, RESET_AFTER_BYTES), () => afterClientReads(() => response.socket?.resetAndDestroy()));
          return;
        default:
          response.writeHead(404, { 'Content-Type': 'text/plain' });
          response.end('not found\n');
      }
    });
  });
  const port = await listen(server);
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    body,
    requests,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
