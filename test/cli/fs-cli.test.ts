/**
 * esp32-ota fs: the same commands on a bare littlefs image, on the vfs
 * partition of a flash dump (and a combined image), and on a board; refusals
 * change no file; files put into a dump appear on the board booted from it.
 */
import { strict as assert } from 'node:assert';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { defaultPartitionTable } from '../../src/device/virtual-firmware.js';
import { readLittleFsTree } from '../../src/format/littlefs/index.js';
import { findPartition } from '../../src/format/partition-table.js';
import { freshFlash } from '../../src/node/virtual-board.js';
import { ReplClient } from '../../src/repl/index.js';
import { runCli } from '../helpers/run-cli.js';
import { bootedBoard } from '../helpers/virtual-board.js';

const vfs = findPartition(defaultPartitionTable(), 'vfs')!;
const text = (value: string) => new TextEncoder().encode(value);

describe('esp32-ota fs', () => {
  let folder: string;
  before(async () => {
    folder = await mkdtemp(join(tmpdir(), 'esp32-ota-fs-'));
  });
  after(() => rm(folder, { recursive: true, force: true }));

  it('makes an image, puts, lists, moves, removes, and reports df, on a bare image file', async () => {
    const image = join(folder, 'vfs.bin');
    assert.equal(runCli(['fs', 'mkfs', image]).code, 0);
    assert.equal((await readFile(image)).length, 0x70000);
    await writeFile(join(folder, 'main.py'), 'print("hi")\n');
    assert.equal(runCli(['fs', 'mkdir', image, '/lib']).code, 0);
    const put = runCli(['fs', 'put', image, join(folder, 'main.py'), '/lib']);
    assert.equal(put.code, 0, put.stderr);
    assert.equal(runCli(['fs', 'cat', image, '/lib/main.py']).stdout, 'print("hi")\n');
    const listing = JSON.parse(runCli(['fs', 'ls', '-r', image, '--json']).stdout) as { path: string; type: string; size: number }[];
    assert.deepEqual(listing.map((e) => [e.path, e.type, e.size]), [['/lib', 'dir', 0], ['/lib/main.py', 'file', 12]]);
    assert.equal(runCli(['fs', 'mv', image, '/lib/main.py', '/main.py']).code, 0);
    assert.match(runCli(['fs', 'tree', image]).stdout, /├── lib\/\n└── main.py\n/);
    const df = JSON.parse(runCli(['fs', 'df', image, '--json']).stdout) as { blockCount: number; blocksUsed: number };
    assert.equal(df.blockCount, 112);
    assert.ok(df.blocksUsed >= 2 && df.blocksUsed < 10);
    const tree = readLittleFsTree(new Uint8Array(await readFile(image)));
    assert.deepEqual(tree.map((e) => e.path), ['/lib', '/main.py']);
    assert.equal(runCli(['fs', 'rm', '-r', image, '/lib']).code, 0);
    assert.deepEqual(readLittleFsTree(new Uint8Array(await readFile(image))).map((e) => e.path), ['/main.py']);
  });

  it('refuses with a message and changes no file', async () => {
    const image = join(folder, 'refuse.bin');
    assert.equal(runCli(['fs', 'mkfs', image, '--size', '0x10000']).code, 0);
    await writeFile(join(folder, 'big.bin'), new Uint8Array(0x20000));
    const before = await readFile(image);
    const cases: [string[], RegExp][] = [
      [['fs', 'put', image, join(folder, 'big.bin')], /no space/],
      [['fs', 'rm', image, '/missing'], /\/missing: no such file or directory/],
      [['fs', 'cat', image, '/'], /is a directory|EISDIR|directory/],
      [['fs', 'mkfs', join(folder, 'x.bin'), '--size', '1000'], /multiple of 4096/],
      [['fs', 'ls', image, '-p', 'vfs'], /no partition table/],
      [['fs', 'ls', join(folder, 'main.py')], /no littlefs/],
    ];
    for (const [args, message] of cases) {
      const result = runCli(args);
      assert.equal(result.code, 1, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
    }
    assert.deepEqual(await readFile(image), before);
    await writeFile(join(folder, 'x.py'), 'x');
    assert.equal(runCli(['fs', 'put', image, join(folder, 'x.py')]).code, 0);
    const withFile = await readFile(image);
    for (const args of [['fs', 'mkfs', image], ['fs', 'mkfs', image, '--size', '0x20000']]) {
      const refused = runCli(args);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /holds a filesystem with 1 entry: add --force/);
    }
    assert.deepEqual(await readFile(image), withFile);
    assert.equal(runCli(['fs', 'mkfs', image, '--force']).code, 0);
    assert.deepEqual(readLittleFsTree(new Uint8Array(await readFile(image))), []);
  });

  it('exports and imports whole trees', async () => {
    const source = join(folder, 'tree');
    await mkdir(join(source, 'lib', 'deep'), { recursive: true });
    await writeFile(join(source, 'boot.py'), '# boot\n');
    await writeFile(join(source, 'lib', 'deep', 'm.py'), 'm = 2\n');
    const image = join(folder, 'tree.bin');
    runCli(['fs', 'mkfs', image]);
    assert.equal(runCli(['fs', 'import', image, source]).code, 0);
    const out = join(folder, 'out');
    assert.equal(runCli(['fs', 'export', image, out]).code, 0);
    assert.equal(await readFile(join(out, 'lib', 'deep', 'm.py'), 'utf8'), 'm = 2\n');
    assert.equal(runCli(['fs', 'export', image, out]).code, 1, 'a folder that is not empty is refused');
  });

  it('puts files into the vfs partition of a dump, and the board booted from the dump has them', async () => {
    const dump = join(folder, 'dump.bin');
    const original = new Uint8Array(freshFlash().memory).slice();
    await writeFile(dump, original);
    const refused = runCli(['fs', 'ls', dump]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /no littlefs.*mkfs/);
    assert.equal(runCli(['fs', 'mkfs', dump]).code, 0);
    await writeFile(join(folder, 'main.py'), 'print("from the dump")\n');
    assert.equal(runCli(['fs', 'put', dump, join(folder, 'main.py')]).code, 0);
    const other = (await readFile(dump)).subarray(0, vfs.offset);
    assert.ok(Buffer.from(other).equals(Buffer.from(original.subarray(0, vfs.offset))), 'nothing outside the partition changed');

    const bytes = await readFile(dump);
    const flash = freshFlash();
    new Uint8Array(flash.memory).set(bytes);
    const board = await bootedBoard({ flash });
    try {
      const client = new ReplClient(board.connect());
      await client.enterRawRepl();
      assert.deepEqual(await client.evalJson("sorted(__import__('os').listdir('/'))"), ['main.py']);
      assert.equal(new TextDecoder().decode(await client.exec("exec(open('main.py').read())")), 'from the dump\r\n');
    } finally {
      await board.stop();
    }
  });

  it('works on a board with -d, putting through the transfer agent', async () => {
    const flashFile = join(folder, 'board.bin');
    await writeFile(join(folder, 'data.txt'), text('0123456789\n'.repeat(5000)));
    const put = runCli(['fs', 'put', '-d', `sim:${flashFile}`, join(folder, 'data.txt'), '/data.txt', '--json']);
    assert.equal(put.code, 0, put.stderr);
    const listing = runCli(['fs', 'ls', '-d', `sim:${flashFile}`]);
    assert.match(listing.stdout, /55,000 .* data\.txt/);
    const got = join(folder, 'got.txt');
    assert.equal(runCli(['fs', 'get', '-d', `sim:${flashFile}`, '/data.txt', got]).code, 0);
    assert.equal(await readFile(got, 'utf8'), '0123456789\n'.repeat(5000));
    const viaImage = runCli(['fs', 'cat', flashFile, '/data.txt']);
    assert.equal(viaImage.stdout.length, 55_000, 'the saved flash file holds the file in its vfs partition');
  });
});
