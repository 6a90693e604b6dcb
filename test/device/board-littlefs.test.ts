/**
 * The virtual board's / is littlefs in the vfs partition: real mpremote
 * copies into it, a full filesystem raises ENOSPC at once, the files are in
 * the flash (readable by esp32-ota fs), and statvfs tells the truth.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { VirtualEsp32 } from '../../src/device/virtual-esp32.js';
import { readLittleFsTree } from '../../src/format/littlefs/index.js';
import { defaultPartitionTable } from '../../src/device/virtual-firmware.js';
import { findPartition } from '../../src/format/partition-table.js';
import { serveUartOverTcp } from '../../src/node/sim-servers.js';
import { freshFlash } from '../../src/node/virtual-board.js';
import { ReplClient } from '../../src/repl/index.js';
import { bootedBoard, poweredOff } from '../helpers/virtual-board.js';

const TOOLS = fileURLToPath(new URL('../../../../shared/tools/micropython', import.meta.url));
/** Debian's python3, where the test set-up installs python3-serial (.ci/run). */
const PYTHON = '/usr/bin/python3';

function mpremote(port: number, ...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile(PYTHON, ['-m', 'mpremote', 'connect', `socket://127.0.0.1:${port}`, ...args], { env: { ...process.env, PYTHONPATH: TOOLS }, timeout: 120_000 }, (error, stdout, stderr) =>
      resolve({ stdout, stderr, code: error ? ((error as { code?: number }).code ?? 1) : 0 }),
    );
  });
}

const vfs = findPartition(defaultPartitionTable(), 'vfs')!;

describe("the virtual board's / on littlefs", () => {
  const boards: VirtualEsp32[] = [];
  after(async () => {
    for (const board of boards) await board.stop();
  });

  it('formats a blank vfs at first boot and writes the boot.py of inisetup.py', async () => {
    const board = await bootedBoard();
    boards.push(board);
    const client = new ReplClient(board.connect());
    await client.enterRawRepl();
    assert.deepEqual(await client.evalJson("__import__('os').listdir('/')"), ['boot.py']);
    const tree = readLittleFsTree(board.flash.read(vfs.offset, vfs.size));
    assert.deepEqual(tree.map((e) => e.path), ['/boot.py']);
    assert.match(new TextDecoder().decode(tree[0]!.data), /^# This file is executed on every boot/);
    const [bsize, , blocks, bfree] = await client.evalJson<number[]>("__import__('os').statvfs('/')");
    assert.equal(bsize, 4096);
    assert.equal(blocks, vfs.size / 4096);
    assert.ok(bfree! > blocks! - 4 && bfree! < blocks!, `free blocks ${bfree} of ${blocks}`);
  });

  it('mpremote fs cp of a 400 KiB file succeeds; one too big for the rest raises ENOSPC at once', async () => {
    const board = await bootedBoard();
    boards.push(board);
    const server = await serveUartOverTcp(board, 0);
    const folder = await mkdtemp(join(tmpdir(), 'esp32-ota-lfs-'));
    try {
      const data = new Uint8Array(400 * 1024).map((_, i) => (i * 31 + (i >> 10)) & 0xff);
      await writeFile(join(folder, 'big.bin'), data);
      const copy = await mpremote(server.port, 'fs', 'cp', join(folder, 'big.bin'), ':big.bin');
      assert.equal(copy.code, 0, copy.stderr + copy.stdout);
      const tree = readLittleFsTree(board.flash.read(vfs.offset, vfs.size));
      assert.deepEqual(tree.find((e) => e.path === '/big.bin')?.data, data);

      const started = performance.now();
      const tooBig = await mpremote(server.port, 'fs', 'cp', join(folder, 'big.bin'), ':again.bin');
      const seconds = (performance.now() - started) / 1000;
      assert.notEqual(tooBig.code, 0);
      assert.match(tooBig.stderr + tooBig.stdout, /No space left on device|ENOSPC|Errno 28/);
      assert.ok(seconds < 60, `the refusal took ${seconds} s`);
      const client = new ReplClient(board.connect());
      await client.enterRawRepl();
      assert.equal(await client.evalJson("__import__('os').stat('big.bin')[6]"), data.length, 'the first file is intact');
    } finally {
      await server.close();
      await rm(folder, { recursive: true, force: true });
    }
  });
});

/**
 * What vfs_lfs_board.py prints: the VfsLfs2 parts of MicroPython's .exp files,
 * less what the adaptation leaves out. One line differs: os.ilistdir(b"/")
 * names are str, where VfsLfs2.ilistdir(b"/") gives bytes: for the root of
 * a VFS mounted at /, extmod/vfs.c passes the VFS the str "/".
 */
const VFS_TESTS_EXPECTED = `test vfs_lfs
[('test', 32768, 0, 8)]
[('test', 32768, 0, 8)]
[('test', 32768, 0, 8)]
[('testdir', 16384, 0, 0), ('test', 32768, 0, 8)]
[]
[('test', 32768, 0, 8)]
(32768, 0, 0, 0, 0, 0, 8)
(16384, 0, 0, 0, 0, 0)
littlefs
data length: 4096
write 0
write 1
write 2
write 3
[('test', 32768, 0, 8), ('testbig2', 32768, 0, 16384), ('testdir', 16384, 0, 0)]
[('testbig2', 32768, 0, 16384)]
[('test', 32768, 0, 8), ('testbig2', 32768, 0, 16384), ('testdir', 16384, 0, 0)]
[('test', 32768, 0, 8), ('testdir', 16384, 0, 0)]
/
/testdir
(32768, 0, 0, 0, 0, 0, 0)
(32768, 0, 0, 0, 0, 0, 0)
/
/testdir
/
/testdir/subdir
/
/testdir2
/testdir
/
/testdir
/testdir/subdir
/
test vfs_lfs_error
ilistdir OSError
remove OSError
rmdir OSError
rename OSError
mkdir OSError
chdir OSError
/
chdir OSError
/
stat OSError
seek OSError
test vfs_lfs_file
<io.TextIOWrapper>
<io.FileIO>
open OSError
littlefs
littlefs
b'littlefsmore'
b'littlefs'
b'littlefsMORE'
0
3
open OSError
littlefs
b'littlefsMORE'
`;

describe("MicroPython's own littlefs VFS tests, on the virtual board's /", () => {
  it('print what they print on VfsLfs2 (tests/extmod/vfs_lfs*.py, adapted to /)', async () => {
    const board = await bootedBoard();
    try {
      const client = new ReplClient(board.connect());
      await client.enterRawRepl();
      await client.exec("import os\nos.remove('boot.py')");
      const script = await readFile(fileURLToPath(new URL('../../../test/fixtures/device/vfs_lfs_board.py', import.meta.url)), 'utf8');
      const output = new TextDecoder().decode(await client.exec(script, { timeoutMs: 60_000 })).replace(/\r\n/g, '\n');
      assert.equal(output, VFS_TESTS_EXPECTED);
      assert.deepEqual(await client.evalJson("__import__('os').listdir('/')"), [], 'the tests cleaned up');
    } finally {
      await board.stop();
    }
  });
});

describe("a power cut while the virtual board's program writes files", () => {
  const before = 'A'.repeat(6000);
  const after = 'B'.repeat(6000);
  const added = 'C'.repeat(3000);
  // Replace a file, create another, rename it: every flash operation of this may be the last.
  const program = `with open('a.txt', 'w') as f: f.write(${JSON.stringify(after)})\nwith open('b.txt', 'w') as f: f.write(${JSON.stringify(added)})\nimport os\nos.rename('b.txt', 'c.txt')\n`;

  async function prepared(): Promise<{ snapshot: Uint8Array; operations: number }> {
    const board = await bootedBoard();
    try {
      board.writeFile('a.txt', new TextEncoder().encode(before));
      const client = new ReplClient(board.connect());
      await client.enterRawRepl();
      await client.exec('pass');
      const snapshot = board.flash.bytes.slice();
      const start = board.flash.stats().operations;
      await client.exec(program);
      return { snapshot, operations: board.flash.stats().operations - start };
    } finally {
      await board.stop();
    }
  }

  it('leaves a filesystem that mounts, with every file old or new, at any of its flash operations', async () => {
    const { snapshot, operations } = await prepared();
    assert.ok(operations > 10, `the program took ${operations} flash operations`);
    const cuts = [...new Set([0, 1, 2, ...Array.from({ length: 9 }, (_, i) => Math.floor(((i + 1) * operations) / 10)), operations - 1])];
    const outcomes = new Set<string>();
    for (const cut of cuts) {
      const flash = freshFlash();
      new Uint8Array(flash.memory).set(snapshot);
      const board = await bootedBoard({ flash });
      try {
        const client = new ReplClient(board.connect());
        await client.enterRawRepl();
        board.flash.cutPowerAfter(cut);
        await client.startProgram(program);
        await poweredOff(board);
        const output: Uint8Array[] = [];
        board.onOutput((bytes) => output.push(bytes));
        await board.powerOn();
        await board.idle();
        assert.doesNotMatch(Buffer.concat(output).toString('latin1'), /corrupted|Performing initial setup/, `cut ${cut}: the filesystem mounts as it is`);
        const again = new ReplClient(board.connect());
        await again.enterRawRepl();
        const files = await again.evalJson<Record<string, string>>("{n: open(n).read() for n in __import__('os').listdir('/') if n != 'boot.py'}");
        assert.ok(files['a.txt'] === before || files['a.txt'] === after, `cut ${cut}: a.txt is old or new`);
        // littlefs commits a new file's (empty) entry when it is opened, as on a board: b.txt may be empty.
        const extra = Object.keys(files).filter((name) => name !== 'a.txt');
        const whole = (name: string) => files[name] === added || (name === 'b.txt' && files[name] === '');
        assert.ok(extra.length <= 1 && extra.every((name) => (name === 'b.txt' || name === 'c.txt') && whole(name)), `cut ${cut}: ${extra.map((n) => `${n} of ${files[n]?.length}`).join(', ')}`);
        outcomes.add(`${files['a.txt'] === after ? 'new' : 'old'} a, ${extra[0] ? `${extra[0]} ${files[extra[0]] ? 'written' : 'empty'}` : 'no b/c'}`);
      } finally {
        await board.stop();
      }
    }
    assert.ok(outcomes.size >= 3, `the cuts landed at different stages: ${[...outcomes].join('; ')}`);
  });
});
