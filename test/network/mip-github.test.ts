/**
 * `mip.install("github:OWNER/REPO/device/ota")` on the virtual board, as the
 * README tells users to install the ota package: mip (ours, with micropython-lib
 * mip's URL rules) turns github: into
 * https://raw.githubusercontent.com/OWNER/REPO/HEAD/device/ota/package.json
 * and each relative file URL into the same layout. The board's network routes
 * raw.githubusercontent.com:443 to a local HTTPS server that serves this
 * repository's files under that layout (the test certificate is for localhost:
 * mip's requests, like micropython-lib's, does not check certificates).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { networkBoard, type NetworkBoard } from '../helpers/network-board.js';
import { listen } from '../helpers/http-fixture.js';

const repository = new URL('../../../', import.meta.url);
const fixture = (name: string) => readFileSync(new URL(`test/fixtures/tls/${name}`, repository));
const PREFIX = '/esp32-ota/esp32-ota/HEAD/';
const asked: string[] = [];
const server = createServer({ key: fixture('server.key'), cert: fixture('server.pem') }, (request, response) => {
  const url = request.url ?? '';
  asked.push(`${request.headers.host} ${url}`);
  const path = url.startsWith(PREFIX) ? url.slice(PREFIX.length) : '';
  let body: Buffer | undefined;
  if (path.startsWith('device/ota/') && !path.includes('..')) {
    try {
      body = readFileSync(new URL(path, repository));
    } catch {
      body = undefined;
    }
  }
  response.writeHead(body ? 200 : 404, { 'Content-Type': 'text/plain; charset=utf-8' });
  response.end(body ?? '404: Not Found');
});
const packageJson = JSON.parse(readFileSync(new URL('device/ota/package.json', repository), 'utf8')) as { urls: [string, string][] };

let target: NetworkBoard;
before(async () => {
  target = await networkBoard();
  target.network.setRoute('raw.githubusercontent.com:443', `127.0.0.1:${await listen(server)}`);
});
after(async () => {
  await target.stop();
  server.closeAllConnections();
  server.close();
});

describe('mip.install("github:OWNER/REPO/device/ota") on the virtual board', () => {
  it('fetches package.json and every file from raw.githubusercontent.com over HTTPS, installs /lib/ota, and ota.status works', async () => {
    const out = await target.run(
      `
import mip, os
mip.install("github:esp32-ota/esp32-ota/device/ota")
import ota.status
print(" ".join(sorted(os.listdir("/lib/ota"))))
print(ota.status.ready())
`,
      60_000,
    );
    const lines = out.trim().split('\n');
    assert.equal(lines[0], 'Installing github:esp32-ota/esp32-ota/device/ota/package.json to /lib');
    assert.deepEqual(
      lines.slice(1, 1 + packageJson.urls.length),
      packageJson.urls.map(([destination]) => `Copying: /lib/${destination}`),
    );
    assert.equal(lines[1 + packageJson.urls.length], 'Done');
    assert.equal(lines.at(-2), packageJson.urls.map(([destination]) => destination.replace(/^ota\//, '')).sort().join(' '));
    assert.equal(lines.at(-1), 'True');
    assert.deepEqual(asked, [
      `raw.githubusercontent.com ${PREFIX}device/ota/package.json`,
      ...packageJson.urls.map(([, source]) => `raw.githubusercontent.com ${PREFIX}device/ota/${source}`),
    ]);
    for (const [destination, source] of packageJson.urls) {
      assert.deepEqual(Buffer.from(target.board.readFile(`lib/${destination}`) ?? []), readFileSync(new URL(`device/ota/${source}`, repository)), destination);
    }
  });
});
