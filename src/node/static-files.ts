/**
 * A folder of static files over HTTP(S), the one implementation behind
 * `esp32-ota serve` (firmware and manifests for boards) and `esp32-ota web`
 * (the browser page): Content-Length, ETag and Last-Modified, Range/206 and
 * 416, If-Range, HEAD, If-None-Match/If-Modified-Since → 304, If-Match and
 * If-Unmodified-Since → 412, GET and HEAD only (405), no path outside the
 * root and no dotfiles (403), an optional index file for paths ending in `/`,
 * an optional request check (auth → 401) and one log line per request.
 *
 * The rules are those of the npm `send` package (the file server behind
 * Express), built from the same libraries it is built from: `range-parser`,
 * `fresh`, `etag`, `mime-types`. What differs is where the bytes come from:
 * files up to CACHE_FILE_BYTES are kept in memory, keyed by their path and
 * checked against a stat (mtime, size, inode) when they were last checked
 * more than REVALIDATE_MS ago, so a file that changes is read again within a
 * second, and a manifest costs a map lookup instead of send's stat + open +
 * read + close through the thread pool and a stream. A kept file is served
 * whole from one read: its bytes and ETag always belong together. Larger
 * files are streamed from disk in 1 MiB reads, with a stat per request.
 */
import { createReadStream, statSync, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import { createServer as createHttpServer, STATUS_CODES, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join, normalize, sep } from 'node:path';
import etag from 'etag';
import fresh from 'fresh';
import { contentType } from 'mime-types';
import parseRange from 'range-parser';

export interface StaticFileServerOptions {
  readonly root: string;
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  /** The file served for a path that ends in `/` (e.g. index.html); without it such paths are 404. */
  readonly index?: string;
  /** The Cache-Control of every file (default send's: 'public, max-age=0'). */
  readonly cacheControl?: string;
  /** Sent with every answer, errors included. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Checked before anything else is answered (after a path that cannot be decoded: 400); refused → 401 with this challenge. */
  readonly authorize?: { readonly allows: (request: IncomingMessage) => boolean; readonly challenge: string };
  readonly tls?: { readonly cert: Buffer | string; readonly key: Buffer | string };
  /** One line per request: time, client, method, path, status, body bytes sent, milliseconds. */
  readonly log?: (line: string) => void;
  /** Files up to this size are served from memory (default CACHE_FILE_BYTES; 0: never). */
  readonly cacheFileBytes?: number;
}

export interface StaticFileServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** A firmware image (1.6–2 MB for the ESP32) fits; the whole cache holds at most CACHE_TOTAL_BYTES. */
export const CACHE_FILE_BYTES = 4 * 1024 * 1024;
const CACHE_TOTAL_BYTES = 64 * 1024 * 1024;
/** Read size for files streamed from disk (fs.createReadStream's default is 64 KiB). */
const READ_CHUNK_BYTES = 1024 * 1024;
/** How long a file kept in memory is served without a new stat (nginx's open_file_cache_valid is 60 s). */
export const REVALIDATE_MS = 1000;
/** Request URLs remembered with the file path they resolve to (only those that named a file). */
const KNOWN_URLS = 1024;
const UP_PATH = /(?:^|[\\/])\.\.(?:[\\/]|$)/;

/** A file as served: its validators and headers, and its bytes when it is small enough to keep. */
interface ServedFile {
  readonly path: string;
  readonly mtimeMs: number;
  readonly size: number;
  readonly ino: number;
  readonly etag: string;
  readonly lastModified: string;
  /** The headers of a whole-file 200 (also the base of 206, 304 and 416). */
  readonly headers: Readonly<Record<string, string | number>>;
  readonly body?: Buffer;
  /** performance.now() of the stat it was last found unchanged by. */
  checkedAt: number;
}

type FileHeaders = Readonly<Record<string, string>>;

function describeFile(path: string, stats: Stats, baseHeaders: FileHeaders, checkedAt: number, body?: Buffer): ServedFile {
  const tag = etag(stats);
  const lastModified = stats.mtime.toUTCString();
  return {
    path,
    mtimeMs: stats.mtimeMs,
    size: stats.size,
    ino: stats.ino,
    etag: tag,
    lastModified,
    headers: {
      ...baseHeaders,
      'Last-Modified': lastModified,
      ETag: tag,
      'Content-Type': contentType(path.slice(path.lastIndexOf(sep) + 1)) || 'application/octet-stream',
      'Content-Length': stats.size,
    },
    ...(body ? { body } : {}),
    checkedAt,
  };
}

const sameFile = (file: ServedFile, stats: Stats) => file.mtimeMs === stats.mtimeMs && file.size === stats.size && file.ino === stats.ino;

/** Small files in memory, the oldest read dropped first, each checked against a stat at most REVALIDATE_MS old before use. */
class FileCache {
  private readonly files = new Map<string, ServedFile>();
  private readonly reading = new Map<string, Promise<ServedFile>>();
  private bytes = 0;

  constructor(
    private readonly fileLimit: number,
    private readonly baseHeaders: FileHeaders,
  ) {}

  /** The file at `path` from memory when it was found unchanged less than REVALIDATE_MS before `now`. */
  recent(path: string, now: number): ServedFile | undefined {
    const cached = this.files.get(path);
    return cached && now - cached.checkedAt < REVALIDATE_MS ? cached : undefined;
  }

  /** The file at `path` as it is now (`stats` just taken at `now`), from memory when it is unchanged there. */
  get(path: string, stats: Stats, now: number): ServedFile | Promise<ServedFile> {
    const cached = this.files.get(path);
    if (cached && sameFile(cached, stats)) {
      cached.checkedAt = now;
      return cached;
    }
    if (cached) this.drop(path, cached);
    if (stats.size > this.fileLimit) return describeFile(path, stats, this.baseHeaders, now);
    let pending = this.reading.get(path);
    if (!pending) {
      pending = this.read(path, now).finally(() => this.reading.delete(path));
      this.reading.set(path, pending);
    }
    return pending;
  }

  /** Reads the file through one handle, so the bytes and the stat that names them belong together. */
  private async read(path: string, now: number): Promise<ServedFile> {
    const handle = await open(path, 'r');
    try {
      const stats = await handle.stat();
      if (stats.size > this.fileLimit) return describeFile(path, stats, this.baseHeaders, now);
      const body = await handle.readFile();
      if (body.length !== stats.size) return describeFile(path, stats, this.baseHeaders, now); // changing as we read: stream it instead
      const file = describeFile(path, stats, this.baseHeaders, now, body);
      this.files.set(path, file);
      this.bytes += body.length;
      for (const [oldPath, old] of this.files) {
        if (this.bytes <= CACHE_TOTAL_BYTES) break;
        this.drop(oldPath, old);
      }
      return file;
    } finally {
      await handle.close();
    }
  }

  private drop(path: string, file: ServedFile): void {
    this.files.delete(path);
    this.bytes -= file.body?.length ?? 0;
  }
}

const parseHttpDate = (date: unknown) => (typeof date === 'string' ? Date.parse(date) : NaN);

function tokens(list: string): string[] {
  return list
    .split(',')
    .map((token) => token.trim())
    .filter(Boolean);
}

/** If-Match / If-Unmodified-Since not satisfied (→ 412), as send decides it. */
function preconditionFailed(request: IncomingMessage, file: ServedFile): boolean {
  const match = request.headers['if-match'];
  if (match) return match !== '*' && tokens(match).every((tag) => tag !== file.etag && tag !== `W/${file.etag}` && `W/${tag}` !== file.etag);
  const unmodifiedSince = parseHttpDate(request.headers['if-unmodified-since']);
  return !Number.isNaN(unmodifiedSince) && parseHttpDate(file.lastModified) > unmodifiedSince;
}

/** If-Range names this version of the file (an ETag or a date), or is absent. */
function rangeStillValid(request: IncomingMessage, file: ServedFile): boolean {
  const ifRange = request.headers['if-range'];
  if (!ifRange) return true;
  if (ifRange.includes('"')) return ifRange.includes(file.etag);
  return parseHttpDate(file.lastModified) <= parseHttpDate(ifRange);
}

/** The request's path, decoded; undefined when it cannot be decoded or holds a NUL byte (→ 400). */
function requestPath(url: string): string | undefined {
  let raw = url;
  if (!raw.startsWith('/')) {
    try {
      raw = new URL(raw).pathname;
    } catch {
      return undefined;
    }
  }
  const end = raw.search(/[?#]/);
  try {
    const path = decodeURIComponent(end === -1 ? raw : raw.slice(0, end));
    return path.includes('\0') ? undefined : path;
  } catch {
    return undefined;
  }
}

/** The file a request path names under root, or the status that refuses it: no `..`, no dotfiles; a folder only through `index`. */
function resolveInRoot(root: string, path: string, index: string | undefined): string | number {
  const relative = normalize(`.${sep}${path}`);
  if (UP_PATH.test(relative)) return 403;
  if (relative.split(sep).some((part) => part.length > 1 && part.startsWith('.'))) return 403;
  if (path.endsWith('/')) return index ? join(root, relative, index) : 404;
  return join(root, relative);
}

/** The request handler of a static file server (without listening: startStaticFileServer does that). */
function staticFileHandler(options: StaticFileServerOptions): (request: IncomingMessage, response: ServerResponse) => void {
  const { root, index, authorize, log } = options;
  const extraHeaders = options.headers ?? {};
  const cache = new FileCache(options.cacheFileBytes ?? CACHE_FILE_BYTES, {
    ...extraHeaders,
    'Accept-Ranges': 'bytes',
    'Cache-Control': options.cacheControl ?? 'public, max-age=0',
  });
  const knownUrls = new Map<string, { readonly path: string; readonly full: string }>();

  return (request, response) => {
    const started = performance.now();
    let bodyBytes = 0;
    const url = request.url ?? '/';
    const known = knownUrls.get(url);
    const path = known ? known.path : requestPath(url);
    if (log) {
      response.once('close', () => {
        const complete = response.writableFinished ? '' : ' (connection closed early)';
        log(
          `${new Date().toISOString()} ${request.socket.remoteAddress ?? '-'} ${request.method} ${path ?? request.url} ${response.statusCode} ${bodyBytes} bytes ${(performance.now() - started).toFixed(0)} ms${complete}`,
        );
      });
    }
    const fail = (status: number, headers: OutgoingHttpHeaders = {}) => {
      const body = `${status} ${STATUS_CODES[status] ?? ''}\n`;
      response.writeHead(status, { ...extraHeaders, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), ...headers });
      if (request.method === 'HEAD') response.end();
      else {
        bodyBytes = body.length;
        response.end(body);
      }
    };
    if (path === undefined) return fail(400);
    if (authorize && !authorize.allows(request)) return fail(401, { 'WWW-Authenticate': authorize.challenge });
    if (request.method !== 'GET' && request.method !== 'HEAD') return fail(405, { Allow: 'GET, HEAD' });
    const full = known ? known.full : resolveInRoot(root, path, index);
    if (typeof full === 'number') return fail(full);
    const recent = cache.recent(full, started);
    if (recent) return respond(recent);
    let stats: Stats | undefined;
    try {
      stats = statSync(full, { throwIfNoEntry: false });
    } catch (error) {
      return fail((error as NodeJS.ErrnoException).code === 'EACCES' ? 403 : 404);
    }
    if (!stats?.isFile()) return fail(404);
    if (!known && knownUrls.size < KNOWN_URLS) knownUrls.set(url, { path, full });
    const file = cache.get(full, stats, started);
    if (file instanceof Promise) {
      file.then(
        (read) => respond(read),
        (error: NodeJS.ErrnoException) => fail(error.code === 'ENOENT' ? 404 : error.code === 'EACCES' ? 403 : 500),
      );
    } else respond(file);

    function respond(file: ServedFile): void {
      const headers = request.headers;
      if (headers['if-match'] || headers['if-unmodified-since'] || headers['if-none-match'] || headers['if-modified-since']) {
        if (preconditionFailed(request, file)) return fail(412);
        if (fresh(headers, { etag: file.etag, 'last-modified': file.lastModified })) {
          const { 'Content-Type': _type, 'Content-Length': _length, ...validators } = file.headers;
          response.writeHead(304, validators);
          response.end();
          return;
        }
      }
      let start = 0;
      let end = file.size - 1;
      let status = 200;
      let responseHeaders = file.headers;
      const range = headers.range;
      if (range && /^ *bytes=/.test(range) && rangeStillValid(request, file)) {
        const ranges = parseRange(file.size, range, { combine: true });
        if (ranges === -1) return fail(416, { 'Content-Range': `bytes */${file.size}` });
        // A syntactically bad range or several ranges: the whole file, as send answers.
        if (ranges !== -2 && ranges.length === 1) {
          start = ranges[0]!.start;
          end = ranges[0]!.end;
          status = 206;
          responseHeaders = { ...file.headers, 'Content-Range': `bytes ${start}-${end}/${file.size}`, 'Content-Length': end - start + 1 };
        }
      }
      response.writeHead(status, responseHeaders);
      const length = Math.max(0, end - start + 1);
      if (request.method === 'HEAD' || length === 0) {
        response.end();
        return;
      }
      if (file.body) {
        bodyBytes = length;
        response.end(start === 0 && length === file.size ? file.body : file.body.subarray(start, end + 1));
        return;
      }
      const stream = createReadStream(file.path, { start, end, highWaterMark: READ_CHUNK_BYTES });
      stream.on('data', (chunk) => (bodyBytes += chunk.length));
      stream.on('error', () => response.destroy());
      response.once('close', () => stream.destroy());
      stream.pipe(response);
    }
  };
}

/** Serves `options.root` on host:port (default 127.0.0.1, a free port), over HTTPS with `tls`. */
export async function startStaticFileServer(options: StaticFileServerOptions): Promise<StaticFileServer> {
  const handle = staticFileHandler(options);
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
