/** The WebREPL client Transport against the virtual device's server, over loopback. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { TransportClosedError } from '../../src/transport/transport.js';
import { connectWebRepl, WebReplAuthError, WebReplConnectError, type WebReplClient } from '../../src/webrepl/webrepl-client.js';
import { BANNER, RAW_HEADER } from '../fixtures/repl/board-session.js';
import { Collector, PASSWORD, startRig, waitFor, type Rig } from './harness.js';

describe('WebREPL client', () => {
  let rig: Rig | undefined;
  const clients: WebReplClient[] = [];
  const connect = async (password = PASSWORD): Promise<WebReplClient> => {
    const client = await connectWebRepl(`127.0.0.1:${rig!.server.port}`, { password });
    clients.push(client);
    return client;
  };

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await rig?.stop();
    rig = undefined;
  });

  it('logs in and runs friendly-REPL commands on the board', async () => {
    rig = await startRig({ withBoard: true });
    const client = await connect();
    assert.equal(client.description, `ws://127.0.0.1:${rig.server.port}`);
    const output = new Collector(client);
    await client.write(new TextEncoder().encode('1+1\r'));
    assert.equal(await output.take('>>> '), '1+1\r\n2\r\n>>> ');
    await client.write(new TextEncoder().encode('\x02'));
    assert.equal(await output.take(BANNER), `\r\n${BANNER}`);
  });

  it('drives raw and raw-paste REPL, whose replies hold bytes that are not UTF-8', async () => {
    rig = await startRig({ withBoard: true });
    const client = await connect();
    const output = new Collector(client);
    const send = (text: string): Promise<void> => client.write(Uint8Array.from(text, (ch) => ch.charCodeAt(0)));

    await send('\r\x01');
    assert.equal(await output.take(RAW_HEADER), `\r\n>>> \r\n${RAW_HEADER}`, 'CR: a new prompt; Ctrl-A: raw REPL');
    await send('print(6*7)\x04');
    assert.equal(await output.take('\x04\x04>'), 'OK42\r\n\x04\x04>');
    await send('raise ValueError\x04');
    assert.equal(await output.take('\x04>'), 'OK\x04Traceback (most recent call last):\r\n  File "<stdin>", line 1, in <module>\r\nValueError: \r\n\x04>');

    // Raw paste: the window size, 128 = 80 00, comes in a text frame.
    await send('\x05A\x01');
    assert.equal(await output.take('R\x01\x80\x00\x01'), 'R\x01\x80\x00\x01');
    await send('print(5)\x04');
    assert.equal(await output.take('\x04\x04>'), '\x045\r\n\x04\x04>');
    await send('\x02');
    assert.equal(await output.take(BANNER), `\r\n${BANNER}`);
  });

  it('carries all 256 byte values both ways unchanged, in text frames', async () => {
    rig = await startRig();
    const client = await connect();
    const received: number[] = [];
    client.onData((chunk) => received.push(...chunk));
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const reversed = all.slice().reverse();

    await client.write(all);
    await client.write(reversed);
    await waitFor(() => rig!.deviceInput().length === 512);
    assert.deepEqual(rig.deviceInput(), Uint8Array.from([...all, ...reversed]), 'host → board');

    await rig.device.write(all);
    await rig.device.write(reversed);
    await waitFor(() => received.length === 512);
    assert.deepEqual(Uint8Array.from(received), Uint8Array.from([...all, ...reversed]), 'board → host');
  });

  it('carries large writes both ways in frames the board can read (at most 65535 bytes)', async () => {
    rig = await startRig();
    const client = await connect();
    const chunks: Uint8Array[] = [];
    client.onData((chunk) => chunks.push(chunk));
    const blob = new Uint8Array(randomBytes(150_000));
    await client.write(blob);
    await waitFor(() => rig!.deviceInput().length === blob.length);
    assert.deepEqual(rig.deviceInput(), blob);
    await rig.device.write(blob);
    await waitFor(() => chunks.reduce((sum, chunk) => sum + chunk.length, 0) === blob.length);
    assert.deepEqual(Uint8Array.from(Buffer.concat(chunks)), blob);
    assert.ok(chunks.every((chunk) => chunk.length <= 0xffff));
  });

  it('puts, gets and asks the version of a ~100 KB file through the device’s filesystem', async () => {
    rig = await startRig({ withBoard: true });
    const client = await connect();
    const firmware = new Uint8Array(randomBytes(100 * 1024 + 17));
    await client.putFile('ota/app.bin', firmware);
    assert.deepEqual(rig.files.files.get('ota/app.bin'), firmware);
    rig.files.files.set('boot.py', new TextEncoder().encode('import webrepl\nwebrepl.start()\n'));
    assert.equal(new TextDecoder().decode(await client.getFile('boot.py')), 'import webrepl\nwebrepl.start()\n');
    assert.deepEqual(await client.getFile('ota/app.bin'), firmware);
    assert.deepEqual(await client.version(), [1, 23, 0]);

    const output = new Collector(client);
    await client.write(new TextEncoder().encode('2*21\r'));
    assert.equal(await output.take('>>> '), '2*21\r\n42\r\n>>> ', 'the REPL still works');
  });

  it('loses the connection, as with a board, on a get of a missing file, and says why', async () => {
    rig = await startRig();
    const client = await connect();
    const closed = new Promise<Error | undefined>((resolve) => client.onClose(resolve));
    await assert.rejects(client.getFile('missing.py'), (error: Error) => {
      assert.match(error.message, /^WebREPL get of "missing\.py" failed: connection to ws:\/\/127\.0\.0\.1:\d+ is closed: the board closed the WebREPL connection; a board closes the WebREPL connection when it cannot open the file/);
      return true;
    });
    assert.ok((await closed) instanceof TransportClosedError);
    assert.equal(client.closed, true);
    await assert.rejects(client.write(Uint8Array.of(0x0d)), TransportClosedError);
  });

  it('fails clearly on a wrong password, without the password in the error', async () => {
    rig = await startRig();
    const wrong = 'Wr0ngPass';
    await assert.rejects(connectWebRepl(rig.server.url, { password: wrong }), (error: Error) => {
      assert.ok(error instanceof WebReplAuthError);
      assert.equal(error.message, `WebREPL refused the password (ws://127.0.0.1:${rig!.server.port})`);
      assert.ok(!error.message.includes(wrong) && !String(error.stack).includes(wrong));
      return true;
    });
    await waitFor(() => !rig!.server.clientConnected);
    await connect(); // the slot is free again
  });

  it('refuses an impossible password before connecting, without quoting it', async () => {
    rig = await startRig();
    await assert.rejects(connectWebRepl(rig.server.url, { password: 'much-too-long' }), (error: Error) => {
      assert.match(error.message, /13 bytes; a board accepts at most 9/);
      assert.ok(!error.message.includes('much-too-long'));
      return true;
    });
    assert.equal(rig.console.length, 0, 'no connection was made');
  });

  it('is refused while another client is connected, and the first one carries on', async () => {
    rig = await startRig({ withBoard: true });
    const first = await connect();
    await assert.rejects(connect(), (error: Error) => {
      assert.ok(error instanceof WebReplConnectError);
      assert.match(error.message, /closed the WebREPL connection before asking for the password .*another WebREPL client is connected/);
      return true;
    });
    const output = new Collector(first);
    await first.write(new TextEncoder().encode('3+4\r'));
    assert.equal(await output.take('>>> '), '3+4\r\n7\r\n>>> ');

    let closeError: Error | undefined | null = null;
    first.onClose((error) => (closeError = error));
    await first.close();
    assert.equal(first.closed, true);
    assert.equal(closeError, undefined, 'a close we asked for is no error');
    await waitFor(() => !rig!.server.clientConnected);
    const third = await connect();
    assert.deepEqual(await third.version(), [1, 23, 0]);
  });

  it('reports the server closing while connected as a clean close error', async () => {
    rig = await startRig();
    const client = await connect();
    const closed = new Promise<Error | undefined>((resolve) => client.onClose(resolve));
    await rig.server.close();
    const error = await closed;
    assert.ok(error instanceof TransportClosedError);
    assert.equal(error.message, `connection to ws://127.0.0.1:${rig.server.port} is closed: the board closed the WebREPL connection`);
    assert.equal(client.closed, true);
    await assert.rejects(client.write(Uint8Array.of(0x41)), TransportClosedError);
    await assert.rejects(client.version(), /version request failed: connection to .* is closed/);
    await client.close(); // harmless once closed
  });

  it('fails clearly when nothing listens', async () => {
    rig = await startRig();
    const port = rig.server.port;
    await rig.stop();
    rig = undefined;
    await assert.rejects(connectWebRepl(`127.0.0.1:${port}`, { password: PASSWORD }), (error: Error) => {
      assert.ok(error instanceof WebReplConnectError);
      assert.match(error.message, new RegExp(`^cannot connect to WebREPL at ws://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
      return true;
    });
  });

  it('gives up on a server that never asks for the password', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => {
      sockets.push(socket.on('error', () => undefined));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    try {
      await assert.rejects(connectWebRepl(`127.0.0.1:${port}`, { password: PASSWORD, timeoutMs: 150 }), (error: Error) => {
        assert.ok(error instanceof WebReplConnectError);
        assert.match(error.message, /no WebREPL login from ws:\/\/127\.0\.0\.1:\d+ within 150 ms|handshake has timed out/);
        return true;
      });
    } finally {
      sockets.forEach((socket) => socket.destroy());
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('keeps board output that comes before the first listener', async () => {
    rig = await startRig();
    const client = await connect();
    await rig.device.write(new TextEncoder().encode('early'));
    await new Promise((resolve) => setTimeout(resolve, 30));
    const output = new Collector(client);
    assert.equal(await output.take('early'), 'early');
  });
});
