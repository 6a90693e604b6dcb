/**
 * The host side of device-pull OTA: esp32-ota manifest, keygen, serve (HTTP
 * semantics through `send`), install-package, the board's Ed25519 against
 * node:crypto, and update --pull end to end on a sim: board.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildGeneratedFirmware } from '../../src/device/virtual-firmware.js';
import { buildCombinedImage } from '../../src/format/flash-image-builder.js';
import { nativeSha256 } from '../../src/node/native-hash.js';
import { startOtaServer } from '../../src/node/ota-server.js';
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

describe('esp32-ota serve (the send library behind it)', () => {
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

  it('the CLI refuses bad options clearly', () => {
    const cases: [string[], RegExp][] = [
      [['serve', join(folder, 'nowhere')], /nowhere: no such folder/],
      [['serve', folder, '--auth', 'a:b', '--token', 't'], /give --auth or --token, not both/],
      [['serve', folder, '--tls-cert', 'x.pem'], /HTTPS needs both --tls-cert and --tls-key/],
      [['serve', folder, '--port', '70000'], /--port must be a whole number, from 0 to 65535; got '70000'/],
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
