/**
 * Device-pull OTA on the virtual board: the board's own `ota` package
 * (device/ota) downloads from `esp32-ota serve` (and from servers that answer
 * chunked, redirect, fail, or drop the connection) over the virtual board's
 * network, and sets nothing bootable unless everything checked out.
 */
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { buildGeneratedFirmware } from '../../src/device/virtual-firmware.js';
import { extractApp, identifyFirmware } from '../../src/format/firmware-file.js';
import { nativeSha256 } from '../../src/node/native-hash.js';
import { startOtaServer, type OtaServer, type OtaServerOptions } from '../../src/node/ota-server.js';
import { generateSigningKey, signText } from '../../src/node/signing-keys.js';
import { installBoardPackage } from '../../src/ota/board-package.js';
import { readStatus, resetBoard } from '../../src/ota/engine.js';
import { blockDeflateFile, describeImage, signedText, type OtaManifest } from '../../src/ota/manifest.js';
import { prepareImage } from '../../src/ota/preflight.js';
import { ReplClient } from '../../src/repl/index.js';
import { networkBoard, type NetworkBoard } from '../helpers/network-board.js';
import { realFirmware } from '../helpers/testdata.js';
import { createPrivateKey } from 'node:crypto';

const site = mkdtempSync(join(tmpdir(), 'esp32-ota-pull-'));
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  rmSync(site, { recursive: true, force: true });
});

const APP = buildGeneratedFirmware({ version: 'v1.30.0', buildDate: '2026-02-02', size: 0xc000, seed: 7 });
const C3_APP = buildGeneratedFirmware({ version: 'v1.30.0', buildDate: '2026-02-02', size: 0xc000, seed: 8, chip: 'esp32c3' });
const keys = generateSigningKey();
const signingKey = createPrivateKey(keys.privateKeyPem);

function manifestFor(app: Uint8Array, firmware: string, options: { compress?: boolean; sign?: boolean } = {}): OtaManifest {
  let manifest = describeImage(prepareImage(app, { sha256: nativeSha256 }), firmware, nativeSha256);
  if (options.compress) {
    const compressed = blockDeflateFile(app, 12);
    writeFileSync(join(site, `${firmware}.deflate`), compressed);
    manifest = { ...manifest, compression: { method: 'deflate', wbits: 12, firmware: `${firmware}.deflate`, sha: Buffer.from(nativeSha256(compressed)).toString('hex'), length: compressed.length } };
  }
  if (options.sign) manifest = { ...manifest, signature: signText(signingKey, signedText(manifest)).signature };
  return manifest;
}

function publish(name: string, manifest: unknown): void {
  writeFileSync(join(site, name), JSON.stringify(manifest));
}

before(() => {
  mkdirSync(join(site, 'fw'));
  writeFileSync(join(site, 'fw', 'app.bin'), APP);
  writeFileSync(join(site, 'app.bin'), APP);
  writeFileSync(join(site, 'c3.bin'), C3_APP);
  publish('relative.json', manifestFor(APP, 'fw/app.bin'));
  publish('plain.json', manifestFor(APP, 'app.bin'));
  publish('compressed.json', manifestFor(APP, 'app.bin', { compress: true }));
  publish('signed.json', manifestFor(APP, 'app.bin', { compress: true, sign: true }));
  publish('unsigned.json', manifestFor(APP, 'app.bin'));
  publish('tampered.json', { ...manifestFor(APP, 'app.bin', { sign: true }), version: 'v9.9.9' });
  publish('wrong-sha.json', { ...manifestFor(APP, 'app.bin'), sha: '0'.repeat(64) });
  publish('short.json', { ...manifestFor(APP, 'app.bin'), length: APP.length - 100 });
  publish('long.json', { ...manifestFor(APP, 'app.bin'), length: APP.length + 100 });
  publish('c3.json', manifestFor(C3_APP, 'c3.bin'));
  publish('no-sha.json', { firmware: 'app.bin', length: APP.length });
  publish('missing.json', { ...manifestFor(APP, 'app.bin'), firmware: 'nowhere.bin' });
});

async function serve(options: Partial<OtaServerOptions> = {}): Promise<{ server: OtaServer; log: string[] }> {
  const log: string[] = [];
  const server = await startOtaServer({ root: site, log: (line) => log.push(line), ...options });
  cleanups.push(() => server.close());
  return { server, log };
}

/** A test server: its URL, and how many TCP connections it has accepted. */
async function listen(handler: (request: IncomingMessage, response: ServerResponse) => void): Promise<{ url: string; connections: () => number }> {
  const server = createServer(handler);
  let connections = 0;
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => (server.closeAllConnections(), server.close(() => resolve()))));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, connections: () => connections };
}

/** A virtual board with network and the ota package in /lib/ota. */
async function pullBoard(): Promise<NetworkBoard> {
  const board = await networkBoard();
  cleanups.push(() => board.stop());
  await installBoardPackage(board.client, { sha256: nativeSha256 });
  return board;
}

const pull = (board: NetworkBoard, call: string) => board.run(`import ota.update\nprint(ota.update.${call})`, 120_000);

async function bootAndOtadata(board: NetworkBoard) {
  const status = await readStatus(board.client);
  return { boot: status.bootPartition, otadata: JSON.stringify(status.otadata) };
}

describe('ota.update.from_json on the virtual board against esp32-ota serve', () => {
  it('installs the real v1.23.0 app (compressed), which boots after machine.reset(); ota.rollback.cancel() keeps it', async (t) => {
    const combined = realFirmware(t);
    if (!combined) return;
    const app = extractApp(combined, identifyFirmware(combined)).bytes;
    writeFileSync(join(site, 'micropython.bin'), app);
    publish('micropython.json', manifestFor(app, 'micropython.bin', { compress: true }));
    const { server, log } = await serve();
    const board = await pullBoard();
    const output = await pull(board, `from_json("${server.url}micropython.json", reboot=False)`);
    assert.match(output, /Writing new micropython image to OTA partition 'ota_1'\.\.\./);
    assert.match(output, /Manifest: MicroPython v1\.23\.0 for esp32, ESP-IDF v5\.0\.4\./);
    assert.match(output, /Verifying SHA of the written data\.\.\.Passed\./);
    assert.match(output, /SHA256=751da117e2cb4e6036f59d709d55ee2adf150e5f63e8d9fcc02b2b9d8743aaf8/);
    assert.match(output, /Micropython will boot from 'ota_1' partition on next boot\./);
    assert.ok(log.some((line) => / GET \/micropython\.bin\.deflate 200 \d+ bytes/.test(line)), log.join('\n'));
    const transport = board.board.connect();
    const link = { transport, hardReset: undefined, reconnect: async () => transport };
    let client = await resetBoard(link, new ReplClient(transport));
    let status = await readStatus(client);
    assert.equal(status.running, 'ota_1');
    assert.equal(status.version, 'v1.23.0');
    assert.equal(status.pendingVerify, true);
    await client.exec('import ota.rollback\nota.rollback.cancel()');
    client = await resetBoard(link, client);
    status = await readStatus(client);
    assert.equal(status.running, 'ota_1', 'kept after the confirmation');
    assert.equal(status.version, 'v1.23.0');
    const again = new TextDecoder().decode(await client.exec(`import ota.update\nprint(ota.update.from_json("${server.url}micropython.json", reboot=False))`));
    assert.match(again, /Micropython v1\.23\.0 already runs: nothing to update \(force=True writes it anyway\)\.\r\nFalse/);
  });

  it('relative and absolute firmware URLs; plain and compressed', async () => {
    const { server } = await serve();
    publish('absolute.json', manifestFor(APP, `${server.url}fw/app.bin`));
    const board = await pullBoard();
    for (const manifest of ['relative.json', 'absolute.json', 'compressed.json']) {
      const output = await pull(board, `from_json("${server.url}${manifest}", reboot=False)`);
      assert.match(output, /Verifying SHA of the written data\.\.\.Passed\./, manifest);
      assert.match(output, manifest === 'compressed.json' ? /Opening firmware file http:\/\/127\.0\.0\.1:\d+\/app\.bin\.deflate/ : /Opening firmware file http:\/\/127\.0\.0\.1:\d+\/fw\/app\.bin/);
      assert.equal((await bootAndOtadata(board)).boot, 'ota_1');
      await board.run('import ota.rollback\nota.rollback.cancel_force()'); // back to ota_0 for the next round
    }
  });

  it('basic auth and bearer tokens; a wrong password fails naming the HTTP status', async () => {
    const basic = await serve({ auth: { kind: 'basic', user: 'ota', password: 's3cret' } });
    const bearer = await serve({ auth: { kind: 'bearer', token: 'tok-123' } });
    const board = await pullBoard();
    const before = await bootAndOtadata(board);
    await assert.rejects(pull(board, `from_json("${basic.server.url}plain.json", reboot=False, auth=("ota", "wrong"))`), /HTTPError: HTTP 401 Unauthorized for http:\/\/127\.0\.0\.1:\d+\/plain\.json/);
    await assert.rejects(pull(board, `from_json("${bearer.server.url}plain.json", reboot=False)`), /HTTP 401 Unauthorized/);
    assert.deepEqual(await bootAndOtadata(board), before, 'boot partition and otadata unchanged');
    assert.match(await pull(board, `from_json("${basic.server.url}plain.json", reboot=False, auth=("ota", "s3cret"))`), /Passed\./);
    await board.run('import ota.rollback\nota.rollback.cancel_force()');
    assert.match(await pull(board, `from_json("${bearer.server.url}plain.json", reboot=False, token="tok-123")`), /Passed\./);
    assert.equal((await bootAndOtadata(board)).boot, 'ota_1');
  });

  it('HTTPS from esp32-ota serve --tls-cert: verified against the CA given as ca=, refused against another CA', async () => {
    const fixture = (name: string) => readFileSync(new URL(`../../../test/fixtures/tls/${name}`, import.meta.url));
    const { server } = await serve({ tls: { cert: fixture('server.pem'), key: fixture('server.key') } });
    assert.match(server.url, /^https:/);
    const board = await pullBoard();
    board.board.writeFile('ca.der', fixture('ca.der'));
    board.board.writeFile('other-ca.pem', fixture('other-ca.pem'));
    const before = await bootAndOtadata(board);
    await assert.rejects(pull(board, `from_json("${server.url}plain.json", reboot=False, ca="/other-ca.pem")`), /OSError: \(-9984, 'X509 - Certificate verification failed/);
    assert.deepEqual(await bootAndOtadata(board), before);
    assert.match(await pull(board, `from_json("${server.url}plain.json", reboot=False, ca="/ca.der")`), /Verifying SHA of the written data\.\.\.Passed\./);
    assert.equal((await bootAndOtadata(board)).boot, 'ota_1');
  });

  it('a server that answers chunked (manifest and firmware over one kept-alive connection), and one that redirects to another host', async () => {
    const { server } = await serve();
    const chunked = await listen((request, response) => {
      const file = request.url === '/app.bin' ? APP : request.url === '/plain.json' ? Buffer.from(JSON.stringify(manifestFor(APP, 'app.bin'))) : undefined;
      if (!file) return void response.writeHead(404).end();
      response.writeHead(200, { 'Content-Type': 'application/octet-stream' }); // no Content-Length: Node sends it chunked
      for (let offset = 0; offset < file.length; offset += 1000) response.write(file.subarray(offset, offset + 1000));
      response.end();
    });
    const redirecting = await listen((request, response) => {
      response.writeHead(302, { Location: `${server.url}${request.url?.slice(1)}` }).end();
    });
    const board = await pullBoard();
    const viaChunks = await pull(board, `from_json("${chunked.url}plain.json", reboot=False)`);
    assert.match(viaChunks, /Passed\./);
    assert.equal(chunked.connections(), 1, 'the manifest and the firmware over one kept-alive connection');
    await board.run('import ota.rollback\nota.rollback.cancel_force()');
    const viaRedirect = await pull(board, `from_json("${redirecting.url}plain.json", reboot=False)`);
    assert.match(viaRedirect, new RegExp(`Redirected to ${server.url.replaceAll('.', '\\.')}plain\\.json`));
    assert.match(viaRedirect, /Passed\./);
    assert.equal((await bootAndOtadata(board)).boot, 'ota_1');
  });

  it('a connection reset mid-download is resumed with Range, and the result verifies', async () => {
    const { server, log } = await serve();
    const board = await pullBoard();
    board.network.setFaults({ resetAfterBytes: 20_000 });
    const output = await pull(board, `from_json("${server.url}plain.json", reboot=False)`);
    board.network.setFaults({});
    assert.match(output, /Connection lost at byte \d+ .*resuming with Range: bytes=\d+-/);
    assert.match(output, /The download was resumed [2-9] time\(s\) with HTTP Range\./);
    assert.match(output, /Verifying SHA of the written data\.\.\.Passed\./);
    assert.ok(log.filter((line) => / GET \/app\.bin 206 /.test(line)).length >= 2, log.join('\n'));
    assert.equal((await bootAndOtadata(board)).boot, 'ota_1');
  });

  it('a power cut during the download leaves a board that boots its old firmware', async () => {
    const { server } = await serve();
    const board = await pullBoard();
    board.board.flash.cutPowerAfter(60); // a few blocks into the partition
    await board.client.startProgram(`import ota.update\nota.update.from_json("${server.url}plain.json", reboot=False)`);
    const deadline = Date.now() + 20_000;
    while (board.board.state !== 'off') {
      assert.ok(Date.now() < deadline, `the board did not lose power (state ${board.board.state})`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await board.board.powerOn();
    await board.board.idle();
    assert.equal(board.board.booted?.partition.label, 'ota_0');
  });

  it('refuses, with the boot partition unchanged: wrong SHA, length, chip; manifest without keys; HTTP 404 and 500', async () => {
    const { server } = await serve();
    const failing = await listen((_request, response) => response.writeHead(500, 'Internal Server Error').end('boom'));
    const board = await pullBoard();
    const before = await bootAndOtadata(board);
    const cases: [string, RegExp][] = [
      [`from_json("${server.url}wrong-sha.json", reboot=False)`, /ValueError: SHA-256 of the received data is [0-9a-f]{64}, expected 0{64}: the boot partition is unchanged/],
      [`from_json("${server.url}short.json", reboot=False)`, /ValueError: received more than the expected 49052 bytes/],
      [`from_json("${server.url}long.json", reboot=False)`, /ValueError: received 49152 bytes, expected 49252: the boot partition is unchanged/],
      [`from_json("${server.url}c3.json", reboot=False)`, /ValueError: the firmware is for esp32c3, this board is an esp32: refusing it/],
      [`from_json("${server.url}no-sha.json", reboot=False)`, /Manifest http:\S+no-sha\.json has no 'sha': it needs the keys firmware, sha and length\.[\s\S]*KeyError: sha/],
      [`from_json("${server.url}missing.json", reboot=False)`, /HTTPError: HTTP 404 Not Found for http:\S+\/nowhere\.bin/],
      [`from_json("${server.url}absent.json", reboot=False)`, /HTTPError: HTTP 404 Not Found for http:\S+\/absent\.json/],
      [`from_json("${failing.url}plain.json", reboot=False)`, /HTTPError: HTTP 500 Internal Server Error for http:\S+\/plain\.json/],
      [`from_json("${server.url}plain.txt", reboot=False)`, /ValueError: a manifest URL must end in \.json/],
    ];
    for (const [call, message] of cases) {
      await assert.rejects(pull(board, call), (error: Error & { stdout?: Uint8Array }) => {
        assert.match(new TextDecoder().decode(error.stdout) + error.message, message, call);
        return true;
      });
      assert.deepEqual(await bootAndOtadata(board), before, `boot partition and otadata unchanged after ${call}`);
    }
  });

  it('with a public key in /ota.pub: a signed manifest installs; unsigned or tampered ones are refused before a byte is written', async () => {
    const { server } = await serve();
    const board = await pullBoard();
    board.board.writeFile('ota.pub', new TextEncoder().encode(`${keys.publicKeyHex}\n`));
    const before = await bootAndOtadata(board);
    const operations = board.board.flash.stats().operations;
    await assert.rejects(pull(board, `from_json("${server.url}unsigned.json", reboot=False)`), /ValueError: the manifest is not signed, and this board accepts only signed manifests \(its key is \/ota\.pub\)/);
    await assert.rejects(pull(board, `from_json("${server.url}tampered.json", reboot=False)`), /ValueError: the manifest's signature does not match this board's public key: refusing it/);
    await assert.rejects(pull(board, `from_file("${server.url}app.bin", reboot=False)`), /ValueError: this board accepts only signed manifests \(\/ota\.pub is installed\): use from_json/);
    await board.board.idle();
    assert.equal(board.board.flash.stats().operations - operations, 0, 'no flash operation at all');
    assert.deepEqual(await bootAndOtadata(board), before);
    assert.match(await pull(board, `from_json("${server.url}signed.json", reboot=False)`), /Verifying SHA of the written data\.\.\.Passed\./);
    assert.equal((await bootAndOtadata(board)).boot, 'ota_1');
  });
});
