/**
 * The serve bench's ceiling for Node on this machine: a bare node:http server
 * answering GET /NAME with the bytes of DIR/NAME read at start into memory
 * (Content-Type, Content-Length, ETag; no logging, no checks). Run as
 * `node bare-http-server.js DIR`; prints its URL.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

const folder = process.argv[2]!;
const files = new Map(
  readdirSync(folder).map((name) => {
    const body = readFileSync(join(folder, name));
    return [`/${name}`, { body, headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length, ETag: `"${body.length}"` } }];
  }),
);
const server = createServer((request, response) => {
  const file = files.get(request.url ?? '');
  if (!file) {
    response.writeHead(404, { 'Content-Length': 0 });
    response.end();
    return;
  }
  response.writeHead(200, file.headers);
  response.end(file.body);
});
server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port}/`));
