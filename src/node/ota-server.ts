/**
 * esp32-ota serve: firmware and manifests over HTTP(S) for boards that update
 * themselves, from the project's static file server (static-files.ts: Range,
 * ETag, conditional requests, files kept in memory), with HTTP basic auth or a
 * bearer token and one log line per request.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { startStaticFileServer, type StaticFileServer, type StaticFileServerOptions } from './static-files.js';

export { CACHE_FILE_BYTES, REVALIDATE_MS } from './static-files.js';

export type ServerAuth = { readonly kind: 'basic'; readonly user: string; readonly password: string } | { readonly kind: 'bearer'; readonly token: string };

export type OtaServerOptions = Pick<StaticFileServerOptions, 'root' | 'host' | 'port' | 'tls' | 'log' | 'cacheFileBytes'> & { readonly auth?: ServerAuth };

export type OtaServer = StaticFileServer;

const digest = (text: string) => createHash('sha256').update(text).digest();

/** The Authorization header the auth expects, compared in constant time. */
function authorizer(auth: ServerAuth): (request: IncomingMessage) => boolean {
  const expected = auth.kind === 'basic' ? digest(`Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}`) : digest(`Bearer ${auth.token}`);
  return (request) => timingSafeEqual(digest(request.headers.authorization ?? ''), expected);
}

export async function startOtaServer(options: OtaServerOptions): Promise<OtaServer> {
  const { auth, ...served } = options;
  return startStaticFileServer({
    ...served,
    ...(auth && {
      authorize: {
        allows: authorizer(auth),
        challenge: auth.kind === 'basic' ? 'Basic realm="esp32-ota", charset="UTF-8"' : 'Bearer realm="esp32-ota"',
      },
    }),
  });
}
