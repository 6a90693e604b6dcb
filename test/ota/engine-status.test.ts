import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OtaError, readStatus, resetBoard, rollback, type BoardLink } from '../../src/ota/engine.js';
import { ReplClient } from '../../src/repl/index.js';
import { buildGeneratedFirmware } from '../../src/device/virtual-firmware.js';
import type { VirtualEsp32 } from '../../src/device/virtual-esp32.js';
import { runCli } from '../helpers/run-cli.js';
import { bootedBoard } from '../helpers/virtual-board.js';

const boards: VirtualEsp32[] = [];
const folder = mkdtempSync(join(tmpdir(), 'esp32-ota-engine-'));
after(async () => {
  for (const board of boards) await board.stop();
  rmSync(folder, { recursive: true, force: true });
});

async function connected() {
  const board = await bootedBoard();
  boards.push(board);
  const transport = board.connect();
  const link: BoardLink = { transport, hardReset: () => board.reset('POWERON_RESET'), reconnect: async () => transport };
  const client = new ReplClient(transport);
  await client.enterRawRepl();
  return { board, link, client };
}

/** Writes a new firmware into ota_1 and sets it to boot, with esp32.Partition, without resetting. */
async function stageUpdate(board: VirtualEsp32, client: ReplClient): Promise<void> {
  board.writeFile('firmware.bin', buildGeneratedFirmware({ version: 'v1.99.0', buildDate: '2026-01-02', size: 0x20000, seed: 5 }));
  const script = readFileSync(new URL('../../../test/fixtures/device/ota_from_file.py', import.meta.url), 'utf8').replace('machine.reset()', '');
  await client.exec(script);
}

describe('OTA engine: status, reset and rollback on the virtual board', () => {
  it('reads a fresh board as ready, running ota_0, next update ota_1', async () => {
    const { client } = await connected();
    const status = await readStatus(client);
    assert.equal(status.running, 'ota_0');
    assert.equal(status.nextUpdate, 'ota_1');
    assert.equal(status.ready, true);
    assert.equal(status.filesystemPartition, 'vfs');
    assert.deepEqual(status.nextBoot, { partition: 'ota_0', reason: 'otadata[0] seq 1 selects ota_0', rollsBack: false });
    assert.equal(status.pendingVerify, false);
    assert.deepEqual(status.table.partitions.map((p) => p.label), ['ota_0', 'ota_1', 'nvs', 'otadata', 'phy_init', 'vfs']);
  });

  it('follows an update through set_boot, the first boot (pending verify), rollback cancel and force', async () => {
    const { board, link, client } = await connected();
    await stageUpdate(board, client);
    let status = await readStatus(client);
    assert.equal(status.bootPartition, 'ota_1');
    assert.equal(status.nextBoot?.partition, 'ota_1');

    let fresh = await resetBoard(link, client);
    status = await readStatus(fresh);
    assert.equal(status.running, 'ota_1');
    assert.equal(status.version, 'v1.99.0');
    assert.equal(status.pendingVerify, true);
    assert.deepEqual({ partition: status.nextBoot?.partition, rollsBack: status.nextBoot?.rollsBack }, { partition: 'ota_0', rollsBack: true });

    assert.deepEqual(await rollback(fresh, 'cancel'), { action: 'cancel', confirmed: true });
    status = await readStatus(fresh);
    assert.equal(status.pendingVerify, false);
    assert.equal(status.nextBoot?.partition, 'ota_1');

    assert.deepEqual(await rollback(fresh, 'force'), { action: 'force', boot: 'ota_0' });
    assert.equal((await readStatus(fresh)).nextBoot?.partition, 'ota_0');
    assert.deepEqual(await rollback(fresh, 'cancel-force'), { action: 'cancel-force', boot: 'ota_1' });
    fresh = await resetBoard(link, fresh);
    assert.equal((await readStatus(fresh)).running, 'ota_1');
  });

  it('refuses to force a rollback to a partition without valid firmware, and changes nothing', async () => {
    const { client } = await connected();
    await assert.rejects(rollback(client, 'force'), (error: unknown) => {
      assert.ok(error instanceof OtaError);
      assert.match(error.message, /'ota_1' holds no valid firmware/);
      return true;
    });
    assert.equal((await readStatus(client)).nextBoot?.partition, 'ota_0');
  });
});

describe('esp32-ota status / rollback / reset on sim:FILE', () => {
  it('creates the board on first use, keeps it in the file between commands, and reports refusals in one line', () => {
    const flash = join(folder, 'board.bin');
    const status = runCli(['status', '-d', `sim:${flash}`, '--json']);
    assert.equal(status.code, 0, status.stderr);
    const json = JSON.parse(status.stdout);
    assert.equal(json.running, 'ota_0');
    assert.equal(json.otadata.entries[0].state, 'VALID');
    const force = runCli(['rollback', 'force', '-d', `sim:${flash}`]);
    assert.equal(force.code, 1);
    assert.match(force.stderr, /^esp32-ota: error: 'ota_1' holds no valid firmware/);
    const reset = runCli(['reset', '-d', `sim:${flash}`]);
    assert.equal(reset.code, 0, reset.stderr);
    assert.match(reset.stdout, /has booted from partition 'ota_0'/);
  });

  it('says how to name a board when none is given', () => {
    const result = runCli(['status'], { env: { ESP32_OTA_DEVICE: '' } });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /no board given: use -d \/dev\/ttyUSB0 .* -d sim:board\.bin/);
  });
});
