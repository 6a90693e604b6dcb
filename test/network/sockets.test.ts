import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { networkBoard, type NetworkBoard } from '../helpers/network-board.js';

let target: NetworkBoard;
let echo: Server;
let echoPort: number;

before(async () => {
  target = await networkBoard();
  echo = createServer((connection) => connection.pipe(connection));
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  echoPort = (echo.address() as { port: number }).port;
});
after(async () => {
  await target.stop();
  echo.close();
});

describe('socket on the virtual board', () => {
  it('connects, sends and receives through the host', async () => {
    const out = await target.run(`
import socket
ai = socket.getaddrinfo('127.0.0.1', ${echoPort})
print(ai)
s = socket.socket()
s.connect(ai[0][-1])
s.sendall(b'hello\\nworld\\n')
print(s.readline())
print(s.recv(6))
s.close()
`);
    assert.equal(out, `[(2, 1, 0, '', ('127.0.0.1', ${echoPort}))]\nb'hello\\n'\nb'world\\n'\n`);
  });
});

describe('socket errors and modes, as a board raises them', () => {
  it('a refused connection is ECONNRESET (lwIP ERR_RST), a recv timeout ETIMEDOUT, non-blocking EAGAIN and EINPROGRESS', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));
    let out = await target.run(`
import socket, errno, time
def attempt(f):
    try:
        f()
        print('no error')
    except OSError as e:
        print(e.errno, errno.errorcode.get(e.errno))
s = socket.socket()
attempt(lambda: s.connect(('127.0.0.1', ${closedPort})))
s.close()
s = socket.socket()
s.connect(('127.0.0.1', ${echoPort}))
s.settimeout(0.2)
t = time.ticks_ms()
attempt(lambda: s.recv(10))
print(time.ticks_diff(time.ticks_ms(), t) >= 190)
s.setblocking(False)
attempt(lambda: s.recv(10))
print(s.read(10), s.readinto(bytearray(4)))
s.close()
s = socket.socket()
s.setblocking(False)
attempt(lambda: s.connect(('127.0.0.1', ${echoPort})))
s.close()
attempt(lambda: s.send(b'x'))
`);
    target.network.setFaults({ dnsFailure: true });
    out += await target.run(`attempt(lambda: socket.getaddrinfo('firmware.example.com', 80))`);
    target.network.setFaults({});
    assert.equal(out, '104 ECONNRESET\n116 ETIMEDOUT\nTrue\n11 EAGAIN\nNone None\n119 EINPROGRESS\n9 EBADF\n-202 None\n');
  });

  it('readinto, makefile and read() to the end of the stream', async () => {
    const once = createServer((connection) => connection.end(Buffer.from('line one\nline two\n' + 'x'.repeat(100_000))));
    await new Promise<void>((resolve) => once.listen(0, '127.0.0.1', resolve));
    const port = (once.address() as { port: number }).port;
    const out = await target.run(`
import socket
s = socket.socket()
s.connect(socket.getaddrinfo('localhost', ${port})[0][-1])
f = s.makefile('rb')
print(f is s, f.readline())
buf = bytearray(4)
print(s.readinto(buf), buf)
rest = s.read()
print(len(rest), rest[:6], s.recv(10))
s.close()
`);
    once.close();
    assert.equal(out, "True b'line one\\n'\n4 bytearray(b'line')\n100005 b' two\\nx' b''\n");
  });
});

describe('network.WLAN on the virtual board', () => {
  it('is connected to the virtual access point at boot; a wrong key or SSID fails as a board; sockets fail while disconnected', async () => {
    const out = await target.run(`
import network, socket
w = network.WLAN(network.STA_IF)
print(w.active(), w.isconnected(), w.status() == network.STAT_GOT_IP, w.config('ssid'), w.ifconfig()[0], len(w.config('mac')))
w.disconnect()
print(w.isconnected(), w.status())
try:
    socket.socket().connect(('127.0.0.1', ${echoPort}))
except OSError as e:
    print('connect', e.errno)
try:
    socket.getaddrinfo('localhost', 80)
except OSError as e:
    print('dns', e.errno)
w.connect('esp32-ota-sim', 'wrong key')
print(w.isconnected(), w.status() == network.STAT_WRONG_PASSWORD)
w.connect('other', 'micropython')
print(w.isconnected(), w.status() == network.STAT_NO_AP_FOUND)
print([ap[0] for ap in w.scan()])
w.connect('esp32-ota-sim', 'micropython')
print(w.isconnected())
w.active(False)
try:
    w.connect('esp32-ota-sim', 'micropython')
except OSError as e:
    print(e)
w.active(True)
w.connect('esp32-ota-sim', 'micropython')
`);
    assert.equal(
      out,
      "True True True esp32-ota-sim 192.168.4.2 6\nFalse 1000\nconnect 118\ndns -202\nFalse True\nFalse True\n[b'esp32-ota-sim']\nTrue\nWifi Not Started\n",
    );
  });
});

describe('Ctrl-C during socket waits', () => {
  it('a blocking recv ends with KeyboardInterrupt at the line that waits, and the board goes on', async () => {
    const program = await target.client.startProgram(`
import socket
s = socket.socket()
s.connect(('127.0.0.1', ${echoPort}))
print('waiting')
try:
    s.recv(10)
except KeyboardInterrupt:
    print('interrupted')
s.close()
`);
    await program.output.readUntil('waiting\r\n', { timeoutMs: 10_000 });
    await program.write(Uint8Array.of(0x03));
    assert.equal(new TextDecoder().decode(await program.finish()), 'interrupted\r\n');
    assert.equal(await target.run('print(1 + 1)'), '2\n');
  });
});
