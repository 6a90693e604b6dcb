/** Board-side servers (TCP, UDP) reached from the host; select.poll over sockets and stdin; ntptime; Wi-Fi and link faults. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import { networkBoard, type NetworkBoard } from '../helpers/network-board.js';
import { listen } from '../helpers/http-fixture.js';

let target: NetworkBoard;
before(async () => {
  target = await networkBoard();
});
after(() => target.stop());

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const until = async (condition: () => boolean) => {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
};

describe('servers on the virtual board', () => {
  it("a board app's HTTP server on port 80 answers the host on the port HostNetwork gives", async () => {
    const program = await target.client.startProgram(`
import socket
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(socket.getaddrinfo('0.0.0.0', 80)[0][-1])
server.listen(1)
client, address = server.accept()
request = client.readline()
while client.readline() != b'\\r\\n':
    pass
client.write(b'HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\nboard saw ' + request.strip() + b' from ' + address[0].encode())
client.close()
server.close()
`);
    await until(() => target.network.hostPort(80) !== undefined);
    const reply = await fetch(`http://127.0.0.1:${target.network.hostPort(80)}/status`);
    assert.equal(await reply.text(), 'board saw GET /status HTTP/1.1 from 127.0.0.1');
    await program.finish();
  });

  it('UDP: sendto and recvfrom, and ntptime.time() from an SNTP server routed to the host', async () => {
    const udp = createSocket('udp4');
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
    udp.on('message', (message, from) => {
      const reply = Buffer.alloc(48);
      reply[0] = 0x1c;
      reply.writeUInt32BE(3_913_056_000, 40); // 2024-01-01T00:00:00Z in NTP seconds
      udp.send(message.length === 48 ? reply : Buffer.concat([Buffer.from('echo:'), message]), from.port, from.address);
    });
    const port = udp.address().port;
    target.network.setRoute('pool.ntp.org:123', `127.0.0.1:${port}`);
    const out = await target.run(`
import socket, ntptime, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.sendto(b'ping', ('127.0.0.1', ${port}))
data, sender = s.recvfrom(64)
print(data, sender == ('127.0.0.1', ${port}))
s.close()
print(socket.getaddrinfo(ntptime.host, 123)[0][-1], time.gmtime(ntptime.time())[:6])
`).finally(() => udp.close());
    assert.equal(out, "b'echo:ping' True\n('198.51.100.1', 123) (2024, 1, 1, 0, 0, 0)\n");
  });
});

describe('select on the virtual board', () => {
  it('select.poll over a socket and stdin is woken by either, and select.select sees a readable socket', async () => {
    let peer: Socket | undefined;
    const server = createServer((connection) => (peer = connection));
    const port = await listen(server);
    const program = await target.client.startProgram(`
import socket, select, sys
s = socket.socket()
s.connect(('127.0.0.1', ${port}))
p = select.poll()
p.register(s, select.POLLIN)
p.register(sys.stdin, select.POLLIN)
print('waiting')
for _ in range(2):
    for obj, events in p.poll():
        if obj is s:
            print('socket', s.recv(100))
        else:
            print('stdin', sys.stdin.read(3))
print(select.select([s], [], [], 0.05)[0] == [])
print(p.poll(50))
s.close()
`);
    const output: string[] = [];
    const waitFor = async (line: string) => output.push(text(await program.output.readUntil(line, { timeoutMs: 10_000 })));
    await waitFor('waiting\r\n');
    await until(() => peer !== undefined);
    peer!.write('from the host');
    await waitFor("socket b'from the host'\r\n");
    await program.write(new TextEncoder().encode('abc'));
    const rest = text(await program.finish());
    assert.equal(output.join('') + rest, "waiting\r\nsocket b'from the host'\r\nstdin abc\r\nTrue\r\n[]\r\n");
    server.close();
    peer!.destroy();
  });
});
