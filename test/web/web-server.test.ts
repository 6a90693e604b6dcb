import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { serveWebPage, type WebPageServer } from '../../src/node/web-server.js';

/** A GET as sent: the path as it is (fetch() folds '..' away) and only these headers (fetch() adds Cache-Control: no-cache to a conditional request). */
function rawGet(url: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    request(new URL(url), { path, headers }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
    })
      .on('error', reject)
      .end();
  });
}

describe('esp32-ota web: the page server', () => {
  let root: string;
  let server: WebPageServer;
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'esp32-ota-web-'));
    mkdirSync(join(root, 'assets'));
    writeFileSync(join(root, 'index.html'), '<!doctype html><title>t</title>');
    writeFileSync(join(root, 'assets', 'm.wasm'), new Uint8Array([0, 0x61, 0x73, 0x6d]));
    writeFileSync(join(root, '..', 'secret.txt'), 'not served');
    server = await serveWebPage({ port: 0, root });
  });
  after(async () => {
    await server.close();
    rmSync(root, { recursive: true, force: true });
    rmSync(join(root, '..', 'secret.txt'), { force: true });
  });

  it('serves the page cross-origin isolated (COOP/COEP), with the right types', async () => {
    const page = await fetch(server.url);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('cross-origin-opener-policy'), 'same-origin');
    assert.equal(page.headers.get('cross-origin-embedder-policy'), 'require-corp');
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    const wasm = await fetch(new URL('assets/m.wasm', server.url));
    assert.equal(wasm.headers.get('content-type'), 'application/wasm');
    assert.equal(wasm.headers.get('cross-origin-embedder-policy'), 'require-corp');
  });

  it('answers 404 for missing files and 403 for paths outside its folder, isolated too', async () => {
    const missing = await fetch(new URL('nothing.js', server.url));
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get('cross-origin-embedder-policy'), 'require-corp');
    for (const path of ['/..%2fsecret.txt', '/assets/../../secret.txt']) {
      const escape = await rawGet(server.url, path);
      assert.equal(escape.status, 403, path);
      assert.doesNotMatch(escape.body, /not served/);
    }
  });

  it('index.html for a folder path; ETag and Last-Modified with no-cache, so a reload is a 304', async () => {
    const page = await fetch(server.url);
    assert.equal(await page.text(), '<!doctype html><title>t</title>');
    assert.equal(page.headers.get('cache-control'), 'no-cache');
    const etag = page.headers.get('etag');
    assert.match(etag ?? '', /^W\/"/);
    assert.ok(page.headers.get('last-modified'));
    const reload = await rawGet(server.url, '/index.html', { 'If-None-Match': etag! });
    assert.equal(reload.status, 304);
    assert.equal(reload.body, '');
    assert.equal(reload.headers['cross-origin-opener-policy'], 'same-origin', 'a 304 keeps the page isolated');
    assert.equal((await rawGet(server.url, '/', { 'If-Modified-Since': page.headers.get('last-modified')! })).status, 304);
    assert.equal((await fetch(new URL('assets/', server.url))).status, 404, 'a folder without index.html');
  });

  it('Range → 206 (416 past the end), HEAD without a body, 405 for other methods', async () => {
    const part = await fetch(new URL('assets/m.wasm', server.url), { headers: { Range: 'bytes=1-2' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), 'bytes 1-2/4');
    assert.deepEqual(new Uint8Array(await part.arrayBuffer()), new Uint8Array([0x61, 0x73]));
    assert.equal((await fetch(new URL('assets/m.wasm', server.url), { headers: { Range: 'bytes=9-' } })).status, 416);
    const head = await fetch(new URL('assets/m.wasm', server.url), { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), '4');
    assert.equal((await head.arrayBuffer()).byteLength, 0);
    const post = await fetch(server.url, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  });

  it('refuses to start when the page is not built', async () => {
    await assert.rejects(serveWebPage({ port: 0, root: join(root, 'assets') }), /not built.*npm run build/);
  });
});
