import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { buildGeneratedFirmware } from '../../src/device/virtual-firmware.js';
import type { VirtualEsp32 } from '../../src/device/virtual-esp32.js';
import { ReplClient, DeviceError } from '../../src/repl/index.js';
import { serveUartOverTcp } from '../../src/node/sim-servers.js';
import { parseOtadata } from '../../src/format/otadata.js';
import { bootedBoard } from '../helpers/virtual-board.js';

const OTA_SCRIPT = readFileSync(new URL('../../../test/fixtures/device/ota_from_file.py', import.meta.url), 'utf8');
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const boards: VirtualEsp32[] = [];
after(async () => {
  for (const board of boards) await board.stop();
});

async function board(options: Parameters<typeof bootedBoard>[0] = {}) {
  const created = await bootedBoard(options);
  boards.push(created);
  const link = created.connect();
  const client = new ReplClient(link);
  await client.enterRawRepl();
  return { board: created, link, client };
}

/** Runs code that ends in machine.reset(), and waits for the board to come back. */
async function runUntilReset(target: { board: VirtualEsp32; client: ReplClient }, code: string): Promise<void> {
  const boots = target.board.boots;
  await target.client.startProgram(code);
  while (target.board.boots === boots || target.board.state === 'booting') await new Promise((resolve) => setTimeout(resolve, 10));
  await target.board.idle();
  await target.client.enterRawRepl();
}

const running = async (client: ReplClient) =>
  client.evalJson<string>("__import__('esp32').Partition(__import__('esp32').Partition.RUNNING).info()[4]");

describe('virtual ESP32: OTA with unmodified MicroPython code', () => {
  const newFirmware = buildGeneratedFirmware({ version: 'v1.99.0', buildDate: '2026-01-02', size: 0x30000, seed: 7 });

  it('boots the new image after set_boot() + machine.reset(), and rolls back on the next reset when not confirmed', async () => {
    const target = await board();
    assert.equal(await running(target.client), 'ota_0');
    target.board.writeFile('firmware.bin', newFirmware);
    await runUntilReset(target, OTA_SCRIPT);
    assert.equal(target.board.booted?.partition.label, 'ota_1');
    assert.equal(await running(target.client), 'ota_1');
    assert.match(await target.client.evalJson<string>('__import__("sys").version'), /MicroPython v1\.99\.0 on 2026-01-02/);
    await runUntilReset(target, 'import machine\nmachine.reset()');
    assert.equal(target.board.booted?.partition.label, 'ota_0', 'unconfirmed image rolled back');
    assert.equal(await running(target.client), 'ota_0');
  });

  it('keeps the new image once the app calls mark_app_valid_cancel_rollback()', async () => {
    const target = await board();
    target.board.writeFile('firmware.bin', newFirmware);
    await runUntilReset(target, OTA_SCRIPT);
    await target.client.exec('import esp32\nesp32.Partition.mark_app_valid_cancel_rollback()');
    await runUntilReset(target, 'import machine\nmachine.reset()');
    assert.equal(target.board.booted?.partition.label, 'ota_1');
    await runUntilReset(target, 'import machine\nmachine.reset()');
    assert.equal(await running(target.client), 'ota_1');
  });

  it('set_boot() on a corrupted image raises the real OSError and leaves the boot partition alone', async () => {
    const target = await board();
    const corrupt = newFirmware.slice();
    corrupt[0x8000]! ^= 0x55;
    target.board.writeFile('firmware.bin', corrupt);
    const otadataBefore = parseOtadata(target.board.flash.read(0xd000, 0x2000));
    const error = await target.client
      .exec(OTA_SCRIPT)
      .then(() => undefined)
      .catch((caught: unknown) => caught);
    assert.ok(error instanceof DeviceError, `expected a DeviceError, got ${String(error)}`);
    const line = OTA_SCRIPT.split('\n').indexOf('target.set_boot()') + 1;
    assert.equal(error.traceback, `Traceback (most recent call last):\n  File "<stdin>", line ${line}, in <module>\nOSError: (-5379, 'ESP_ERR_OTA_VALIDATE_FAILED')\n`);
    assert.deepEqual(parseOtadata(target.board.flash.read(0xd000, 0x2000)), otadataBefore);
    assert.equal(await target.client.evalJson<string>("__import__('esp32').Partition(__import__('esp32').Partition.BOOT).info()[4]"), 'ota_0');
  });
});

describe('virtual ESP32: a board like a real one', () => {
  it('reports the booted firmware as sys.version, sys.platform and os.uname()', async () => {
    const { client } = await board({ firmware: buildGeneratedFirmware({ version: 'v1.23.0', buildDate: '2024-06-02' }) });
    assert.equal(await client.evalJson<string>('__import__("sys").platform'), 'esp32');
    assert.equal(await client.evalJson<string>('__import__("sys").implementation._machine'), 'Generic ESP32 module with ESP32');
    assert.match(await client.evalJson<string>('__import__("os").uname().version'), /^v1\.23\.0 on 2024-06-02/);
  });

  it('keeps files in the vfs partition across machine.reset() and a power cycle', async () => {
    const target = await board();
    await target.client.exec("f = open('main.py', 'w')\nf.write('state = 42\\n')\nf.close()");
    await runUntilReset(target, 'import machine\nmachine.reset()');
    assert.deepEqual(await target.client.evalJson<string[]>('__import__("os").listdir("/")'), ['boot.py', 'main.py'], "main.py next to inisetup.py's boot.py");
    await target.board.stop();
    const again = await board({ flash: target.board.flash.shared });
    assert.equal(text(again.board.readFile('main.py')!), 'state = 42\n');
  });

  it('numbers filesystem errors as an ESP32 does (ENOENT 2, EEXIST 17), as mpremote expects', async () => {
    const { client } = await board();
    const error = await client.exec("open('missing.txt')").catch((caught: unknown) => caught);
    assert.ok(error instanceof DeviceError);
    assert.equal(error.message, 'OSError: [Errno 2] ENOENT');
    await client.exec("import os\nos.mkdir('lib')");
    const exists = await client.exec("os.mkdir('lib')").catch((caught: unknown) => caught);
    assert.ok(exists instanceof DeviceError);
    assert.equal(exists.message, 'OSError: [Errno 17] EEXIST');
    assert.equal(await client.evalJson<number>("__import__('os').stat('lib')[0]"), 0x4000);
    await client.exec("with open('lib/x.py', 'w') as f: f.write('12345')");
    assert.deepEqual(await client.evalJson<unknown[]>("list(__import__('os').ilistdir('lib'))"), [['x.py', 0x8000, 0, 5]]);
    const missing = await client.exec("os.ilistdir('nowhere')").catch((caught: unknown) => caught);
    assert.ok(missing instanceof DeviceError);
    assert.equal(missing.message, 'OSError: [Errno 2] ENOENT');
  });

  it('interrupts a busy loop on Ctrl-C, as a board does', async () => {
    const target = await board();
    const program = await target.client.startProgram('while True:\n    pass\n');
    await new Promise((resolve) => setTimeout(resolve, 100));
    await target.link.write(Uint8Array.of(0x03));
    const result = await program.finish().then(() => undefined, (error: unknown) => error);
    assert.ok(result instanceof DeviceError);
    assert.match(result.traceback, /KeyboardInterrupt/);
  });

  it('speaks the raw REPL byte for byte over TCP, including soft reset and raw-paste', async () => {
    const target = await bootedBoard();
    boards.push(target);
    const server = await serveUartOverTcp(target, 0);
    const socket = connect(server.port, '127.0.0.1');
    let received = Buffer.alloc(0);
    socket.on('data', (chunk) => (received = Buffer.concat([received, chunk])));
    const waitFor = async (expected: string) => {
      const deadline = Date.now() + 5000;
      while (!received.includes(expected, 0, 'latin1')) {
        if (Date.now() > deadline) assert.fail(`waited for ${JSON.stringify(expected)}, got ${JSON.stringify(received.toString('latin1'))}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const at = received.indexOf(expected, 0, 'latin1') + Buffer.byteLength(expected, 'latin1');
      const before = received.subarray(0, at).toString('latin1');
      received = received.subarray(at);
      return before;
    };
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('\r\x03');
    assert.equal(await waitFor('>>> \r\n>>> '), '\r\n>>> \r\n>>> ', 'CR and Ctrl-C at the prompt each give a fresh prompt');
    socket.write('\r\x01');
    assert.equal(await waitFor('raw REPL; CTRL-B to exit\r\n>'), '\r\n>>> \r\nraw REPL; CTRL-B to exit\r\n>');
    socket.write('\x04');
    assert.equal(await waitFor('raw REPL; CTRL-B to exit\r\n>'), 'OK\r\nMPY: soft reboot\r\nraw REPL; CTRL-B to exit\r\n>');
    socket.write('print(6 * 7)\x04');
    assert.equal(await waitFor('\x04>'), 'OK42\r\n\x04\x04>');
    socket.write('\x05A\x01');
    assert.equal(await waitFor('\x01'), 'R\x01');
    const windowBytes = await waitFor('\x01');
    assert.equal(windowBytes.length, 3, 'window size (2 bytes LE) and \\x01');
    socket.write('print("paste")\x04');
    assert.equal(await waitFor('\x04>'), '\x04paste\r\n\x04\x04>');
    socket.destroy();
    await server.close();
  });
});
