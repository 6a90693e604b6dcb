/**
 * Every command with bad input, as a new user types it: missing, empty,
 * truncated, random and wrong-kind files, bad device addresses and option
 * values. Each must exit 1 or 2 with an error line naming the problem, never
 * an internal error (rc 70), never hang, and change no file.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { buildGeneratedFirmware, DEFAULT_PARTITIONS_CSV, defaultPartitionTable } from '../../src/device/virtual-firmware.js';
import { buildFlashImage } from '../../src/format/flash-image-builder.js';
import { freshFlash } from '../../src/node/virtual-board.js';
import { runCliInProcess } from '../helpers/run-cli.js';

let dir: string;
/** A loopback port nothing listens on (taken from the system, then let go). */
let closedPort: number;
const at = (name: string) => join(dir, name);

/** Name → size, modification time and inode of every file under dir (folders included), to see that nothing changed. */
function snapshot(): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (folder: string) => {
    for (const entry of readdirSync(folder)) {
      const path = join(folder, entry);
      if (statSync(path).isDirectory()) {
        files.set(path, 'folder');
        walk(path);
      } else {
        const stats = statSync(path);
        files.set(path, `${stats.size} ${stats.mtimeMs} ${stats.ino}`);
      }
    }
  };
  walk(dir);
  return files;
}

function pseudoRandom(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = seed;
  for (let i = 0; i < length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    bytes[i] = state >>> 24;
  }
  return bytes;
}

before(async () => {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  closedPort = (probe.address() as AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  dir = mkdtempSync(join(tmpdir(), 'esp32-ota-bad-input-'));
  const app = buildGeneratedFirmware({ version: 'v1.28.0', buildDate: '2025-01-01', seed: 3 });
  writeFileSync(at('app.bin'), app);
  writeFileSync(at('cut.bin'), app.subarray(0, app.length - 1000));
  writeFileSync(at('random.bin'), pseudoRandom(5000, 7));
  writeFileSync(at('empty.bin'), new Uint8Array(0));
  writeFileSync(at('erased.bin'), new Uint8Array(4 << 20).fill(0xff));
  writeFileSync(at('one-mib.bin'), new Uint8Array(1 << 20).fill(0xff));
  writeFileSync(at('board.bin'), new Uint8Array(freshFlash().memory));
  writeFileSync(at('no-app.bin'), buildFlashImage({ chip: 'esp32', flashSize: 4 << 20, table: defaultPartitionTable(), apps: {} }));
  writeFileSync(at('table.csv'), DEFAULT_PARTITIONS_CSV);
  writeFileSync(at('long-name.csv'), 'a_name_that_is_far_too_long,data,fat,0x10000,4K\n');
  writeFileSync(at('too-big.csv'), 'factory,app,factory,0x10000,8M\n');
  writeFileSync(at('no-app.csv'), 'nvs,data,nvs,0x9000,0x6000\n');
  writeFileSync(at('array.json'), '[1,2]');
  writeFileSync(at('broken.json'), '{"firmware": ');
  writeFileSync(at('bad-sha.json'), JSON.stringify({ firmware: 'app.bin', sha: 'a'.repeat(64), length: app.length }));
  writeFileSync(at('otadata-100.bin'), pseudoRandom(100, 9));
  mkdirSync(at('folder'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

type Case = [args: string[], problem: RegExp];

/** Placeholders resolved in before(): the temporary folder is not known when the cases are listed. */
const cases = (): Case[] => [
  // Files: missing, empty, folder, random, truncated, wrong kind.
  [['image', 'info', at('missing.bin')], /missing\.bin: no such file/],
  [['image', 'info', at('empty.bin')], /empty file/],
  [['image', 'info', at('folder')], /is a folder/],
  [['image', 'info', at('random.bin')], /not an ESP32 firmware file/],
  [['image', 'info', at('table.csv')], /not an ESP32 firmware file/],
  [['image', 'extract-app', at('app.bin'), '-o', at('app.bin')], /is the input file/],
  [['image', 'extract-app', at('erased.bin'), '-o', at('out.bin')], /not an ESP32 firmware file/],
  [['image', 'extract-app', at('board.bin'), '-o', at('out.bin'), '-p', 'nope'], /no app partition 'nope'/],
  [['image', 'extract-app', at('board.bin'), '-o', at('no-folder/out.bin')], /no such file or folder/],
  [['image', 'extract-app', at('board.bin')], /required option '-o, --output <file>' not specified/],
  [['partitions', at('missing.csv')], /no such file/],
  [['partitions', at('empty.bin')], /empty file/],
  [['partitions', at('random.bin')], /not an ESP32 firmware file/],
  [['partitions', at('app.bin')], /is an app image: it has no partition table/],
  [['partitions', at('long-name.csv')], /is 27 bytes long; partition names are at most 16 bytes/],
  [['partitions', at('table.csv'), '--table-offset', '0x8001'], /not on a 4 KiB \(0x1000\) boundary/],
  [['partitions', at('table.csv'), '--csv', '--json'], /choose one of --csv and --json/],
  [['partitions', 'convert', at('table.csv'), at('table.csv')], /is the input file/],
  [['partitions', 'convert', at('erased.bin'), at('out.csv')], /not an ESP32 firmware file/],
  [['otadata', at('otadata-100.bin')], /100 bytes\) is not an otadata partition dump \(0x2000 = 8,192 bytes\) or a flash dump/],
  [['otadata', at('app.bin')], /is an app image, not an otadata partition dump/],
  [['otadata', at('missing.bin')], /no such file/],
  // update: firmware, manifests and option values.
  [['update', at('missing.bin'), '-d', `sim:${at('board.bin')}`], /missing\.bin: no such file/],
  [['update', at('array.json'), '-d', `sim:${at('board.bin')}`], /must be a JSON object .*not an array/],
  [['update', at('broken.json'), '-d', `sim:${at('board.bin')}`], /is not valid JSON/],
  [['update', at('app.bin'), '--compress', 'bogus', '-d', `sim:${at('board.bin')}`], /--compress must be one of auto, on, off; got 'bogus'/],
  [['update', at('app.bin'), '--window', '0', '-d', `sim:${at('board.bin')}`], /--window must be a whole number of bytes, at least 64; got '0'/],
  [['update', at('app.bin'), '--window', 'abc', '-d', `sim:${at('board.bin')}`], /--window must be a whole number/],
  [['update', at('app.bin'), '--length', '-5', '-d', `sim:${at('board.bin')}`], /--length must be a whole number/],
  [['update', at('app.bin'), '--sha', 'xyz', '-d', `sim:${at('board.bin')}`], /SHA-256 must be 64 hex digits/],
  [['update', at('app.bin'), '--baud', 'fast', '-d', '/dev/ttyUSB9'], /--baud must be a whole number/],
  [['update', at('app.bin')], /no board given/],
  // Device addresses.
  [['status', '-d', 'nonsense'], /"nonsense" is not a device address/],
  [['status', '-d', 'tcp:localhost:99999'], /has port 99999/],
  [['status', '-d', `tcp:127.0.0.1:${closedPort}`], new RegExp(`nothing listens on 127\\.0\\.0\\.1:${closedPort}`)],
  [['status', '-d', `ws://127.0.0.1:${closedPort}`], /needs the WebREPL password/],
  [['status', '-d', `ws://127.0.0.1:${closedPort}`, '--password', 'abcd'], /cannot connect to WebREPL at ws:\/\/127\.0\.0\.1:\d+.*ECONNREFUSED|nothing listens/],
  [['status', '-d', `serial:${at('no-such-tty')}`], /no serial port .*no-such-tty/],
  [['status', '-d', `sim:${at('no-folder/board.bin')}`], /the folder .*no-folder does not exist/],
  [['status', '-d', `sim:${at('folder')}`], /is a folder, not a flash file/],
  [['status', '-d', `sim:${at('random.bin')}`], /random\.bin is not a virtual board's flash: it is 5,000 bytes/],
  [['status', '-d', `sim:${at('empty.bin')}`], /empty\.bin is not a virtual board's flash: it is 0 bytes/],
  [['status', '-d', `sim:${at('erased.bin')}`], /erased\.bin is not a virtual board's flash: there is no partition table at 0x8000/],
  [['status', '-d', `sim:${at('app.bin')}`], /app\.bin is not a virtual board's flash/],
  [['reset', '-d', `sim:${at('one-mib.bin')}`], /one-mib\.bin is not a virtual board's flash/],
  [['status', '-d', `sim:${at('no-app.bin')}`], /the virtual board in .*no-app\.bin does not boot: no app partition holds a valid app image/],
  [['rollback', '-d', `sim:${at('board.bin')}`], /rollback needs an action: cancel, force or cancel-force/],
  [['rollback', 'cancel', '-d', 'tcp:nohost'], /is not tcp:HOST:PORT/],
  [['rollback', 'force', '-d', `sim:${at('folder')}`], /is a folder/],
  // sim and demo.
  [['sim', '--flash', at('no-folder/b.bin')], /the folder .*no-folder does not exist/],
  [['sim', '--flash', at('random.bin')], /not a virtual board's flash/],
  [['sim', '--flash', at('board.bin'), '--table', at('table.csv')], /--firmware and --table only apply to a new flash/],
  [['sim', '--table', at('too-big.csv'), '--tcp', '0'], /does not fit the virtual board's 4 MiB flash/],
  [['sim', '--table', at('no-app.csv'), '--tcp', '0'], /has no app partition/],
  [['sim', '--firmware', at('table.csv'), '--tcp', '0'], /not an ESP32 firmware file/],
  [['sim', '--tcp', '70000'], /--tcp must be a whole number, from 0 to 65535; got '70000'/],
  [['sim', '--webrepl', '0', '--password', 'ab'], /the WebREPL password has 2 characters; webrepl_setup requires 4 to 9/],
  [['sim', '--webrepl', '0', '--password', 'abcdefghijk'], /the WebREPL password is 11 bytes; a board accepts at most 9/],
  [['sim', '--webrepl', '0'], /--webrepl needs a password/],
  [['sim', '--tcp', '0', '--host', '999.1.1.1'], /--host 999\.1\.1\.1 is not an address of this computer/],
  [['demo', '--flash', at('empty.bin')], /empty\.bin is not a virtual board's flash/],
  [['demo', '--flash', at('one-mib.bin')], /one-mib\.bin is not a virtual board's flash/],
  [['demo', '--flash', at('random.bin')], /random\.bin is not a virtual board's flash/],
  [['demo', '--flash', at('folder')], /is a folder/],
  [['demo', '--flash', at('no-folder/d.bin')], /the folder .*no-folder does not exist/],
  // fleet: broker addresses, names, stages and limits, manifests (refused before anything is published).
  [['fleet', 'status', '--broker', 'nonsense', '--fleet', 'lab'], /--broker 'nonsense' is not a URL/],
  [['fleet', 'status', '--broker', 'http://127.0.0.1:1883', '--fleet', 'lab'], /the scheme must be mqtt:\/\/, mqtts:\/\/, ws:\/\/ or wss:\/\/, not http:/],
  [['fleet', 'status', '--broker', `mqtt://127.0.0.1:${closedPort}`, '--fleet', 'lab'], /cannot connect to the broker at mqtt:\/\/127\.0\.0\.1:\d+: nothing listens there/],
  [['fleet', 'status', '--broker', 'mqtt://127.0.0.1', '--fleet', 'a/b'], /the fleet name 'a\/b' may hold only letters, digits/],
  [['fleet', 'status', '--broker', 'mqtt://127.0.0.1', '--fleet', 'lab', '--prefix', 'x#'], /the prefix 'x#' may hold only/],
  [['fleet', 'status', '--broker', 'mqtt://127.0.0.1', '--fleet', 'lab', '--ca', at('missing.pem')], /missing\.pem: cannot read it/],
  [['fleet', 'status', '--broker', 'mqtt://127.0.0.1', '--fleet', 'lab', '--wait', '0'], /--wait must be a positive number/],
  [['fleet', 'status', '--fleet', 'lab'], /required option '--broker <url>' not specified/],
  [['fleet', 'rollout', 'http://127.0.0.1/m.json', '--broker', 'mqtt://127.0.0.1', '--fleet', 'lab', '--stages', '5,25,100'], /--stages wants percentages .*'5' is not one/],
  [['fleet', 'rollout', 'http://127.0.0.1/m.json', '--broker', 'mqtt://127.0.0.1', '--fleet', 'lab', '--stages', '50%,25%'], /--stages are cumulative and must increase: 25% follows 50%/],
  [['fleet', 'rollout', 'http://127.0.0.1/m.json', '--broker', 'mqtt://127.0.0.1', '--fleet', 'lab', '--stages', '0%,100%'], /0% is not above 0 %/],
  [['fleet', 'rollout', 'http://127.0.0.1/m.json', '--broker', 'mqtt://127.0.0.1', '--fleet', 'lab', '--stages', '5%,120%'], /120% is not above 0 % and at most 100 %/],
  [['fleet', 'rollout', 'http://127.0.0.1/m.json', '--broker', 'mqtt://127.0.0.1', '--fleet', 'lab', '--max-failures', '-1'], /--max-failures must be a whole number/],
  [['fleet', 'rollout', 'http://127.0.0.1/m.json', '--broker', 'mqtt://127.0.0.1', '--fleet', 'lab', '--timeout', '0'], /--timeout must be a duration above 0/],
  [['fleet', 'rollout', 'http://127.0.0.1/m.json', '--broker', 'mqtt://127.0.0.1', '--fleet', 'lab', '--timeout', '5 minutes'], /--timeout must be a duration/],
  [['fleet', 'rollout', at('bad-sha.json'), '--broker', 'mqtt://127.0.0.1', '--fleet', 'lab', '--stages', '100%'], /give an http\(s\) URL they can reach/],
  [['fleet', 'rollout', 'http://127.0.0.1/firmware.bin', '--broker', 'mqtt://127.0.0.1', '--fleet', 'lab', '--stages', '100%'], /a manifest URL must end in \.json/],
  [['fleet', 'rollout', `http://127.0.0.1:${closedPort}/m.json`, '--broker', 'mqtt://127.0.0.1', '--fleet', 'lab', '--stages', '100%'], /cannot download http:\/\/127\.0\.0\.1:\d+\/m\.json: ECONNREFUSED/],
  [['fleet', 'broker', '--port', '70000'], /--port must be a whole number, from 0 to 65535; got '70000'/],
  [['fleet', 'broker', '--port', '0', '--tls-cert', at('table.csv')], /TLS needs both --tls-cert and --tls-key/],
  [['fleet', 'broker', '--port', '0', '--auth', 'nopassword'], /--auth must be USER:PASSWORD/],
  [['fleet', 'broker', '--port', '0', '--host', '999.1.1.1'], /--host 999\.1\.1\.1 is not an address of this computer/],
  // Unknown commands and options.
  [['flash'], /unknown command 'flash'/],
  [['status', '--nope'], /unknown option '--nope'/],
];

describe('every command with bad input: rc 1 or 2, a message naming the problem, no internal error, no hang, no file changed', () => {
  it('holds for each case', async () => {
    const failures: string[] = [];
    const started = snapshot();
    for (const [args, problem] of cases()) {
      const before = snapshot();
      const result = await runCliInProcess(args, { timeoutMs: 30_000 });
      const shown = `esp32-ota ${args.join(' ').replaceAll(dir, 'DIR')}`;
      if (result.hung) failures.push(`${shown}: still running after 30 s`);
      else if (result.code !== 1 && result.code !== 2) failures.push(`${shown}: exit ${result.code}\n${result.stderr}`);
      else if (/internal error/.test(result.stderr)) failures.push(`${shown}: ${result.stderr}`);
      else if (!problem.test(result.stderr)) failures.push(`${shown}: expected ${problem}, got:\n${result.stderr}`);
      const now = snapshot();
      const changed = [...new Set([...before.keys(), ...now.keys()])].filter((path) => before.get(path) !== now.get(path));
      if (changed.length > 0) failures.push(`${shown}: changed ${changed.map((path) => path.replace(dir, 'DIR')).join(', ')}`);
    }
    assert.deepEqual(snapshot(), started);
    assert.equal(failures.length, 0, failures.join('\n\n'));
  });
});
