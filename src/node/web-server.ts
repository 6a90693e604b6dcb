/**
 * Serves the built web page (dist/web) over HTTP on this computer, from the
 * project's static file server (static-files.ts: ETag/304, Range, HEAD), with
 * index.html for `/`, Cache-Control: no-cache (a browser asks again, and a
 * rebuilt page is fetched anew), and the headers that make it cross-origin
 * isolated, which shared memory (the in-page virtual board) needs:
 * Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy:
 * require-corp (docs/web.md).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startStaticFileServer, type StaticFileServer } from './static-files.js';

export const WEB_PAGE_ROOT = fileURLToPath(new URL('../../web/', import.meta.url));

export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
} as const;

export type WebPageServer = StaticFileServer;

/** Whether `npm run build` has made the page (the folder `esp32-ota web` serves). */
export function webPageBuilt(root: string = WEB_PAGE_ROOT): boolean {
  return existsSync(join(root, 'index.html'));
}

export async function serveWebPage(options: { port: number; host?: string; root?: string }): Promise<WebPageServer> {
  const root = resolve(options.root ?? WEB_PAGE_ROOT);
  if (!webPageBuilt(root)) throw new Error(`the web page is not built (no ${join(root, 'index.html')}): run npm run build`);
  return startStaticFileServer({ root, port: options.port, ...(options.host ? { host: options.host } : {}), index: 'index.html', cacheControl: 'no-cache', headers: ISOLATION_HEADERS });
}
