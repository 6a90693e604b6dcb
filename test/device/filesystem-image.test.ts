import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FilesystemStore, decodeFileTree, encodeFileTree, type PartitionAccess } from '../../src/device/board/filesystem-image.js';
import { NorFlash, PowerCutError, createSharedFlash } from '../../src/device/nor-flash.js';

const PARTITION_OFFSET = 0x10000;
const PARTITION_SIZE = 0x20000;

function partitionOn(flash: NorFlash): PartitionAccess {
  return {
    size: PARTITION_SIZE,
    read: (offset, length) => flash.read(PARTITION_OFFSET + offset, length),
    erase: (offset, length) => flash.erase(PARTITION_OFFSET + offset, length),
    program: (offset, data) => flash.program(PARTITION_OFFSET + offset, data),
  };
}

const tree = (entries: Record<string, string | 'directory'>) =>
  new Map(Object.entries(entries).map(([path, value]) => [path, value === 'directory' ? ('directory' as const) : new TextEncoder().encode(value)]));

describe('virtual board filesystem snapshots', () => {
  it('round-trips any file tree through the codec', () => {
    const pathArbitrary = fc.stringMatching(/^[a-z0-9_./-]{1,40}$/);
    fc.assert(
      fc.property(fc.dictionary(pathArbitrary, fc.oneof(fc.constant('directory' as const), fc.uint8Array({ maxLength: 300 }))), (record) => {
        const original = new Map(Object.entries(record));
        assert.deepEqual(decodeFileTree(encodeFileTree(original)), original);
      }),
    );
  });

  it('a fresh (erased) partition reads as an empty filesystem, and saving nothing writes nothing', () => {
    const flash = new NorFlash(createSharedFlash(0x40000));
    const store = new FilesystemStore(partitionOn(flash));
    assert.equal(store.load().size, 0);
    assert.equal(store.save(new Map()), false);
    assert.equal(flash.stats().operations, 0);
  });

  it('keeps the newest snapshot across stores (reboots), and skips saves that change nothing', () => {
    const flash = new NorFlash(createSharedFlash(0x40000));
    const first = new FilesystemStore(partitionOn(flash));
    assert.equal(first.save(tree({ lib: 'directory', 'boot.py': '# boot\n' })), true);
    assert.equal(first.save(tree({ lib: 'directory', 'boot.py': '# boot\n', 'main.py': 'print(1)\n' })), true);
    const opsBefore = flash.stats().operations;
    assert.equal(first.save(tree({ lib: 'directory', 'boot.py': '# boot\n', 'main.py': 'print(1)\n' })), false);
    assert.equal(flash.stats().operations, opsBefore, 'an unchanged tree costs no flash writes');
    const loaded = new FilesystemStore(partitionOn(flash)).load();
    assert.deepEqual([...loaded.keys()].sort(), ['boot.py', 'lib', 'main.py']);
    assert.equal(new TextDecoder().decode(loaded.get('main.py') as Uint8Array), 'print(1)\n');
  });

  it('a power cut at any flash operation of a save leaves the old or the new snapshot, never garbage', () => {
    const before = tree({ 'main.py': 'old\n'.repeat(2000) });
    const after = tree({ 'main.py': 'new\n'.repeat(3000), 'data.bin': 'x'.repeat(5000) });
    const probe = new NorFlash(createSharedFlash(0x40000));
    new FilesystemStore(partitionOn(probe)).save(before);
    const start = probe.stats().operations;
    new FilesystemStore(partitionOn(probe)).save(after);
    const operations = probe.stats().operations - start;
    assert.ok(operations > 10);
    for (let cut = 0; cut < operations; cut++) {
      const flash = new NorFlash(createSharedFlash(0x40000));
      new FilesystemStore(partitionOn(flash)).save(before);
      flash.cutPowerAfter(cut);
      assert.throws(() => new FilesystemStore(partitionOn(flash)).save(after), PowerCutError);
      flash.restorePower();
      const loaded = new FilesystemStore(partitionOn(flash)).load();
      assert.ok(
        [before, after].some((expected) => JSON.stringify([...loaded]) === JSON.stringify([...expected])),
        `cut after ${cut} operations left neither snapshot`,
      );
    }
  });

  it('says clearly when the files do not fit', () => {
    const store = new FilesystemStore(partitionOn(new NorFlash(createSharedFlash(0x40000))));
    assert.throws(() => store.save(new Map([['big.bin', new Uint8Array(store.capacity)]])), /the files need \d+ bytes; the vfs partition holds \d+/);
  });
});
