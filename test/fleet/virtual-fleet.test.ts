/**
 * The virtual fleet (src/node/virtual-fleet.ts) and `sim --fleet`'s options:
 * boards with their own id, flash and files, locked flash files, and mistakes
 * refused before any board starts.
 */
import { strict as assert } from 'node:assert';
import { after, describe, it } from 'node:test';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startFleetBroker } from '../../src/node/mqtt-broker.js';
import { observeFleet } from '../helpers/fleet-rehearsal.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VirtualFleet, fleetDeviceId, fleetMainPy } from '../../src/node/virtual-fleet.js';
import { bootedBoard } from '../helpers/virtual-board.js';
import { freshFlash, virtualBoard } from '../../src/node/virtual-board.js';
import type { VirtualEsp32 } from '../../src/device/virtual-esp32.js';
import { ReplClient } from '../../src/repl/index.js';
import { runCliInProcess } from '../helpers/run-cli.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const folder = mkdtempSync(join(tmpdir(), 'esp32-ota-fleet-'));
after(() => rmSync(folder, { recursive: true, force: true }));
const text = (bytes: Uint8Array | undefined) => (bytes ? new TextDecoder().decode(bytes) : undefined);

describe('VirtualFleet', () => {
  it('gives each board its own device id, flash and network, with the ota package and main.py written before the first boot', async () => {
    const fleet = await VirtualFleet.create({ size: 3, broker: 'mqtt://127.0.0.1:1883', fleet: 'lab', healthFailVersion: 'v1.23.0' });
    try {
      const ids = fleet.boards.map((board) => board.id);
      assert.equal(new Set(ids).size, 3);
      assert.deepEqual(ids, [0, 1, 2].map((index) => fleetDeviceId('lab', index)));
      assert.notEqual(fleetDeviceId('lab', 0), fleetDeviceId('other', 0), 'another fleet name gives other ids');
      assert.notEqual(fleet.boards[0]!.board.flash, fleet.boards[1]!.board.flash);
      assert.notEqual(fleet.boards[0]!.network, fleet.boards[1]!.network);
      for (const { board } of fleet.boards) {
        assert.equal(board.state, 'off');
        assert.equal(text(board.readFile('/main.py')), fleetMainPy({ broker: 'mqtt://127.0.0.1:1883', fleet: 'lab', healthFailVersion: 'v1.23.0' }));
        assert.match(text(board.readFile('/lib/ota/update.py'))!, /def from_json/);
      }
      assert.match(text(fleet.boards[0]!.board.readFile('/main.py'))!, /FAILING_VERSION = "v1\.23\.0"/);
    } finally {
      await fleet.close();
    }
  });

  it("machine.unique_id() is the board's device id", async () => {
    const board = await bootedBoard();
    const other = virtualBoard(freshFlash(), { uniqueId: fleetDeviceId('lab', 4) });
    try {
      await other.powerOn();
      await other.idle();
      const read = async (b: VirtualEsp32) => {
        const client = new ReplClient(b.connect());
        await client.enterRawRepl();
        return new TextDecoder().decode(await client.exec('import machine, binascii\nprint(binascii.hexlify(machine.unique_id()).decode())')).trim();
      };
      assert.equal(await read(other), fleetDeviceId('lab', 4));
      assert.notEqual(await read(board), fleetDeviceId('lab', 4));
    } finally {
      await board.stop();
      await other.stop();
    }
  });

  it('keeps one flash file per board in a flash folder, locked while the fleet runs', async () => {
    const dir = join(folder, 'flash');
    mkdirSync(dir);
    const fleet = await VirtualFleet.create({ size: 2, broker: 'mqtt://127.0.0.1:1883', fleet: 'lab', flashDir: dir });
    try {
      assert.deepEqual(fleet.boards.map((board) => board.flashFile), [join(dir, 'board-00.bin'), join(dir, 'board-01.bin')]);
      await assert.rejects(VirtualFleet.create({ size: 1, broker: 'mqtt://127.0.0.1:1883', fleet: 'lab', flashDir: dir }), /board-00\.bin is in use by another esp32-ota/);
      fleet.boards[1]!.board.writeFile('/kept.txt', new TextEncoder().encode('kept'));
    } finally {
      await fleet.close();
    }
    const again = await VirtualFleet.create({ size: 2, broker: 'mqtt://127.0.0.1:2883', fleet: 'lab', flashDir: dir });
    try {
      assert.equal(text(again.boards[1]!.board.readFile('/kept.txt')), 'kept', 'the flash file was saved and loaded again');
      assert.match(text(again.boards[1]!.board.readFile('/main.py'))!, /mqtt:\/\/127\.0\.0\.1:2883/, 'main.py follows the new settings');
    } finally {
      await again.close();
    }
  });
});

describe('esp32-ota sim --fleet', () => {
  it('runs the boards until Ctrl-C: they report to the broker under the ids it prints, and their flash files are saved', async () => {
    const broker = await startFleetBroker({ port: 0 });
    const observer = await observeFleet(broker.url, 'cli');
    const dir = join(folder, 'cli');
    mkdirSync(dir);
    const sim = spawn(process.execPath, [CLI, 'sim', '--fleet', '2', '--broker', broker.url, '--fleet-name', 'cli', '--flash-dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    sim.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    sim.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      await observer.waitFor('two statuses', (statuses) => statuses.size === 2, 60_000);
      const ids = [...output.matchAll(/^ +(\d) +([0-9a-f]{12}) +ota_0 0x10000 v1\.27\.0 +(\S+)$/gm)].map((match) => [match[1], match[2], match[3]]);
      assert.deepEqual(ids, [
        ['0', fleetDeviceId('cli', 0), join(dir, 'board-00.bin')],
        ['1', fleetDeviceId('cli', 1), join(dir, 'board-01.bin')],
      ], output);
      assert.deepEqual([...observer.statuses.keys()].sort(), [fleetDeviceId('cli', 0), fleetDeviceId('cli', 1)].sort());
      assert.match(output, new RegExp(`^\\[${fleetDeviceId('cli', 1)}\\] rst:0x1 \\(POWERON_RESET\\)`, 'm'), 'each board\'s lines carry its id');
    } finally {
      const exited = new Promise((resolve) => sim.once('exit', resolve));
      sim.kill('SIGINT');
      await exited;
      await observer.close();
      await broker.close();
    }
    assert.equal(sim.exitCode, 0, output);
    assert.match(output, /the fleet stopped; flash files saved in/);
    assert.deepEqual(readdirSync(dir).sort(), ['board-00.bin', 'board-01.bin'], 'saved, and the locks released');
  });
});

describe('esp32-ota sim --fleet options', () => {
  const notAFolder = join(folder, 'file');
  writeFileSync(notAFolder, '');
  for (const [args, message] of [
    [['--broker', 'mqtt://127.0.0.1:1883'], /--broker applies only with --fleet N/],
    [['--fleet', '2'], /--fleet needs --broker URL/],
    [['--fleet', '0', '--broker', 'mqtt://127.0.0.1:1883'], /--fleet must be a whole number, from 1 to 64; got '0'/],
    [['--fleet', '2', '--broker', 'http://127.0.0.1:1883'], /--broker: the boards speak MQTT \(mqtt:\/\/ or mqtts:\/\/\), not http:\/\//],
    [['--fleet', '2', '--broker', 'localhost'], /--broker wants a URL such as mqtt:\/\/127\.0\.0\.1:1883, not 'localhost'/],
    [['--fleet', '2', '--broker', 'mqtt://127.0.0.1:1883', '--fleet-name', 'a/b'], /--fleet-name: 'a\/b' has characters a topic name must not have/],
    [['--fleet', '2', '--broker', 'mqtt://127.0.0.1:1883', '--health-fail-version', 'new'], /--health-fail-version wants a firmware version/],
    [['--fleet', '2', '--broker', 'mqtt://127.0.0.1:1883', '--flash-dir', join(folder, 'nowhere')], /--flash-dir: the folder .* does not exist/],
    [['--fleet', '2', '--broker', 'mqtt://127.0.0.1:1883', '--flash-dir', notAFolder], /--flash-dir: .* is not a folder/],
    [['--fleet', '2', '--broker', 'mqtt://127.0.0.1:1883', '--tcp', '0'], /--tcp: not with --fleet/],
  ] as const) {
    it(`refuses ${args.join(' ')}`, async () => {
      const result = await runCliInProcess(['sim', ...args]);
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, message);
      assert.equal(result.stdout, '', 'no board was started');
    });
  }
});
