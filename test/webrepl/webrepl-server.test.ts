/** The virtual device's WebREPL endpoint, seen byte by byte from a raw TCP client. */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { encodeRequest, WebReplOp } from '../../src/webrepl/webrepl-protocol.js';
import { startWebReplServer } from '../../src/webrepl/webrepl-server.js';
import { PASSWORD, startRig, waitFor, type Rig } from './harness.js';
import { RawSocket } from './raw-socket.js';

const MASK = Uint8Array.of(0x12, 0x34, 0x56, 0x78);

describe('WebREPL server, on the wire', () => {
  let rig: Rig;
  const sockets: RawSocket[] = [];
  const open = async (key?: string): Promise<RawSocket> => {
    const raw = await RawSocket.upgrade(rig.server.port, key);
    sockets.push(raw);
    return raw;
  };
  const login = async (): Promise<RawSocket> => {
    const raw = await open();
    await raw.until(() => raw.text() === 'Password: ');
    raw.sendFrame(1, `${PASSWORD}\r`, MASK);
    await raw.until(() => raw.text().endsWith('>>> '));
    return raw;
  };

  beforeEach(async () => {
    rig = await startRig();
  });
  afterEach(async () => {
    sockets.splice(0).forEach((raw) => raw.destroy());
    await rig.stop();
  });

  it('listens on 127.0.0.1 and answers the upgrade with webrepl.py’s bytes, then `Password: ` in one text frame', async () => {
    assert.equal(rig.server.host, '127.0.0.1');
    assert.equal(rig.server.url, `ws://127.0.0.1:${rig.server.port}/`);
    const key = 'dGhlIHNhbXBsZSBub25jZQ==';
    const raw = await open(key);
    assert.equal(raw.head, `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n`);
    await raw.until(() => raw.frames.length === 1);
    assert.deepEqual(raw.frames[0], { fin: true, opcode: 1, payload: new TextEncoder().encode('Password: ') });
    assert.equal(rig.server.clientConnected, true);
    assert.match(rig.console[0] ?? '', /^\nWebREPL connection from: \('127\.0\.0\.1', \d+\)\n$/);
  });

  it('logs in with the right password: `\\r\\nWebREPL connected\\r\\n>>> `, REPL output follows', async () => {
    const raw = await login();
    assert.equal(raw.text(), 'Password: \r\nWebREPL connected\r\n>>> ');
    assert.deepEqual(rig.deviceInput(), new Uint8Array(0), 'the password does not reach the REPL');
    await rig.device.write(Uint8Array.of(0x41, 0x80, 0xff));
    await raw.until(() => raw.frames.length === 3);
    assert.deepEqual(raw.frames[2], { fin: true, opcode: 1, payload: Uint8Array.of(0x41, 0x80, 0xff) }, 'a text frame with raw, non-UTF-8 bytes');
  });

  it('refuses a wrong password with `\\r\\nAccess denied\\r\\n` and a TCP close without a WebSocket close frame', async () => {
    const raw = await open();
    await raw.until(() => raw.frames.length === 1);
    raw.sendFrame(1, 'Pa55w0rD\r', MASK);
    await raw.until(() => raw.ended);
    assert.deepEqual(
      raw.frames.map((frame) => [frame.opcode, Buffer.from(frame.payload).toString('latin1')]),
      [
        [1, 'Password: '],
        [1, '\r\nAccess denied\r\n'],
      ],
    );
    assert.equal(rig.console.at(-1), 'dupterm: EOF received, deactivating\n');
    await waitFor(() => !rig.server.clientConnected);
  });

  it('takes the password a byte at a time, in binary frames too, and passes what follows the CR to the REPL', async () => {
    const raw = await open();
    await raw.until(() => raw.frames.length === 1);
    for (const char of PASSWORD.slice(0, 3)) raw.sendFrame(1, char, MASK);
    raw.sendFrame(2, PASSWORD.slice(3), MASK);
    raw.sendFrame(1, '\rAB', MASK);
    await raw.until(() => raw.text().endsWith('>>> '));
    await waitFor(() => rig.deviceInput().length === 2);
    assert.deepEqual(rig.deviceInput(), Uint8Array.of(0x41, 0x42));
  });

  it('does not forward REPL output before the password is entered', async () => {
    const raw = await open();
    await raw.until(() => raw.frames.length === 1);
    await rig.device.write(new TextEncoder().encode('secret output'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    raw.sendFrame(1, `${PASSWORD}\r`, MASK);
    await raw.until(() => raw.text().endsWith('>>> '));
    assert.equal(raw.text(), 'Password: \r\nWebREPL connected\r\n>>> ');
  });

  it('serves webrepl_cli.py as it talks: key "foo", unmasked frames, the request split 10 + 72', async () => {
    const raw = await open('foo');
    assert.match(raw.head ?? '', /^HTTP\/1\.1 101 /);
    await raw.until(() => raw.frames.length === 1);
    raw.sendFrame(1, `${PASSWORD}\r`);
    await raw.until(() => raw.text().endsWith('>>> '));
    const version = encodeRequest({ op: WebReplOp.version, size: 0, name: '' });
    raw.sendFrame(2, version.subarray(0, 10));
    raw.sendFrame(2, version.subarray(10));
    await raw.until(() => raw.binary().length === 3);
    assert.deepEqual([...raw.binary()], [1, 23, 0]);

    const data = Uint8Array.from({ length: 2000 }, (_, i) => (i * 13) & 0xff);
    const put = encodeRequest({ op: WebReplOp.put, size: data.length, name: 'cli.bin' });
    raw.sendFrame(2, put.subarray(0, 10));
    raw.sendFrame(2, put.subarray(10));
    await raw.until(() => raw.binary().length === 7);
    for (let at = 0; at < data.length; at += 1024) raw.sendFrame(2, data.subarray(at, at + 1024));
    await raw.until(() => raw.binary().length === 11);
    assert.equal(raw.binary().subarray(3).toString('latin1'), 'WB\0\0WB\0\0');
    assert.deepEqual(rig.files.files.get('cli.bin'), data);
    raw.sendFrame(1, 'typed');
    await waitFor(() => rig.deviceInput().length === 5);
    assert.equal(Buffer.from(rig.deviceInput()).toString('latin1'), 'typed');
  });

  it('sends each get chunk as its own binary frame, as webrepl.js expects', async () => {
    rig.files.files.set('f.bin', Uint8Array.from({ length: 300 }, (_, i) => i & 0xff));
    const raw = await login();
    const binary = (): number[] => raw.frames.filter((frame) => frame.opcode === 2).map((frame) => frame.payload.length);
    raw.sendFrame(2, encodeRequest({ op: WebReplOp.get, size: 0, name: 'f.bin' }), MASK);
    await raw.until(() => binary().length === 1);
    for (const expected of [2, 3, 5]) {
      raw.sendFrame(2, Uint8Array.of(0), MASK);
      await raw.until(() => binary().length === expected);
    }
    assert.deepEqual(binary(), [4, 2 + 256, 2 + 44, 2, 4]);
    assert.equal(Buffer.from(raw.frames.at(-1)!.payload).toString('latin1'), 'WB\0\0');
  });

  it('answers a close frame with 88 00 and ends the connection, freeing the slot', async () => {
    const raw = await login();
    raw.sendFrame(8, Uint8Array.of(0x03, 0xe8), MASK);
    await raw.until(() => raw.ended);
    assert.deepEqual(raw.received.subarray(-2), Buffer.from([0x88, 0x00]));
    await waitFor(() => !rig.server.clientConnected);
    const next = await login();
    assert.ok(next.text().endsWith('>>> '));
  });

  it('ignores pings (the board sends no pong)', async () => {
    const raw = await login();
    raw.sendFrame(9, 'hi', MASK);
    raw.sendFrame(1, 'x', MASK);
    await waitFor(() => rig.deviceInput().length === 1);
    assert.equal(raw.frames.filter((frame) => frame.opcode === 10).length, 0);
    assert.deepEqual(rig.deviceInput(), Uint8Array.of(0x78));
  });

  it('refuses a second client as a board does: handshake, then closed, no password prompt', async () => {
    const first = await login();
    const second = await open();
    assert.match(second.head ?? '', /^HTTP\/1\.1 101 /);
    await second.until(() => second.ended);
    assert.deepEqual(second.frames, []);
    assert.match(rig.console.at(-1) ?? '', /^\nConcurrent WebREPL connection from \('127\.0\.0\.1', \d+\) rejected\n$/);
    first.sendFrame(1, 'still here', MASK);
    await waitFor(() => rig.deviceInput().length === 10);
  });

  it('counts a client still at the password prompt as connected', async () => {
    await open();
    const second = await open();
    await second.until(() => second.ended);
    assert.deepEqual(second.frames, []);
  });

  it('answers a plain HTTP request with the page that loads the WebREPL client', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      request({ host: '127.0.0.1', port: rig.server.port, path: '/' }, (response) => {
        let text = '';
        response.setEncoding('latin1');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve(`${response.statusCode} ${text}`));
      })
        .on('error', reject)
        .end();
    });
    assert.equal(body, '200 <base href="https://micropython.org/webrepl/"></base>\r\n<script src="webrepl_content.js"></script>\r\n');
    assert.equal(rig.server.clientConnected, false);
  });

  it('drops the connection on a get of a missing file, as a board does', async () => {
    const raw = await login();
    raw.sendFrame(2, encodeRequest({ op: WebReplOp.get, size: 0, name: 'nope.py' }), MASK);
    await raw.until(() => raw.ended);
    assert.equal(raw.binary().length, 0);
    assert.equal(rig.console.at(-1), 'dupterm: Exception in read() method, deactivating: OSError: [Errno 2] ENOENT\n');
  });

  it('closes the socket on a 64-bit frame length', async () => {
    const raw = await login();
    raw.sendRaw(Uint8Array.of(0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4));
    await raw.until(() => raw.ended);
    assert.match(rig.console.at(-1) ?? '', /EIO/);
  });

  it('closes the client connection without a close frame when stopped', async () => {
    const raw = await login();
    const before = raw.received.length;
    await rig.server.close();
    await raw.until(() => raw.ended);
    assert.equal(raw.received.length, before, 'nothing more, not even a close frame');
  });
});

describe('WebREPL server options', () => {
  it('refuses a password webrepl_setup would refuse, without quoting it', async () => {
    for (const password of ['abc', 'abcdefghij']) {
      await assert.rejects(
        startWebReplServer({ password, repl: { write: () => undefined, onData: () => () => undefined }, files: { readFile: () => undefined, writeFile: () => undefined }, version: [1, 23, 0], port: 0 }),
        (error: Error) => error instanceof RangeError && !error.message.includes(password),
      );
    }
  });
});
