import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LittleFs, MTIME_ATTR, memoryBlockDevice, type LittleFsBlockDevice, type LittleFsConfig } from '../../../src/format/littlefs/index.js';
import { bytesOf } from './model.js';

const SMALL: Partial<LittleFsConfig> = { blockSize: 512, readSize: 16, progSize: 16, cacheSize: 64, lookaheadSize: 8, blockCycles: 5 };

function fresh(blockCount: number, config: Partial<LittleFsConfig> = {}): { fs: LittleFs; device: LittleFsBlockDevice; erases: number[] } {
  const blockSize = config.blockSize ?? 4096;
  const inner = memoryBlockDevice(new Uint8Array(blockCount * blockSize).fill(0xff), blockSize);
  const erases = new Array<number>(blockCount).fill(0);
  const device: LittleFsBlockDevice = {
    blockCount,
    read: (b, o, into) => inner.read(b, o, into),
    prog: (b, o, data) => inner.prog(b, o, data),
    erase: (b) => {
      erases[b]!++;
      inner.erase(b);
    },
    sync: () => {},
  };
  LittleFs.format(device, config);
  return { fs: LittleFs.mount(device, config), device, erases };
}

describe('littlefs files', () => {
  it('open modes behave as Python\'s open on a board (errno values)', () => {
    const { fs } = fresh(16);
    assert.throws(() => fs.open('/missing', 'r'), { errno: 2 });
    fs.writeFile('/f', bytesOf(1, 10));
    assert.throws(() => fs.open('/f', 'x'), { errno: 17 });
    assert.throws(() => fs.open('/', 'w'), { errno: 21 });
    assert.throws(() => fs.open('/f', 'q'), { errno: 22 });
    const r = fs.open('/f', 'rb');
    assert.throws(() => r.write(new Uint8Array(1)), { errno: 9 });
    r.close();
    assert.throws(() => r.read(new Uint8Array(1)), { errno: 9 });
    const w = fs.open('/f', 'wb');
    assert.throws(() => w.read(new Uint8Array(1)), { errno: 9 });
    w.close();
    assert.equal(fs.stat('/f').size, 0, "'w' truncates");
    assert.throws(() => fs.mkdir('/f/g'), { errno: 20 });
    assert.throws(() => fs.readFile('/'), { errno: 21 });
    assert.throws(() => fs.writeFile('/' + 'n'.repeat(256), new Uint8Array(1)), { errno: 36 });
  });

  it('reads, seeks, overwrites in the middle, appends and truncates CTZ and inline files', () => {
    const { fs, device } = fresh(32);
    const content = bytesOf(2, 20_000);
    fs.writeFile('/big', content);
    const f = fs.open('/big', 'r+b');
    assert.equal(f.size(), 20_000);
    assert.equal(f.seek(9000, 0), 9000);
    f.write(bytesOf(3, 5000));
    content.set(bytesOf(3, 5000), 9000);
    assert.equal(f.tell(), 14_000);
    f.seek(-100, 2);
    const tail = new Uint8Array(200);
    assert.equal(f.read(tail), 100);
    assert.deepEqual(tail.subarray(0, 100), content.subarray(19_900));
    f.close();
    assert.deepEqual(fs.readFile('/big'), content);

    const a = fs.open('/big', 'ab');
    a.write(bytesOf(4, 3000));
    a.close();
    const grown = new Uint8Array(23_000);
    grown.set(content);
    grown.set(bytesOf(4, 3000), 20_000);
    assert.deepEqual(fs.readFile('/big'), grown);

    const t = fs.open('/big', 'r+b');
    t.truncate(5000);
    t.seek(7000, 0);
    t.write(new Uint8Array([1, 2, 3]));
    t.close();
    const expected = new Uint8Array(7003);
    expected.set(grown.subarray(0, 5000));
    expected.set([1, 2, 3], 7000);
    assert.deepEqual(fs.readFile('/big'), expected, 'a gap after a seek past the end reads as zeros');

    const s = fs.open('/big', 'r+b');
    s.truncate(50);
    s.close();
    assert.deepEqual(fs.readFile('/big'), expected.subarray(0, 50));
    fs.unmount();
    const again = LittleFs.mount(device);
    assert.deepEqual(again.readFile('/big'), expected.subarray(0, 50));
    assert.equal(again.statvfs().blocksUsed, 2, 'a file shrunk to 50 bytes is inline again: no data blocks');
  });

  it('raises ENOSPC at the write that needs a block, and keeps the old content', () => {
    const { fs } = fresh(12);
    fs.writeFile('/keep', bytesOf(5, 8000));
    const f = fs.open('/keep', 'wb');
    let written = 0;
    assert.throws(() => {
      for (;;) written += f.write(bytesOf(written, 4096));
    }, { errno: 28 });
    assert.ok(written >= 4096 && written < 12 * 4096, `refused after ${written} bytes, before close`);
    assert.deepEqual(fs.readFile('/keep'), bytesOf(5, 8000), 'nothing is visible before close');
    f.close();
    assert.equal(fs.stat('/keep').size, written, 'close commits what the writes accepted');
    assert.throws(() => fs.writeFile('/more', new Uint8Array(40_000)), { errno: 28 });
    assert.throws(() => fs.stat('/more'), { errno: 2 }, 'a refused writeFile leaves no entry');
  });

  it('keeps MicroPython\'s mtime (attribute 1, u64 LE ns) and other attributes', () => {
    const { fs } = fresh(16);
    const before = BigInt(Date.now()) * 1_000_000n;
    fs.writeFile('/m', bytesOf(6, 10));
    const mtime = fs.stat('/m').mtimeNs!;
    assert.ok(mtime >= before && mtime <= BigInt(Date.now()) * 1_000_000n);
    assert.deepEqual(fs.getattr('/m', MTIME_ATTR), new Uint8Array(new BigUint64Array([mtime]).buffer));
    fs.setattr('/m', 7, new Uint8Array([1, 2, 3]));
    assert.deepEqual(fs.getattr('/m', 7), new Uint8Array([1, 2, 3]));
    assert.equal(fs.getattr('/m', 8), undefined);
    const f = fs.open('/m', 'ab', { mtimeNs: 42n });
    f.close();
    assert.equal(fs.stat('/m').mtimeNs, 42n, 'opening for writing stamps the mtime, as VfsLfs2 does');
  });

  it('splits a directory of many entries over several metadata pairs, and drops them again', () => {
    const { fs } = fresh(64);
    const names = Array.from({ length: 120 }, (_, i) => `file-${String(i).padStart(3, '0')}.py`);
    fs.mkdir('/lib');
    for (const name of names) fs.writeFile(`/lib/${name}`, bytesOf(names.indexOf(name), 30));
    assert.deepEqual(fs.readdir('/lib').map((s) => s.name).sort(), names);
    const used = fs.statvfs().blocksUsed;
    assert.ok(used >= 2 + 2 * 2 + 2, `120 entries need more than one pair (used ${used})`);
    for (const name of names) assert.deepEqual(fs.readFile(`/lib/${name}`), bytesOf(names.indexOf(name), 30));
    for (const name of names) fs.remove(`/lib/${name}`);
    fs.remove('/lib');
    assert.equal(fs.statvfs().blocksUsed, 2, 'every pair is back on the free list');
  });

  it('spreads metadata wear: a pair is relocated after block_cycles erases', () => {
    const { fs, erases } = fresh(32, SMALL);
    fs.mkdir('/d');
    for (let i = 0; i < 1500; i++) fs.writeFile('/d/counter', bytesOf(i, 24));
    assert.deepEqual(fs.readFile('/d/counter'), bytesOf(1499, 24));
    const total = erases.reduce((a, b) => a + b, 0);
    const max = Math.max(...erases);
    assert.ok(total > 150, `many compactions (${total} erases)`);
    assert.ok(max < total / 4, `no block takes most erases (max ${max} of ${total}: ${erases.join(' ')})`);
  });
});

describe('littlefs superblock expansion', () => {
  it('moves the root out of blocks 0 and 1 when they wear, so they stop taking erases', () => {
    const { fs, device, erases } = fresh(64, SMALL);
    for (let i = 0; i < 1500; i++) fs.writeFile('/root-file', bytesOf(i, 20));
    const total = erases.reduce((a, b) => a + b, 0);
    assert.ok(erases[0]! + erases[1]! < total / 10, `blocks 0 and 1 took ${erases[0]} + ${erases[1]} of ${total} erases`);
    fs.unmount();
    assert.deepEqual(LittleFs.mount(device, SMALL).readFile('/root-file'), bytesOf(1499, 20));
  });
});

describe('littlefs on-disk version 2.0', () => {
  it('mounts a 2.0 filesystem (no FCRCs), and upgrades it to 2.1 at the first write, as littlefs does', () => {
    const image = new Uint8Array(16 * 4096).fill(0xff);
    const device = memoryBlockDevice(image, 4096);
    LittleFs.format(device, {}, { diskVersion: 0x00020000 });
    assert.ok(!Buffer.from(image.subarray(0, 4096)).includes(Buffer.from([0x5f, 0xf0])), 'no FCRC tag in a 2.0 commit');
    const fs = LittleFs.mount(device);
    assert.equal(fs.diskVersion, 0x00020000);
    assert.deepEqual(fs.readdir('/'), []);
    fs.writeFile('/a', bytesOf(1, 50));
    fs.unmount();
    const again = LittleFs.mount(device);
    assert.equal(again.diskVersion, 0x00020001);
    assert.deepEqual(again.readFile('/a'), bytesOf(1, 50));
  });
});
