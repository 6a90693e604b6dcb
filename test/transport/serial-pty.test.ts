/**
 * The real serialport binding on a port without modem lines: a pty that socat
 * bridges to the virtual board's UART on TCP (as Espressif's QEMU, ser2net,
 * Bluetooth serial and some USB-CDC stacks are). Setting DTR/RTS fails there
 * ("Inappropriate ioctl for device"): status, update and reset must go on
 * without the lines, and reset through machine.reset().
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { VirtualEsp32 } from '../../src/device/virtual-esp32.js';
import { buildGeneratedFirmware } from '../../src/device/virtual-firmware.js';
import { serveUartOverTcp, type ListeningServer } from '../../src/node/sim-servers.js';
import { bootedBoard } from '../helpers/virtual-board.js';
import { runCliInProcess } from '../helpers/run-cli.js';

describe('a serial port without DTR/RTS (a pty from socat in front of the virtual board)', () => {
  let dir: string;
  let board: VirtualEsp32;
  let server: ListeningServer;
  let socat: ChildProcess;
  let pty: string;

  before(async () => {
    assert.equal(spawnSync('socat', ['-V']).status, 0, 'socat is not installed: .ci/run installs it (apt-get install -y socat)');
    dir = mkdtempSync(join(tmpdir(), 'esp32-ota-pty-'));
    pty = join(dir, 'ttyV0');
    board = await bootedBoard();
    server = await serveUartOverTcp(board, 0);
    socat = spawn('socat', [`PTY,link=${pty},raw,echo=0`, `TCP:127.0.0.1:${server.port}`], { stdio: 'ignore' });
    const deadline = Date.now() + 5000;
    while (!existsSync(pty)) {
      assert.ok(Date.now() < deadline, 'socat made no pty within 5 s');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });

  after(async () => {
    socat?.kill();
    await server?.close();
    await board?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('status works, and --verbose says the lines are missing', async () => {
    const result = await runCliInProcess(['status', '-d', `serial:${pty}`, '--verbose']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /has booted from partition 'ota_0'/);
    assert.match(result.stderr, /has no DTR\/RTS lines to set .*going on without them/);
  });

  it('update writes, resets through machine.reset() and confirms', async () => {
    const app = join(dir, 'app.bin');
    writeFileSync(app, buildGeneratedFirmware({ version: 'v1.28.0', buildDate: '2025-01-01', seed: 5, content: 'app-like' }));
    const result = await runCliInProcess(['update', app, '-d', `serial:${pty}`, '--confirm'], { timeoutMs: 60_000 });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /MicroPython v1\.28\.0 runs from 'ota_1' and is confirmed/);
    assert.equal(board.booted?.partition.label, 'ota_1');
  });

  it('reset reboots the board and shows what it booted', async () => {
    const boots = board.boots;
    const result = await runCliInProcess(['reset', '-d', `serial:${pty}`]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /has booted from partition 'ota_1'/);
    assert.equal(board.boots, boots + 1);
  });
});
