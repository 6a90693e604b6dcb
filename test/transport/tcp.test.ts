import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { openTcpTransport } from '../../src/transport/tcp.js';
import { TransportClosedError } from '../../src/transport/transport.js';

const servers: Server[] = [];

/** A loopback server; resolves with its port and a promise of the first connection's socket. */
async function listen(): Promise<{ port: number; server: Server; connection: Promise<Socket> }> {
  const server = createServer();
  servers.push(server);
  const connection = once(server, 'connection').then(([socket]) => socket as Socket);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as AddressInfo).port, server, connection };
}

function received(transport: { onData(listener: (chunk: Uint8Array) => void): unknown }): () => Buffer {
  const chunks: Uint8Array[] = [];
  transport.onData((chunk) => chunks.push(chunk));
  return () => Buffer.concat(chunks);
}

async function until(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

after(() => {
  for (const server of servers) server.close();
});

describe('TCP transport', () => {
  it('moves bytes both ways, unchanged and in order', async () => {
    const { port, connection } = await listen();
    const transport = await openTcpTransport('127.0.0.1', port);
    assert.equal(transport.description, `tcp:127.0.0.1:${port}`);
    const socket = await connection;
    const fromServer: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => fromServer.push(chunk));
    const toHost = received(transport);

    const payload = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 7) % 256);
    await transport.write(payload.subarray(0, 3));
    await transport.write(payload.subarray(3));
    socket.write(Buffer.from([0x04, 0x00, 0xff, 0x0d, 0x0a]));

    await until(() => Buffer.concat(fromServer).length === payload.length && toHost().length === 5);
    assert.deepEqual(new Uint8Array(Buffer.concat(fromServer)), payload);
    assert.deepEqual([...toHost()], [0x04, 0x00, 0xff, 0x0d, 0x0a]);
    await transport.close();
  });

  it('reports a close by the other end, after which writes fail', async () => {
    const { port, connection } = await listen();
    const transport = await openTcpTransport('127.0.0.1', port);
    const closedWith = new Promise<Error | undefined>((resolve) => transport.onClose(resolve));
    (await connection).end();
    assert.equal(await closedWith, undefined);
    assert.equal(transport.closed, true);
    await assert.rejects(transport.write(Uint8Array.of(1)), TransportClosedError);
  });

  it('passes on the line a refusing bridge says before it closes (ser2net: "Port already in use")', async () => {
    const { port, connection } = await listen();
    const transport = await openTcpTransport('127.0.0.1', port);
    const closedWith = new Promise<Error | undefined>((resolve) => transport.onClose(resolve));
    (await connection).end('Port already in use\r\n');
    assert.match(String((await closedWith)?.message), /the other end closed the connection after saying "Port already in use"/);
    await assert.rejects(transport.write(Uint8Array.of(1)), /Port already in use/);
  });

  it('close() ends the connection for the other end', async () => {
    const { port, connection } = await listen();
    const transport = await openTcpTransport('127.0.0.1', port);
    const socket = await connection;
    const ended = once(socket, 'end');
    socket.resume();
    await transport.close();
    await ended;
    assert.equal(transport.closed, true);
  });

  it('says that nothing listens when the connection is refused', async () => {
    const { port, server } = await listen();
    server.close();
    await once(server, 'close');
    await assert.rejects(openTcpTransport('127.0.0.1', port), {
      message: `nothing listens on 127.0.0.1:${port} — is the board/simulator running?`,
    });
  });
});
