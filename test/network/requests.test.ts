/** The frozen `requests` module on the virtual board against HTTP servers on the host. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { createServer } from 'node:http';
import { networkBoard, type NetworkBoard } from '../helpers/network-board.js';
import { httpFixture, listen, type HttpFixture } from '../helpers/http-fixture.js';

let target: NetworkBoard;
let http: HttpFixture;
let other: { port: number; close(): void };

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/**
 * Sends `response` and closes once the request's head (up to the blank line)
 * has arrived. The board writes its request line by line; a server that
 * closed at the first line made the host end of the virtual network shut the
 * board's sending side too (Node's sockets are not half-open by default, an
 * lwIP socket is), so a board slowed by a busy machine got EPIPE (OSError
 * 104) for its next header line instead of reading the answer.
 */
function answerAfterRequestHead(connection: Socket, response: string): void {
  let head = '';
  const take = (data: Buffer): void => {
    head += data.toString('latin1');
    if (!head.includes('\r\n\r\n')) return;
    connection.off('data', take);
    connection.end(response);
  };
  connection.on('data', take);
}

before(async () => {
  target = await networkBoard();
  const otherServer = createServer((request, response) => {
    response.writeHead(200, { 'Content-Type': 'text/plain' });
    response.end(`other port: ${request.method} ${request.url}`);
  });
  other = { port: await listen(otherServer), close: () => otherServer.close() };
  http = await httpFixture({
    routes: {
      '/redirect': (_request, response) => {
        response.writeHead(302, { Location: `http://127.0.0.1:${other.port}/moved` });
        response.end();
      },
      '/private': (request, response) => {
        const expected = 'Basic ' + Buffer.from('ota:s3cret').toString('base64');
        response.writeHead(request.headers.authorization === expected ? 200 : 401, { 'Content-Type': 'application/json' });
        response.end(JSON.stringify({ authorised: request.headers.authorization === expected }));
      },
      '/echo': (request, response) => {
        response.writeHead(200, { 'Content-Type': 'application/json' });
        response.end(JSON.stringify({ method: request.method, type: request.headers['content-type'], length: request.headers['content-length'] }));
      },
    },
  });
});
after(async () => {
  await target.stop();
  await http.close();
  other.close();
});

describe('requests on the virtual board', () => {
  it('downloads a 1.6 MB body byte-identical, whole and as 4 KiB pieces of .raw with stream=True', async () => {
    const out = await target.run(`
import requests, hashlib, binascii
r = requests.get('${http.url}/firmware.bin')
body = r.content
print(r.status_code, r.reason, len(body), r.headers['Content-Type'], binascii.hexlify(hashlib.sha256(body).digest()).decode())
del body
r = requests.get('${http.url}/firmware.bin', stream=True)
h = hashlib.sha256()
n = 0
while True:
    piece = r.raw.read(4096)
    if not piece:
        break
    assert len(piece) <= 4096
    n += len(piece)
    h.update(piece)
r.close()
print(n, binascii.hexlify(h.digest()).decode())
`);
    const digest = sha256(http.body);
    assert.equal(out, `200 b'OK' 1600000 application/octet-stream ${digest}\n1600000 ${digest}\n`);
  });

  it("follows a redirect to another port, sends basic auth and JSON, json.load()s .raw (as the seed's from_json), returns a 404 as a value", async () => {
    const out = await target.run(`
import requests
r = requests.get('${http.url}/redirect')
print(r.status_code, r.text)
print(requests.get('${http.url}/private', auth=('ota', 's3cret')).json())
print(requests.get('${http.url}/private', headers={}).status_code)
print(sorted(requests.post('${http.url}/echo', json={'a': 1}).json().items()))
import json
r = requests.get('${http.url}/private', auth=('ota', 's3cret'))
print(json.load(r.raw))
r.close()
r = requests.get('${http.url}/missing')
print(r.status_code, r.reason, r.text)
`);
    assert.equal(
      out,
      `200 other port: GET /moved\n{'authorised': True}\n401\n[('length', '8'), ('method', 'POST'), ('type', 'application/json')]\n{'authorised': True}\n404 b'Not Found' not found\n\n`,
    );
  });

  it('fails as a board does: chunked (ValueError), refused (104), timeout (116), reset mid-body (104), unknown name (-202)', async () => {
    // Answers once the request's head is in, as an HTTP server does. (Answering and closing at its
    // first line raced with the board still sending its headers: see answerAfterRequestHead.)
    const chunked = createTcpServer((connection) =>
      answerAfterRequestHead(connection, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'),
    );
    const chunkedPort = await listen(chunked);
    const refused = createTcpServer();
    const refusedPort = await listen(refused);
    await new Promise((resolve) => refused.close(resolve));
    let out = await target.run(`
import requests
def attempt(f):
    try:
        f()
        print('no error')
    except Exception as e:
        print(type(e).__name__, e.args[0] if type(e) is not OSError else e.errno)
attempt(lambda: requests.get('http://127.0.0.1:${chunkedPort}/'))
attempt(lambda: requests.get('http://127.0.0.1:${refusedPort}/'))
attempt(lambda: requests.get('${http.url}/stall', timeout=0.3))
attempt(lambda: requests.get('${http.url}/reset-mid-body').content)
`);
    target.network.setFaults({ dnsFailure: true });
    out += await target.run(`attempt(lambda: requests.get('http://firmware.example.com/'))`);
    target.network.setFaults({});
    chunked.close();
    assert.equal(out, 'ValueError Unsupported Transfer-Encoding: chunked\r\n\nOSError 104\nOSError 116\nOSError 104\nOSError -202\n');
  });
});
