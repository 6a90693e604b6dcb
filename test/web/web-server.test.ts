import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { serveWebPage, type WebPageServer } from '../../src/node/web-server.js';

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

  it('answers 404 for missing files and for paths outside its folder', async () => {
    assert.equal((await fetch(new URL('nothing.js', server.url))).status, 404);
    const escape = await fetch(new URL('/%2e%2e/secret.txt', server.url));
    assert.equal(escape.status, 404);
    assert.doesNotMatch(await escape.text(), /not served/);
  });

  it('refuses to start when the page is not built', async () => {
    await assert.rejects(serveWebPage({ port: 0, root: join(root, 'assets') }), /not built.*npm run build/);
  });
});
