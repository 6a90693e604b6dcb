import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildAppImage } from '../../src/format/app-image-builder.js';
import { toHex } from '../../src/format/bytes.js';
import { buildGeneratedFirmware } from '../../src/device/virtual-firmware.js';
import type { VirtualEsp32 } from '../../src/device/virtual-esp32.js';
import { nativeSha256 } from '../../src/node/native-hash.js';
import { serveUartOverTcp, serveWebRepl } from '../../src/node/sim-servers.js';
import { openTcpTransport } from '../../src/transport/tcp.js';
import type { Transport } from '../../src/transport/transport.js';
import { connectWebRepl } from '../../src/webrepl/node.js';
import { ReplClient } from '../../src/repl/index.js';
import { OtaError, readStatus, resetBoard, type BoardLink } from '../../src/ota/engine.js';
import { update } from '../../src/ota/update.js';
import { runCli, runCliAsync } from '../helpers/run-cli.js';
import { OTA_TABLE, realFirmware } from '../helpers/testdata.js';
import { bootedBoard } from '../helpers/virtual-board.js';

const cleanups: (() => Promise<void>)[] = [];
const folder = mkdtempSync(join(tmpdir(), 'esp32-ota-update-'));
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  rmSync(folder, { recursive: true, force: true });
});

/** A board reached the way a user reaches one on Wi-Fi or through a serial bridge: no reset from outside. */
async function networkBoard(kind: 'tcp' | 'webrepl', board: VirtualEsp32): Promise<{ link: BoardLink; client: ReplClient }> {
  let connect: () => Promise<Transport>;
  if (kind === 'tcp') {
    const server = await serveUartOverTcp(board, 0);
    cleanups.push(() => server.close());
    connect = () => openTcpTransport('127.0.0.1', server.port);
  } else {
    const server = await serveWebRepl(board, { password: 'ota-pass', port: 0 });
    cleanups.push(() => server.close());
    connect = () => connectWebRepl(server.url, { password: 'ota-pass' });
  }
  let transport = await connect();
  cleanups.push(() => transport.close());
  const link: BoardLink = {
    get transport() {
      return transport;
    },
    hardReset: undefined,
    reconnect: async () => (transport = await connect()),
  };
  const client = new ReplClient(transport);
  await client.enterRawRepl();
  return { link, client };
}

async function newBoard(options: Parameters<typeof bootedBoard>[0] = {}): Promise<VirtualEsp32> {
  const board = await bootedBoard(options);
  cleanups.push(() => board.stop());
  return board;
}

describe('update of the real v1.23.0 image', () => {
  for (const kind of ['tcp', 'webrepl'] as const) {
    it(`over ${kind === 'tcp' ? 'TCP' : 'WebREPL'}: boots the new partition; without --confirm the next reset rolls back`, async (t) => {
      const firmware = realFirmware(t);
      if (!firmware) return;
      const board = await newBoard();
      const { link, client } = await networkBoard(kind, board);
      const result = await update(link, client, firmware, { extract: true, sha256: nativeSha256 });
      assert.equal(result.target, 'ota_1');
      assert.equal(result.after?.running, 'ota_1');
      assert.equal(result.after?.version, 'v1.23.0');
      assert.equal(result.after?.pendingVerify, true);
      assert.equal(result.confirmed, false);
      assert.ok(result.transfer.wireBytes / result.image.length < 0.7, `wire ratio ${result.transfer.wireBytes / result.image.length}`);
      const client2 = await resetBoard(link, new ReplClient(link.transport));
      const status = await readStatus(client2);
      assert.equal(status.running, 'ota_0', 'rolled back');
      assert.equal(status.otadata?.[1].state, 4, 'the unconfirmed entry is ABORTED');
    });
  }

  it('with --confirm the bootloader keeps the new firmware across resets', async (t) => {
    const firmware = realFirmware(t);
    if (!firmware) return;
    const board = await newBoard();
    const { link, client } = await networkBoard('tcp', board);
    const result = await update(link, client, firmware, { extract: true, confirm: true, sha256: nativeSha256 });
    assert.equal(result.confirmed, true);
    assert.equal(result.after?.pendingVerify, false);
    const again = await readStatus(await resetBoard(link, new ReplClient(link.transport)));
    assert.equal(again.running, 'ota_1');
    assert.equal(again.version, 'v1.23.0');
  });
});

describe('update refuses before writing anything', () => {
  const app = buildGeneratedFirmware({ version: 'v1.30.0', buildDate: '2026-02-02', size: 0x20000, seed: 3 });
  const cases: [string, (board: VirtualEsp32) => Promise<unknown>, RegExp][] = [
    ['a combined image without --extract', async (board) => run(board, (await combined()) ?? app, {}), /combined firmware image .* --extract/],
    ['an image for another chip', (board) => run(board, buildAppImage({ chip: 'esp32c3', size: 0x8000 }), {}), /built for esp32c3, the board is an esp32/],
    ['a wrong --sha', (board) => run(board, app, { sha: '0'.repeat(64) }), /SHA-256 is [0-9a-f]{64}, not 0{64} as expected: refusing to write it/],
    ['a wrong --length', (board) => run(board, app, { length: 1234 }), /not 1,234 as expected/],
  ];
  for (const [what, attempt, message] of cases) {
    it(what, async () => {
      const board = await newBoard();
      const operations = board.flash.stats().operations;
      await assert.rejects(attempt(board), (error: unknown) => {
        assert.ok(error instanceof OtaError, String(error));
        assert.match(error.message, message);
        return true;
      });
      await board.idle();
      assert.equal(board.flash.stats().operations, operations, 'no flash operation at all');
    });
  }

  it('an image too large for the OTA slots (the real one on a 0x180000-slot table)', async (t) => {
    const firmware = realFirmware(t);
    if (!firmware) return;
    const board = await newBoard({ table: OTA_TABLE });
    const operations = board.flash.stats().operations;
    await assert.rejects(run(board, firmware, { extract: true }), /larger than partition 'ota_1' \(1,572,864 bytes/);
    assert.equal(board.flash.stats().operations, operations);
  });

  async function run(board: VirtualEsp32, file: Uint8Array, options: Parameters<typeof update>[3]) {
    const transport = board.connect();
    const client = new ReplClient(transport);
    await client.enterRawRepl();
    return update({ transport, hardReset: () => board.reset(), reconnect: async () => transport }, client, file, options);
  }

  async function combined(): Promise<Uint8Array | undefined> {
    const { buildCombinedImage } = await import('../../src/format/flash-image-builder.js');
    return buildCombinedImage({ chip: 'esp32', table: OTA_TABLE, apps: { ota_0: app } });
  }
});

describe('esp32-ota update and demo', () => {
  it('updates a sim: board from a JSON manifest with the seed keys, and reports JSON', () => {
    const firmware = buildGeneratedFirmware({ version: 'v1.31.0', buildDate: '2026-03-03', size: 0x18000, seed: 9 });
    writeFileSync(join(folder, 'micropython.bin'), firmware);
    writeFileSync(join(folder, 'micropython.json'), JSON.stringify({ firmware: 'micropython.bin', sha: toHex(nativeSha256(firmware)), length: firmware.length }));
    const result = runCli(['update', join(folder, 'micropython.json'), '-d', `sim:${join(folder, 'board.bin')}`, '--confirm', '--json']);
    assert.equal(result.code, 0, result.stderr);
    const json = JSON.parse(result.stdout);
    assert.equal(json.target, 'ota_1');
    assert.equal(json.after.version, 'v1.31.0');
    assert.equal(json.confirmed, true);
    const status = JSON.parse(runCli(['status', '-d', `sim:${join(folder, 'board.bin')}`, '--json']).stdout);
    assert.equal(status.running, 'ota_1');
  });

  it('downloads the firmware and a manifest over HTTP (loopback), and refuses an HTTP error clearly', async () => {
    const { createServer } = await import('node:http');
    const firmware = buildGeneratedFirmware({ version: 'v1.32.0', buildDate: '2026-04-04', size: 0x18000, seed: 12 });
    const manifest = JSON.stringify({ firmware: 'fw/micropython.bin', sha: toHex(nativeSha256(firmware)), length: firmware.length });
    const server = createServer((request, response) => {
      if (request.url === '/ota/micropython.json') response.end(manifest);
      else if (request.url === '/ota/fw/micropython.bin') response.end(firmware);
      else response.writeHead(404, 'Not Found').end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(() => resolve())));
    const port = (server.address() as { port: number }).port;
    // The CLI runs in a child process: the HTTP server must keep serving meanwhile, so no spawnSync here.
    const cli = runCliAsync;
    const board = `sim:${join(folder, 'http-board.bin')}`;
    const ok = await cli(['update', `http://127.0.0.1:${port}/ota/micropython.json`, '-d', board, '--json']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).after.version, 'v1.32.0');
    const missing = await cli(['update', `http://127.0.0.1:${port}/ota/none.bin`, '-d', board]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^esp32-ota: error: cannot download http:\/\/127\.0\.0\.1:\d+\/ota\/none\.bin: HTTP 404 Not Found\n$/);
  });

  it('demo does the whole job on a virtual board', () => {
    const result = runCli(['demo']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /The board runs 'ota_1': MicroPython v\d+\.\d+\.0-demo/);
    assert.match(result.stdout, /Confirmed: the bootloader will keep this firmware/);
    assert.match(result.stdout, /Done in \d+\.\d s/);
  });
});

