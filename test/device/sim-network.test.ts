/** The virtual board reached the way users reach it: WebREPL with a password, and the `esp32-ota sim` command. */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectWebRepl } from '../../src/webrepl/node.js';
import { UART_BUSY_MESSAGE, serveUartOverTcp, serveWebRepl } from '../../src/node/sim-servers.js';
import { openTcpTransport } from '../../src/transport/tcp.js';
import { ReplClient } from '../../src/repl/index.js';
import { identifyFirmware } from '../../src/format/firmware-file.js';
import type { VirtualEsp32 } from '../../src/device/virtual-esp32.js';
import { bootedBoard } from '../helpers/virtual-board.js';

const boards: VirtualEsp32[] = [];
const folder = mkdtempSync(join(tmpdir(), 'esp32-ota-sim-'));
after(async () => {
  for (const board of boards) await board.stop();
  rmSync(folder, { recursive: true, force: true });
});

describe('virtual board over WebREPL', () => {
  it('runs code through the raw REPL and moves files, after the password', async () => {
    const board = await bootedBoard();
    boards.push(board);
    const server = await serveWebRepl(board, { password: 'ota-test', port: 0 });
    await assert.rejects(connectWebRepl(server.url, { password: 'wrong-pw' }), /refused the password/);
    const link = await connectWebRepl(server.url, { password: 'ota-test' });
    const client = new ReplClient(link);
    await client.enterRawRepl();
    assert.equal(await client.evalJson<number>('6 * 7'), 42);
    await link.putFile('hello.py', new TextEncoder().encode('print("hello from WebREPL")\n'));
    assert.equal(new TextDecoder().decode(await client.exec('import hello')), 'hello from WebREPL\r\n');
    assert.equal(await client.evalJson<string>('__import__("esp32").Partition(__import__("esp32").Partition.RUNNING).info()[4]'), 'ota_0');
    await link.close();
    await server.close();
  });
});

describe('virtual board UART over TCP', () => {
  it('serves one client at a time: a second is told the UART is busy and closed, the first keeps working', async () => {
    const board = await bootedBoard();
    boards.push(board);
    const server = await serveUartOverTcp(board, 0);
    const first = await openTcpTransport('127.0.0.1', server.port);
    const client = new ReplClient(first);
    await client.enterRawRepl();

    const second = await openTcpTransport('127.0.0.1', server.port);
    const heard: Uint8Array[] = [];
    second.onData((chunk) => heard.push(chunk));
    const closedWith = await new Promise<Error | undefined>((resolve) => second.onClose(resolve));
    assert.match(Buffer.concat(heard).toString(), new RegExp(`^${UART_BUSY_MESSAGE} \\(by 127\\.0\\.0\\.1:\\d+\\): try again when it disconnects`));
    assert.match(String(closedWith?.message), /the other end closed the connection after saying "esp32-ota sim: the UART is in use/);
    assert.equal(await client.evalJson<number>('6 * 7'), 42, 'the first client lost the REPL');

    await first.close();
    const third = await openTcpTransport('127.0.0.1', server.port);
    const thirdClient = new ReplClient(third);
    await thirdClient.enterRawRepl();
    assert.equal(await thirdClient.evalJson<number>('6 * 8'), 48);
    await third.close();
    await server.close();
  });
});

describe('esp32-ota sim', () => {
  it('serves the board on TCP, and saves its flash (files included) on Ctrl-C for the next run', async () => {
    const flashFile = join(folder, 'board.bin');
    const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
    const run = async (work: (port: number) => Promise<void>) => {
      const child = spawn(process.execPath, [cli, 'sim', '--flash', flashFile, '--tcp', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (chunk) => (output += chunk));
      child.stderr.on('data', (chunk) => (output += chunk));
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setInterval(() => {
          const match = /UART on tcp:127\.0\.0\.1:(\d+)/.exec(output);
          if (match) {
            clearInterval(timer);
            resolve(Number(match[1]));
          }
        }, 20);
        child.once('exit', () => reject(new Error(`sim exited early:\n${output}`)));
      });
      await work(port);
      child.kill('SIGINT');
      const code = await new Promise((resolve) => child.once('exit', resolve));
      assert.equal(code, 0, output);
      assert.match(output, /flash saved to/);
      return output;
    };

    const first = await run(async (port) => {
      const client = new ReplClient(await openTcpTransport('127.0.0.1', port));
      await client.enterRawRepl();
      await client.exec("with open('state.txt', 'w') as f: f.write('kept')");
    });
    assert.match(first, /I \(\d+\) boot: Loaded app from partition at offset 0x10000/);
    assert.ok(existsSync(flashFile));
    assert.equal(identifyFirmware(new Uint8Array(readFileSync(flashFile))).kind, 'flash-dump');

    await run(async (port) => {
      const client = new ReplClient(await openTcpTransport('127.0.0.1', port));
      await client.enterRawRepl();
      assert.equal(await client.evalJson<string>("open('state.txt').read()"), 'kept');
    });
  });
});
