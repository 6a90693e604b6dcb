/**
 * The host side of device-pull OTA: esp32-ota manifest, keygen, serve (the
 * HTTP semantics of src/node/static-files.ts), install-package, the board's Ed25519 against
 * node:crypto, and update --pull end to end on a sim: board.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { Agent, request as httpRequest } from 'node:http';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildGeneratedFirmware } from '../../src/device/virtual-firmware.js';
import { buildCombinedImage } from '../../src/format/flash-image-builder.js';
import { nativeSha256 } from '../../src/node/native-hash.js';
import { REVALIDATE_MS, startOtaServer } from '../../src/node/ota-server.js';
import { signedText, type OtaManifest } from '../../src/ota/manifest.js';
import { runCli, runCliAsync } from '../helpers/run-cli.js';
import { OTA_TABLE } from '../helpers/testdata.js';
import { bootedBoard } from '../helpers/virtual-board.js';
import { ReplClient } from '../../src/repl/index.js';
import { installBoardPackage } from '../../src/ota/board-package.js';

const folder = mkdtempSync(join(tmpdir(), 'esp32-ota-pull-tools-'));
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  rmSync(folder, { recursive: true, force: true });
});

const APP = buildGeneratedFirmware({ version: 'v1.31.0', buildDate: '2026-03-03', size: 0xc000, seed: 21 });
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
writeFileSync(join(folder, 'app.bin'), APP);

describe('esp32-ota keygen and manifest', () => {
  it('keygen writes a 0600 private key and the public key as hex; never overwrites', () => {
    const made = runCli(['keygen', '-o', join(folder, 'fleet')]);
    assert.equal(made.code, 0, made.stderr);
    assert.equal(statSync(join(folder, 'fleet.key')).mode & 0o777, 0o600);
    assert.match(readFileSync(join(folder, 'fleet.pub'), 'utf8'), /^[0-9a-f]{64}\n$/);
    const again = runCli(['keygen', '-o', join(folder, 'fleet')]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /fleet\.key exists already: keygen never overwrites a key/);
  });

  it('manifest --compress --sign: the seed keys, the image fields, a block-deflate file, a signature node:crypto accepts', () => {
    const result = runCli(['manifest', join(folder, 'app.bin'), '--compress', '--sign', join(folder, 'fleet.key'), '--url', 'https://cdn.example/fw/app.bin']);
    assert.equal(result.code, 0, result.stderr);
    const manifest = JSON.parse(readFileSync(join(folder, 'app.json'), 'utf8')) as OtaManifest;
    assert.equal(manifest.firmware, 'https://cdn.example/fw/app.bin');
    assert.equal(manifest.sha, hex(nativeSha256(APP)));
    assert.equal(manifest.length, APP.length);
    assert.equal(manifest.version, 'v1.31.0');
    assert.equal(manifest.chip, 'esp32');
    assert.equal(manifest.project, 'micropython');
    const compressed = readFileSync(join(folder, 'app.bin.deflate'));
    assert.deepEqual(manifest.compression, { method: 'deflate', wbits: 15, firmware: 'https://cdn.example/fw/app.bin.deflate', sha: hex(nativeSha256(compressed)), length: compressed.length });
    const publicKey = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(readFileSync(join(folder, 'fleet.pub'), 'utf8').trim(), 'hex')]), format: 'der', type: 'spki' });
    assert.ok(verify(null, Buffer.from(signedText(manifest)), publicKey, Buffer.from(manifest.signature ?? '', 'hex')));
    assert.match(result.stdout, /Signed: +Ed25519, public key [0-9a-f]{64}/);
  });

  it('refuses, writing nothing: a combined image without --extract, a key that is not Ed25519, a bad --wbits', () => {
    const combined = buildCombinedImage({ chip: 'esp32', table: OTA_TABLE, apps: { ota_0: APP } });
    writeFileSync(join(folder, 'combined.bin'), combined);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'pem', type: 'pkcs8' });
    writeFileSync(join(folder, 'rsa.key'), rsa);
    const cases: [string[], RegExp][] = [
      [['manifest', join(folder, 'combined.bin')], /combined firmware image .*not an app image.*--extract/],
      [['manifest', join(folder, 'app.bin'), '--sign', join(folder, 'rsa.key'), '-o', join(folder, 'x.json')], /rsa\.key is an rsa key, not Ed25519/],
      [['manifest', join(folder, 'app.bin'), '--sign', join(folder, 'none.key'), '-o', join(folder, 'x.json')], /cannot read the signing key .*none\.key: ENOENT/],
      [['manifest', join(folder, 'app.bin'), '--wbits', '20', '-o', join(folder, 'x.json')], /--wbits must be 9 to 15/],
    ];
    for (const [args, message] of cases) {
      const result = runCli(args);
      assert.equal(result.code, 1, args.join(' '));
      assert.match(result.stderr, message);
    }
    assert.throws(() => statSync(join(folder, 'x.json')), /ENOENT/);
    assert.throws(() => statSync(join(folder, 'combined.json')), /ENOENT/);
    const extracted = runCli(['manifest', join(folder, 'combined.bin'), '--extract']);
    assert.equal(extracted.code, 0, extracted.stderr);
    assert.deepEqual(new Uint8Array(readFileSync(join(folder, 'combined.app-bin'))), APP);
  });
});

function get(url: string, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(new URL(url), { path, method, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
    });
    request.on('error', reject);
    request.end();
  });
}

describe('esp32-ota serve', () => {
  it('Content-Length, ETag, Range/206 and 416, HEAD, If-None-Match → 304, If-Range; no path outside DIR, no dotfiles; a log line per request', async () => {
    writeFileSync(join(folder, '.secret'), 'no');
    const log: string[] = [];
    const server = await startOtaServer({ root: folder, log: (line) => log.push(line) });
    cleanups.push(() => server.close());
    const full = await get(server.url, '/app.bin');
    assert.equal(full.status, 200);
    assert.equal(full.headers['content-length'], String(APP.length));
    assert.deepEqual(new Uint8Array(full.body), APP);
    const etag = String(full.headers['etag']);
    assert.ok(etag.length > 2);
    const part = await get(server.url, '/app.bin', { Range: 'bytes=1000-' });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], `bytes 1000-${APP.length - 1}/${APP.length}`);
    assert.deepEqual(new Uint8Array(part.body), APP.subarray(1000));
    assert.equal((await get(server.url, '/app.bin', { Range: `bytes=${APP.length + 5}-` })).status, 416);
    assert.equal((await get(server.url, '/app.bin', { Range: 'bytes=10-', 'If-Range': '"other"' })).status, 200, 'a changed file is sent whole');
    assert.equal((await get(server.url, '/app.bin', { Range: 'bytes=10-', 'If-Range': etag })).status, 206);
    assert.equal((await get(server.url, '/app.bin', { 'If-None-Match': etag })).status, 304);
    const head = await get(server.url, '/app.bin', {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], String(APP.length));
    assert.equal(head.body.length, 0);
    assert.equal((await get(server.url, '/..%2f..%2fetc%2fpasswd')).status, 403);
    assert.equal((await get(server.url, '/.secret')).status, 403);
    assert.equal((await get(server.url, '/absent.bin')).status, 404);
    assert.equal((await get(server.url, '/app.bin', {}, 'POST')).status, 405);
    assert.equal(log.length, 11);
    assert.match(log[0] ?? '', /^\d{4}-\d\d-\d\dT\S+ 127\.0\.0\.1 GET \/app\.bin 200 49152 bytes \d+ ms$/);
    assert.match(log[1] ?? '', / GET \/app\.bin 206 48152 bytes /);
  });

  it('enforces basic auth and bearer tokens (401 with a challenge)', async () => {
    const basic = await startOtaServer({ root: folder, auth: { kind: 'basic', user: 'ota', password: 'pw' } });
    const bearer = await startOtaServer({ root: folder, auth: { kind: 'bearer', token: 't0k' } });
    cleanups.push(() => basic.close(), () => bearer.close());
    const denied = await get(basic.url, '/app.bin');
    assert.equal(denied.status, 401);
    assert.match(String(denied.headers['www-authenticate']), /^Basic realm="esp32-ota"/);
    assert.equal((await get(basic.url, '/app.bin', { Authorization: `Basic ${Buffer.from('ota:wrong').toString('base64')}` })).status, 401);
    assert.equal((await get(basic.url, '/app.bin', { Authorization: `Basic ${Buffer.from('ota:pw').toString('base64')}` })).status, 200);
    assert.equal((await get(bearer.url, '/app.bin', { Authorization: 'Bearer nope' })).status, 401);
    assert.equal((await get(bearer.url, '/app.bin', { Authorization: 'Bearer t0k' })).status, 200);
  });

  it('serves a changed file anew within REVALIDATE_MS (memory keyed by mtime, size, inode); a file above the memory limit streams from disk with the same answers; If-Match → 412', async () => {
    const log: string[] = [];
    const cached = await startOtaServer({ root: folder, log: (line) => log.push(line) });
    const streamed = await startOtaServer({ root: folder, cacheFileBytes: 1000 });
    cleanups.push(() => cached.close(), () => streamed.close());
    writeFileSync(join(folder, 'changing.json'), '{"version": "v1"}');
    const first = await get(cached.url, '/changing.json');
    assert.equal(first.body.toString(), '{"version": "v1"}');
    assert.equal(first.headers['content-type'], 'application/json; charset=utf-8');
    writeFileSync(join(folder, 'changing.json'), '{"version": "v1.1"}');
    await new Promise((resolve) => setTimeout(resolve, REVALIDATE_MS + 100));
    const second = await get(cached.url, '/changing.json');
    assert.equal(second.body.toString(), '{"version": "v1.1"}');
    assert.notEqual(second.headers['etag'], first.headers['etag']);
    assert.equal((await get(cached.url, '/changing.json', { 'If-None-Match': String(first.headers['etag']) })).status, 200, 'the old ETag no longer matches');
    for (const server of [cached, streamed]) {
      const full = await get(server.url, '/app.bin');
      assert.deepEqual(new Uint8Array(full.body), APP);
      const part = await get(server.url, '/app.bin', { Range: 'bytes=100-199', 'If-Range': String(full.headers['etag']) });
      assert.equal(part.status, 206);
      assert.equal(part.headers['content-length'], '100');
      assert.deepEqual(new Uint8Array(part.body), APP.subarray(100, 200));
      assert.equal((await get(server.url, '/app.bin', { 'If-Match': '"another"' })).status, 412);
      assert.equal((await get(server.url, '/app.bin', { 'If-Match': String(full.headers['etag']) })).status, 200);
      assert.equal((await get(server.url, '/app.bin', { Range: 'bytes=0-1,5-6' })).status, 200, 'several ranges: the whole file, as send answers');
    }
    assert.match(log.at(-1) ?? '', / GET \/app\.bin 200 49152 bytes /);
  });

  it('serve --workers 2: two processes answer on one port, each request logged once with its worker; SIGTERM stops all', async () => {
    const child = spawn(process.execPath, [fileURLToPath(new URL('../../src/cli/main.js', import.meta.url)), 'serve', folder, '--port', '0', '--host', '127.0.0.1', '--workers', '2']);
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      let url: string | undefined;
      for (let i = 0; i < 200 && !url; i++) {
        url = /Serving .* on (http:\/\/127\.0\.0\.1:\d+\/) with 2 worker processes/.exec(stdout)?.[1];
        if (!url) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.ok(url, stdout);
      const agent = new Agent({ keepAlive: false });
      for (let i = 0; i < 20; i++) {
        const response = await new Promise<number>((resolve, reject) => httpRequest(new URL('/app.bin', url), { agent }, (r) => (r.resume(), r.on('end', () => resolve(r.statusCode ?? 0)))).on('error', reject).end());
        assert.equal(response, 200);
      }
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0);
    const lines = stdout.split('\n').filter((line) => / GET \/app\.bin 200 49152 bytes /.test(line));
    assert.equal(lines.length, 20, stdout);
    const workers = new Set(lines.map((line) => /\(worker (\d+)\)$/.exec(line)?.[1]));
    assert.deepEqual([...workers].sort(), ['1', '2']);
  });

  it('the CLI refuses bad options clearly', () => {
    const cases: [string[], RegExp][] = [
      [['serve', join(folder, 'nowhere')], /nowhere: no such folder/],
      [['serve', folder, '--auth', 'a:b', '--token', 't'], /give --auth or --token, not both/],
      [['serve', folder, '--tls-cert', 'x.pem'], /HTTPS needs both --tls-cert and --tls-key/],
      [['serve', folder, '--port', '70000'], /--port must be a whole number, from 0 to 65535; got '70000'/],
      [['serve', folder, '--workers', '0'], /--workers must be a whole number, from 1 to 64; got '0'/],
    ];
    for (const [args, message] of cases) {
      const result = runCli(args);
      assert.equal(result.code, 1);
      assert.match(result.stderr, message);
    }
  });
});

describe("the board's Ed25519 (device/ota/ed25519.py) against node:crypto, and ota.status", () => {
  it('accepts node:crypto signatures and refuses altered messages, signatures and keys; ota.status.status() and ready()', async () => {
    const board = await bootedBoard();
    cleanups.push(() => board.stop());
    const client = new ReplClient(board.connect());
    await client.enterRawRepl();
    await installBoardPackage(client, { sha256: nativeSha256 });
    const cases: string[] = [];
    for (let i = 0; i < 4; i++) {
      const { publicKey, privateKey } = generateKeyPairSync('ed25519');
      const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
      const message = Buffer.from(`manifest ${i} `.repeat(i * 20 + 1));
      const signature = sign(null, message, privateKey);
      const flipped = Buffer.from(signature);
      flipped[i * 7]! ^= 1;
      const otherKey = Buffer.from(raw);
      otherKey[3]! ^= 0x10;
      cases.push(
        `(${[raw, message, signature].map((b) => `unhexlify("${b.toString('hex')}")`).join(', ')}, True)`,
        `(${[raw, Buffer.concat([message, Buffer.from('!')]), signature].map((b) => `unhexlify("${b.toString('hex')}")`).join(', ')}, False)`,
        `(${[raw, message, flipped].map((b) => `unhexlify("${b.toString('hex')}")`).join(', ')}, False)`,
        `(${[otherKey, message, signature].map((b) => `unhexlify("${b.toString('hex')}")`).join(', ')}, False)`,
      );
    }
    const output = await client.exec(
      `from binascii import unhexlify\nfrom ota.ed25519 import verify\nfor key, message, signature, expected in [${cases.join(', ')}]:\n    print(verify(key, message, signature) == expected)\n`,
      { timeoutMs: 60_000 },
    );
    assert.deepEqual(new TextDecoder().decode(output).trim().split(/\r?\n/), cases.map(() => 'True'));

    // ota.status prints what the seed prints, with ESP-IDF's otadata rules.
    const status = new TextDecoder().decode(await client.exec('import ota.status\nota.status.status()\nprint(ota.status.ready())'));
    assert.match(status, /^Micropython firmware v\d+\.\d+\.\d+ has booted from partition 'ota_0'\.\r\n/);
    assert.match(status, /Micropython will boot from partition 'ota_0' on next reset\.\r\nThe next OTA partition is 'ota_1'\.\r\nThe \/ filesystem is mounted from partition 'vfs'\.\r\n/);
    assert.match(status, /Partition table:\r\n# Name {7}Type {5}SubType {6}Offset {7}Size \(bytes\)\r\n {2}nvs {8}data {5}nvs {11}0x9000 {5}0x4000 {5}16,384\r\n/);
    assert.match(status, / {2}ota_1 {6}app {6}ota_1 {7}0x1d0000 {3}0x1c0000 {2}1,835,008\r\n/);
    assert.match(status, /OTA data:\r\n {2}entry 0: seq=0x1 state=VALID crc=0x4743989a valid\r\n {2}entry 1: seq=0xffffffff state=UNDEFINED crc=0xffffffff invalid\r\nTrue\r\n$/);
  });
});

describe('esp32-ota install-package and update --pull on a sim: board', () => {
  it('installs, then finds the package current; update --pull downloads on the board with progress, resets, checks and confirms', async () => {
    const board = `sim:${join(folder, 'pull-board.bin')}`;
    assert.equal(runCli(['install-package', '-d', board, '--check']).code, 1);
    const installed = runCli(['install-package', '-d', board, '--key', join(folder, 'fleet.pub')]);
    assert.equal(installed.code, 0, installed.stderr);
    assert.match(installed.stdout, /Installed the ota package [\d.]+ in \/lib\/ota: wrote __init__\.py, ed25519\.py, fleet\.py, http\.py, mqtt\.py, rollback\.py, status\.py, update\.py\./);
    const check = runCli(['install-package', '-d', board, '--check']);
    assert.equal(check.code, 0);
    assert.match(check.stdout, /is current \(8 files\)/);

    // app.json is signed with fleet.key (above) and names its firmware on a CDN: publish it here instead.
    const manifest = JSON.parse(readFileSync(join(folder, 'app.json'), 'utf8')) as OtaManifest;
    const { signature: _unused, ...unsigned } = manifest;
    writeFileSync(join(folder, 'site.json'), JSON.stringify({ ...unsigned, firmware: 'app.bin', compression: { ...manifest.compression, firmware: 'app.bin.deflate' } }));
    writeFileSync(join(folder, 'signed-site.json'), JSON.stringify({ ...manifest, firmware: 'app.bin', compression: { ...manifest.compression, firmware: 'app.bin.deflate' } }));
    const log: string[] = [];
    const server = await startOtaServer({ root: folder, log: (line) => log.push(line) });
    cleanups.push(() => server.close());
    const cli = runCliAsync;
    const unsignedRun = await cli(['update', `${server.url}site.json`, '-d', board, '--pull']);
    assert.equal(unsignedRun.code, 1);
    assert.match(unsignedRun.stderr, /esp32-ota: error: the board's update failed: ValueError: the manifest is not signed, and this board accepts only signed manifests .*; the boot partition is unchanged/);
    const run = await cli(['update', `${server.url}signed-site.json`, '-d', board, '--pull', '--confirm']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /The ota package [\d.]+ in \/lib\/ota is current/);
    assert.match(run.stderr, /board: Opening firmware file http:\/\/127\.0\.0\.1:\d+\/app\.bin\.deflate\.\.\./);
    assert.match(run.stderr, /100% +49,152 \/ 49,152 bytes/);
    assert.match(run.stderr, /The board runs 'ota_1': MicroPython v1\.31\.0\nConfirmed: the bootloader will keep this firmware/);
    assert.match(run.stdout, /^Updated 'ota_1': 49,152 bytes, [\d,]+ downloaded by the board/);
    assert.ok(log.some((line) => / GET \/app\.bin\.deflate 200 /.test(line)));
    const status = JSON.parse(runCli(['status', '-d', board, '--json']).stdout);
    assert.equal(status.running, 'ota_1');
    assert.equal(status.pendingVerify, false);

    const cases: [string[], RegExp][] = [
      [['update', join(folder, 'app.json'), '-d', board, '--pull'], /with --pull the board downloads the firmware itself: give an http\(s\) URL it can reach/],
      [['update', `${server.url}site.json`, '-d', board, '--token', 't'], /--token goes with --pull/],
      [['update', `${server.url}site.json`, '-d', board, '--pull', '--extract'], /--extract is for host-driven updates/],
    ];
    for (const [args, message] of cases) {
      const refused = await cli(args);
      assert.equal(refused.code, 1, args.join(' '));
      assert.match(refused.stderr, message);
    }
  });
});
