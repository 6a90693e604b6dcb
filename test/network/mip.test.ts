/** mip.install on the virtual board from a package index served by the host. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { networkBoard, type NetworkBoard } from '../helpers/network-board.js';
import { listen } from '../helpers/http-fixture.js';

const files: Record<string, string> = {
  '/pkg/package.json': JSON.stringify({
    urls: [
      ['greeter/__init__.py', 'greeter/__init__.py'],
      ['greeter/words.py', 'greeter/words.py'],
    ],
    deps: [['http://HOST/dep/package.json', 'latest']],
    version: '1.0',
  }),
  '/pkg/greeter/__init__.py': 'from greeter.words import HELLO\nimport shout\n\ndef greet(name):\n    return shout.loud(HELLO + " " + name)\n',
  '/pkg/greeter/words.py': 'HELLO = "hello"\n',
  '/dep/package.json': JSON.stringify({ urls: [['shout.py', 'http://HOST/dep/shout.py']], version: '0.1' }),
  '/dep/shout.py': 'def loud(text):\n    return text.upper() + "!"\n',
};

let target: NetworkBoard;
let host: string;
const served: string[] = [];
const server = createServer((request, response) => {
  served.push(request.url ?? '');
  const body = files[request.url ?? ''];
  response.writeHead(body === undefined ? 404 : 200);
  response.end(body?.replaceAll('HOST', host) ?? 'not found');
});

before(async () => {
  target = await networkBoard();
  host = `127.0.0.1:${await listen(server)}`;
});
after(async () => {
  await target.stop();
  server.close();
});

describe('mip on the virtual board', () => {
  it('installs a two-file package with one dependency into /lib from a package.json URL, and it imports', async () => {
    const out = await target.run(`
import mip
mip.install('http://${host}/pkg/package.json')
import greeter, os
print(greeter.greet('board'))
print(sorted(os.listdir('/lib')), sorted(os.listdir('/lib/greeter')))
`);
    assert.equal(
      out,
      [
        `Installing http://${host}/pkg/package.json to /lib`,
        'Copying: /lib/greeter/__init__.py',
        'Copying: /lib/greeter/words.py',
        `Installing http://${host}/dep/package.json to /lib`,
        'Copying: /lib/shout.py',
        'Done',
        'HELLO BOARD!',
        "['greeter', 'shout.py'] ['__init__.py', 'words.py']",
        '',
      ].join('\n'),
    );
    assert.equal(new TextDecoder().decode(target.board.readFile('lib/shout.py')), files['/dep/shout.py']);
  });

  it('says what is missing and that the package may be partially installed', async () => {
    const out = await target.run(`
import mip
mip.install('http://${host}/nothing/package.json')
mip.install('name', index='http://${host}/index')
`);
    assert.equal(
      out,
      [
        `Installing http://${host}/nothing/package.json to /lib`,
        `Package not found: http://${host}/nothing/package.json`,
        'Package may be partially installed',
        `Installing name (latest) from http://${host}/index to /lib`,
        `Package not found: http://${host}/index/package/6/name/latest.json`,
        'Package may be partially installed',
        '',
      ].join('\n'),
    );
  });
});
