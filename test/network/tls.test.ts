/** TLS on the virtual board: ssl.wrap_socket, ssl.SSLContext, tls, requests over https, against a local server with its own CA. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { networkBoard, type NetworkBoard } from '../helpers/network-board.js';
import { listen } from '../helpers/http-fixture.js';

const fixture = (name: string) => readFileSync(new URL(`../../../test/fixtures/tls/${name}`, import.meta.url));
let target: NetworkBoard;
let port: number;
const server = createServer({ key: fixture('server.key'), cert: fixture('server.pem') }, (request, response) => {
  response.writeHead(200, { 'Content-Type': 'text/plain' });
  response.end(`secure ${request.url}`);
});

before(async () => {
  target = await networkBoard();
  port = await listen(server);
  target.board.writeFile('ca.der', fixture('ca.der'));
  target.board.writeFile('ca.pem', fixture('ca.pem'));
  target.board.writeFile('other-ca.pem', fixture('other-ca.pem'));
});
after(async () => {
  await target.stop();
  server.closeAllConnections();
  server.close();
});

const connect = () => `
import socket, ssl, tls
def opened():
    s = socket.socket()
    s.connect(socket.getaddrinfo('127.0.0.1', ${port})[0][-1])
    return s
def fetch(s, path):
    s.write(b'GET %s HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' % path)
    reply = s.read()
    s.close()
    return reply.split(b'\\r\\n\\r\\n', 1)[1]
`;

describe('TLS on the virtual board', () => {
  it('verifies the server against cadata (DER or PEM) with ssl.wrap_socket, ssl.SSLContext and tls.SSLContext', async () => {
    const out = await target.run(`${connect()}
ca_der = open('ca.der', 'rb').read()
ca_pem = open('ca.pem', 'rb').read()
s = ssl.wrap_socket(opened(), server_hostname='localhost', cert_reqs=ssl.CERT_REQUIRED, cadata=ca_der)
print(fetch(s, b'/wrap'))
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.verify_mode = ssl.CERT_REQUIRED
ctx.load_verify_locations(cadata=ca_pem)
print(fetch(ctx.wrap_socket(opened(), server_hostname='localhost'), b'/context'))
ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
print(ctx.verify_mode == tls.CERT_REQUIRED)
ctx.load_verify_locations(ca_der)
print(fetch(ctx.wrap_socket(opened(), server_hostname='localhost'), b'/tls'))
`);
    assert.equal(out, "b'secure /wrap'\nb'secure /context'\nTrue\nb'secure /tls'\n");
  });

  it("fails with the board's mbedTLS error for a wrong CA, a wrong host name, or no CA at all; CERT_NONE connects", async () => {
    const out = await target.run(`${connect()}
def attempt(f):
    try:
        f()
        print('connected')
    except OSError as e:
        print(e.args)
other = open('other-ca.pem', 'rb').read()
attempt(lambda: ssl.wrap_socket(opened(), server_hostname='localhost', cert_reqs=ssl.CERT_REQUIRED, cadata=other))
attempt(lambda: ssl.wrap_socket(opened(), server_hostname='example.com', cert_reqs=ssl.CERT_REQUIRED, cadata=open('ca.pem', 'rb').read()))
attempt(lambda: tls.SSLContext(tls.PROTOCOL_TLS_CLIENT).wrap_socket(opened(), server_hostname='localhost'))
print(fetch(ssl.wrap_socket(opened(), server_hostname='localhost', cadata=other), b'/unverified'))
`);
    const failure = "(-9984, 'X509 - Certificate verification failed, e.g. CRL, CA or signature check failed')";
    assert.equal(out, `${failure}\n${failure}\n${failure}\nb'secure /unverified'\n`);
  });

  it('requests.get over https (the frozen requests does not verify)', async () => {
    const out = await target.run(`
import requests
r = requests.get('https://127.0.0.1:${port}/file')
print(r.status_code, r.text)
`);
    assert.equal(out, '200 secure /file\n');
  });
});

describe('TLS input errors', () => {
  it('cadata that is no certificate raises ValueError, as mbedTLS does', async () => {
    const out = await target.run(`${connect()}
try:
    ssl.wrap_socket(opened(), cert_reqs=ssl.CERT_REQUIRED, cadata=b'not a certificate')
except ValueError as e:
    print('ValueError', e)
`);
    assert.equal(out, 'ValueError invalid cert\n');
  });
});
