/**
 * Serves the built web page (dist/web) over HTTP on this computer, with the
 * headers that make it cross-origin isolated, which shared memory (the
 * in-page virtual board) needs: Cross-Origin-Opener-Policy: same-origin and
 * Cross-Origin-Embedder-Policy: require-corp (docs/web.md).
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const WEB_PAGE_ROOT = fileURLToPath(new URL('../../web/', import.meta.url));

export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
} as const;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.py': 'text/x-python; charset=utf-8',
  '.svg': 'image/svg+xml',
};

export interface WebPageServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Whether `npm run build` has made the page (the folder `esp32-ota web` serves). */
export function webPageBuilt(root: string = WEB_PAGE_ROOT): boolean {
  return existsSync(join(root, 'index.html'));
}

export async function serveWebPage(options: { port: number; host?: string; root?: string }): Promise<WebPageServer> {
  const root = resolve(options.root ?? WEB_PAGE_ROOT) + sep;
  if (!webPageBuilt(root)) throw new Error(`the web page is not built (no ${join(root, 'index.html')}): run npm run build`);
  const host = options.host ?? '127.0.0.1';
  const server: Server = createServer((request, response) => {
    const headers = { ...ISOLATION_HEADERS, 'Cache-Control': 'no-cache' };
    let path: string;
    try {
      path = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname);
    } catch {
      response.writeHead(400, { ...headers, 'Content-Type': 'text/plain' }).end('bad request path\n');
      return;
    }
    const file = normalize(join(root, path.endsWith('/') ? `${path}index.html` : path));
    if (!(file + sep).startsWith(root) || !existsSync(file) || !statSync(file).isFile()) {
      response.writeHead(404, { ...headers, 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    response.writeHead(200, { ...headers, 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(response);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
