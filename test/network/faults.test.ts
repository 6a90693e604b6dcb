/** Network faults on demand: latency, bandwidth, reset after N bytes, DNS failure, Wi-Fi dropping and coming back. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { networkBoard, type NetworkBoard } from '../helpers/network-board.js';
import { listen } from '../helpers/http-fixture.js';

let target: NetworkBoard;
let port: number;
const peers: Socket[] = [];
const server = createServer((connection) => {
  peers.push(connection);
  connection.on('data', (data) => {
    const request = data.toString();
    if (request.startsWith('bulk')) connection.end(Buffer.alloc(Number(request.slice(5)), 0x61));
    else connection.write(data);
  });
});

before(async () => {
  target = await networkBoard();
  port = await listen(server);
});
after(async () => {
  await target.stop();
  for (const peer of peers) peer.destroy();
  server.close();
});

const board = (body: string) => `
import socket, time, network
def opened():
    s = socket.socket()
    s.connect(('127.0.0.1', ${port}))
    return s
${body}`;

describe('network faults on the virtual board', () => {
  it('latency delays connection set-up and every reply; a bandwidth limit slows a download', async () => {
    target.network.setFaults({ latencyMs: 150 });
    const slow = await target.run(board(`
t = time.ticks_ms()
s = opened()
s.write(b'ping')
print(s.recv(4), time.ticks_diff(time.ticks_ms(), t) >= 300)
s.close()
`));
    target.network.setFaults({ bytesPerSecond: 100_000 });
    const throttled = await target.run(board(`
t = time.ticks_ms()
s = opened()
s.write(b'bulk 40000')
print(len(s.read()), time.ticks_diff(time.ticks_ms(), t) >= 300)
s.close()
`));
    target.network.setFaults({});
    assert.equal(slow, "b'ping' True\n");
    assert.equal(throttled, '40000 True\n');
  });

  it('resets a connection after N bytes: the bytes before it are read, then OSError 104', async () => {
    target.network.setFaults({ resetAfterBytes: 10_000 });
    const out = await target.run(board(`
s = opened()
s.write(b'bulk 50000')
got = 0
try:
    while True:
        piece = s.recv(1024)
        if not piece:
            break
        got += len(piece)
except OSError as e:
    print(got, e.errno)
s.close()
`));
    target.network.setFaults({});
    assert.equal(out, '10000 104\n');
  });

  it('Wi-Fi drops (station disconnected, reads stall, connects fail) and comes back (reconnected, the open socket goes on)', async () => {
    const program = await target.client.startProgram(board(`
w = network.WLAN(network.STA_IF)
s = opened()
print('open')
while w.isconnected():
    time.sleep_ms(5)
print('dropped', w.status())
s.write(b'during')
s.settimeout(0.2)
try:
    s.recv(10)
except OSError as e:
    print('recv', e.errno)
try:
    socket.socket().connect(('127.0.0.1', ${port}))
except OSError as e:
    print('connect', e.errno)
while not w.isconnected():
    time.sleep_ms(5)
s.settimeout(5)
print('back', w.status(), s.recv(10))
s.close()
`));
    await program.output.readUntil('open\r\n', { timeoutMs: 10_000 });
    target.network.setWifiAvailable(false);
    await program.output.readUntil('connect', { timeoutMs: 10_000 });
    target.network.setWifiAvailable(true);
    const rest = new TextDecoder().decode(await program.finish());
    assert.equal(rest, " 118\r\nback 1010 b'during'\r\n");
  });
});
