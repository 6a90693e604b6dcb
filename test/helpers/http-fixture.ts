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
          response.write(body.subarray(0, 200_000), () => setTimeout(() => response.socket?.resetAndDestroy(), 20));
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
