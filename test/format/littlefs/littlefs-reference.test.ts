import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import {
  LittleFs, LittleFsError, buildLittleFsImage, memoryBlockDevice, readLittleFsTree, type LittleFsTreeEntry,
} from '../../../src/format/littlefs/index.js';
import { fetchDir } from '../../../src/format/littlefs/metadata.js';
import { ctzBlocks } from '../../../src/format/littlefs/ctz.js';
import { readLe32 } from '../../../src/format/littlefs/tag.js';
import { bytesOf } from './model.js';

/** dist/test/format/littlefs/ → repo root → ../shared/testdata/littlefs/ */
const DIR = fileURLToPath(new URL('../../../../../shared/testdata/littlefs/', import.meta.url));
const BLOCK = 4096;

function image(name: string): Uint8Array {
  const path = `${DIR}${name}`;
  assert.ok(existsSync(path), `reference image missing: ${path} (the shared testdata folder must sit next to the repo)`);
  return new Uint8Array(readFileSync(path));
}

/** The listing format of the reference .txt files. */
function describeTree(tree: LittleFsTreeEntry[], used: number): string[] {
  const lines = tree.map((e) => e.type === 'dir'
    ? `d ${e.path}`
    : `f ${e.data!.length} ${createHash('sha256').update(e.data!).digest('hex')} ${e.mtimeNs} ${e.path}`);
  return [...lines, `used ${used}/112 blocks`];
}

function expected(name: string): string[] {
  return readFileSync(`${DIR}${name}.txt`, 'utf8').trim().split('\n');
}

function usedBlocks(bytes: Uint8Array): number {
  return LittleFs.mount(memoryBlockDevice(bytes, BLOCK)).statvfs().blocksUsed;
}

/**
 * An independent count of used blocks, as lfs_fs_traverse counts them: both blocks of every pair on
 * the tail list, both again for every directory entry, and every block of every CTZ file.
 */
function traversalCount(bytes: Uint8Array): { count: number; distinct: Set<number> } {
  const reader = {
    blockCount: bytes.length / BLOCK,
    progSize: 32,
    readBlock: (b: number) => bytes.slice(b * BLOCK, (b + 1) * BLOCK),
  };
  let count = 0;
  const distinct = new Set<number>();
  const visit = (b: number) => {
    count++;
    distinct.add(b);
  };
  let tail: number[] = [0, 1];
  while (tail[0] !== 0xffffffff) {
    tail.forEach(visit);
    const dir = fetchDir(reader, tail)!;
    for (const e of dir.entries) {
      if (e.structType === 0x202) {
        ctzBlocks((block) => readLe32(bytes, block * BLOCK), readLe32(e.struct, 0), readLe32(e.struct, 4), BLOCK).forEach(visit);
      } else if (e.structType === 0x200) {
        visit(readLe32(e.struct, 0));
        visit(readLe32(e.struct, 4));
      }
    }
    tail = dir.tail;
  }
  return { count, distinct };
}

describe('littlefs against images made by the reference C library (MicroPython ESP32 configuration)', () => {
  for (const name of ['vfs-448k-tree', 'vfs-448k-churned']) {
    it(`lists and reads every file of ${name}.bin as its .txt says (sizes, SHA-256, mtimes, used blocks)`, () => {
      const bytes = image(`${name}.bin`);
      assert.deepEqual(describeTree(readLittleFsTree(bytes), usedBlocks(bytes)), expected(name));
    });
  }

  it('formats a 0x70000-byte image byte-identical to vfs-448k-empty.bin', () => {
    const ours = new Uint8Array(0x70000).fill(0xff);
    LittleFs.format(memoryBlockDevice(ours, BLOCK));
    assert.ok(Buffer.from(ours).equals(Buffer.from(image('vfs-448k-empty.bin'))), 'format output differs from the reference');
    assert.equal(usedBlocks(ours), 2);
  });

  it('formats over old data (not erased beforehand) to the same filesystem', () => {
    const ours = image('vfs-448k-churned.bin');
    LittleFs.format(memoryBlockDevice(ours, BLOCK));
    assert.deepEqual(readLittleFsTree(ours), []);
  });

  for (const name of ['vfs-448k-tree', 'vfs-448k-churned']) {
    it(`writes into ${name}.bin keep every file readable, and used blocks agree with a traversal`, () => {
      const bytes = image(`${name}.bin`);
      const before = readLittleFsTree(bytes);
      const fs = LittleFs.mount(memoryBlockDevice(bytes, BLOCK));
      fs.writeFile('/boot.py', bytesOf(1, 300), { mtimeNs: 1_800_000_000_000_000_000n });
      fs.mkdir('/new');
      fs.writeFile('/new/big.bin', bytesOf(2, 30_000), { mtimeNs: 1_800_000_000_000_000_001n });
      fs.rename('/lib/ota/status.py', '/new/status.py');
      fs.remove('/empty.txt');
      const f = fs.open('/data/inline-127.bin', 'ab', { mtimeNs: 1_800_000_000_000_000_002n });
      f.write(bytesOf(3, 10));
      f.close();
      for (let i = 0; i < 150; i++) fs.writeFile(`/new/n${i % 7}`, bytesOf(100 + i, (i * 37) % 400), { mtimeNs: BigInt(i) });
      fs.unmount();

      const after = new Map(readLittleFsTree(bytes).map((e) => [e.path, e]));
      const old = new Map(before.map((e) => [e.path, e]));
      assert.deepEqual(after.get('/boot.py')!.data, bytesOf(1, 300));
      assert.equal(after.get('/boot.py')!.mtimeNs, 1_800_000_000_000_000_000n);
      assert.deepEqual(after.get('/new/big.bin')!.data, bytesOf(2, 30_000));
      assert.deepEqual(after.get('/new/status.py')!.data, old.get('/lib/ota/status.py')!.data);
      assert.equal(after.get('/new/status.py')!.mtimeNs, old.get('/lib/ota/status.py')!.mtimeNs);
      assert.ok(!after.has('/lib/ota/status.py') && !after.has('/empty.txt'));
      const appended = after.get('/data/inline-127.bin')!.data!;
      assert.deepEqual(appended.subarray(0, 127), old.get('/data/inline-127.bin')!.data);
      assert.deepEqual(appended.subarray(127), bytesOf(3, 10));
      for (const [path, entry] of old) {
        if (['/boot.py', '/lib/ota/status.py', '/empty.txt', '/data/inline-127.bin'].includes(path)) continue;
        assert.deepEqual(after.get(path), entry, path);
      }
      for (let k = 0; k < 7; k++) {
        const i = 143 + k;
        assert.deepEqual(after.get(`/new/n${i % 7}`)!.data, bytesOf(100 + i, (i * 37) % 400));
      }

      const { count, distinct } = traversalCount(bytes);
      assert.equal(usedBlocks(bytes), count);
      assert.ok(distinct.size <= 112 && count > distinct.size, 'directory pairs count twice, as lfs_fs_traverse does');
    });
  }

  it('builds an image from a tree (readLittleFsTree → buildLittleFsImage) that reads back the same', () => {
    const tree = readLittleFsTree(image('vfs-448k-tree.bin'));
    const built = buildLittleFsImage(0x70000, tree);
    assert.deepEqual(readLittleFsTree(built), tree);
    assert.equal(usedBlocks(built), 81);
  });

  it('refuses to build an image whose files do not fit (ENOSPC)', () => {
    assert.throws(() => buildLittleFsImage(0x10000, [{ path: '/big', type: 'file', data: new Uint8Array(70_000) }]), { errno: 28 });
  });

  it('refuses to mount what is not littlefs, saying so', () => {
    assert.throws(() => readLittleFsTree(new Uint8Array(0x10000).fill(0xff)), { errno: 22, message: /no littlefs found/ });
    assert.throws(() => readLittleFsTree(image('vfs-448k-tree.bin'), { blockSize: 512, cacheSize: 128 }), { errno: 22 });
  });
});

describe('littlefs on damaged images', () => {
  it('reads a damaged image or refuses it with a LittleFsError, never another error', () => {
    const original = image('vfs-448k-churned.bin');
    fc.assert(fc.property(
      fc.array(fc.record({ at: fc.nat({ max: original.length - 1 }), value: fc.nat({ max: 255 }) }), { minLength: 1, maxLength: 40 }),
      fc.boolean(),
      (flips, metadataOnly) => {
        const bytes = original.slice();
        for (const { at, value } of flips) bytes[metadataOnly ? at % (2 * BLOCK) : at] = value;
        try {
          readLittleFsTree(bytes);
          LittleFs.mount(memoryBlockDevice(bytes, BLOCK)).statvfs();
        } catch (err) {
          assert.ok(err instanceof LittleFsError, `not a LittleFsError: ${(err as Error).stack}`);
        }
      },
    ), { numRuns: 150 });
  });
});
