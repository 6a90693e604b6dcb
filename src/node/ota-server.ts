/**
 * esp32-ota serve: firmware and manifests over HTTP(S) for boards that update
 * themselves. The HTTP semantics (Content-Length, ETag and Last-Modified,
 * Range/206 and 416, HEAD, If-None-Match/If-Modified-Since → 304,
 * If-Range, no path outside the root, no dotfiles) are the npm `send`
 * package's, the file server behind Express's serve-static; this module adds
 * authentication and one log line per request.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer as createHttpServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import send from 'send';

export type ServerAuth = { readonly kind: 'basic'; readonly user: string; readonly password: string } | { readonly kind: 'bearer'; readonly token: string };

export interface OtaServerOptions {
  readonly root: string;
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  readonly auth?: ServerAuth;
  readonly tls?: { readonly cert: Buffer | string; readonly key: Buffer | string };
  /** One line per request: time, client, method, path, status, body bytes sent, milliseconds. */
  readonly log?: (line: string) => void;
}

export interface OtaServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Read size for file bodies (send passes it on to fs.createReadStream; its
 * default is 64 KiB): a firmware image goes out in a few large writes.
 */
const READ_CHUNK_BYTES = 1024 * 1024;
const digest = (text: string) => createHash('sha256').update(text).digest();
const sameSecret = (given: string, expected: Buffer) => timingSafeEqual(digest(given), expected);

function authorizer(auth: ServerAuth | undefined): (request: IncomingMessage) => boolean {
  if (!auth) return () => true;
  const expected = auth.kind === 'basic' ? digest(`Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}`) : digest(`Bearer ${auth.token}`);
  return (request) => sameSecret(request.headers.authorization ?? '', expected);
}

export async function startOtaServer(options: OtaServerOptions): Promise<OtaServer> {
  const allowed = authorizer(options.auth);
  const challenge = options.auth?.kind === 'basic' ? 'Basic realm="esp32-ota", charset="UTF-8"' : 'Bearer realm="esp32-ota"';
  // highWaterMark is not in send's types, but send hands its options to fs.createReadStream.
  const sendOptions: send.SendOptions & { highWaterMark: number } = { root: options.root, dotfiles: 'deny', index: false, maxAge: 0, highWaterMark: READ_CHUNK_BYTES };
  const handle = (request: IncomingMessage, response: ServerResponse) => {
    const started = performance.now();
    let bodyBytes = 0;
    let path = '/';
    response.once('close', () => {
      const client = request.socket.remoteAddress ?? '-';
      const complete = response.writableFinished ? '' : ' (connection closed early)';
      options.log?.(
        `${new Date().toISOString()} ${client} ${request.method} ${path} ${response.statusCode} ${bodyBytes} bytes ${(performance.now() - started).toFixed(0)} ms${complete}`,
      );
    });
    const fail = (status: number, headers: Record<string, string> = {}) => {
      const body = `${status} ${STATUS_CODES[status] ?? ''}\n`;
      response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), ...headers });
      response.end(request.method === 'HEAD' ? undefined : body);
    };
    try {
      path = new URL(request.url ?? '/', 'http://host').pathname;
    } catch {
      fail(400);
      return;
    }
    if (!allowed(request)) {
      fail(401, { 'WWW-Authenticate': challenge });
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      fail(405, { Allow: 'GET, HEAD' });
      return;
    }
    send(request, path, sendOptions)
      .on('error', (error: { status?: number; statusCode?: number }) => fail(error.status ?? error.statusCode ?? 500))
      .on('directory', () => fail(404))
      .on('stream', (stream: NodeJS.ReadableStream) => stream.on('data', (chunk: Buffer) => (bodyBytes += chunk.length)))
      .pipe(response);
  };
  const server: Server = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, handle) : createHttpServer(handle);
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `${options.tls ? 'https' : 'http'}://${shownHost}:${address.port}/`,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
