import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LittleFs, MICROPYTHON_ESP32_LITTLEFS, memoryBlockDevice, type LittleFsBlockDevice, type LittleFsConfig } from '../../../src/format/littlefs/index.js';
import { assertMatchesModel, bytesOf, type Model } from './model.js';

class PowerCut extends Error {}

/** A device that loses power at flash operation `cutAt` (1-based): that prog or erase is torn halfway. */
function cuttingDevice(inner: LittleFsBlockDevice, blockSize: number, cutAt: number): LittleFsBlockDevice & { ops: number } {
  const device = {
    ops: 0,
    blockCount: inner.blockCount,
    read: (block: number, off: number, into: Uint8Array) => inner.read(block, off, into),
    prog(block: number, off: number, data: Uint8Array) {
      if (++device.ops === cutAt) {
        inner.prog(block, off, data.subarray(0, data.length >> 1));
        throw new PowerCut();
      }
      inner.prog(block, off, data);
    },
    erase(block: number) {
      if (++device.ops === cutAt) {
        // A torn erase: half the block erased, the rest as it was.
        const half = new Uint8Array(blockSize >> 1).fill(0xff);
        const keep = new Uint8Array(blockSize - half.length);
        inner.read(block, half.length, keep);
        inner.erase(block);
        inner.prog(block, half.length, keep);
        throw new PowerCut();
      }
      inner.erase(block);
    },
    sync: () => inner.sync(),
  };
  return device;
}

type Step = { name: string; run: (fs: LittleFs) => void; model: (m: Model) => void };

const file = (seed: number, size: number) => ({ type: 'file' as const, data: bytesOf(seed, size) });

/** Writes and renames, each of which must be atomic. */
const STEPS: Step[] = [
  { name: 'replace /a with a multi-block file', run: (fs) => fs.writeFile('/a', bytesOf(2, 1500)), model: (m) => void m.set('/a', file(2, 1500)) },
  { name: 'create /d/b', run: (fs) => fs.writeFile('/d/b', bytesOf(3, 900)), model: (m) => void m.set('/d/b', file(3, 900)) },
  { name: 'rename /a to /c', run: (fs) => fs.rename('/a', '/c'), model: (m) => { m.set('/c', m.get('/a')!); m.delete('/a'); } },
  { name: 'rename /d/b to /b (across directories)', run: (fs) => fs.rename('/d/b', '/b'), model: (m) => { m.set('/b', m.get('/d/b')!); m.delete('/d/b'); } },
  { name: 'append to /c', run: (fs) => { const f = fs.open('/c', 'ab'); f.write(bytesOf(4, 700)); f.close(); }, model: (m) => {
    const old = (m.get('/c') as { data: Uint8Array }).data;
    const data = new Uint8Array(old.length + 700);
    data.set(old);
    data.set(bytesOf(4, 700), old.length);
    m.set('/c', { type: 'file', data });
  } },
  { name: 'replace /b by renaming /c over it', run: (fs) => fs.rename('/c', '/b'), model: (m) => { m.set('/b', m.get('/c')!); m.delete('/c'); } },
  { name: 'mkdir /e', run: (fs) => fs.mkdir('/e'), model: (m) => void m.set('/e', { type: 'dir' }) },
  { name: 'remove /d', run: (fs) => fs.remove('/d'), model: (m) => void m.delete('/d') },
  { name: 'shrink /b to an inline file', run: (fs) => fs.writeFile('/b', bytesOf(5, 20)), model: (m) => void m.set('/b', file(5, 20)) },
  ...Array.from({ length: 12 }, (_, i): Step => ({
    name: `rewrite /e/log (${i})`, run: (fs) => fs.writeFile('/e/log', bytesOf(10 + i, 40 + i * 90)), model: (m) => void m.set('/e/log', file(10 + i, 40 + i * 90)),
  })),
];

function sweep(config: Partial<LittleFsConfig>, blockCount: number): { cuts: number } {
  const blockSize = config.blockSize!;
  const base = new Uint8Array(blockCount * blockSize).fill(0xff);
  const baseDevice = memoryBlockDevice(base, blockSize);
  LittleFs.format(baseDevice, config);
  const setup = LittleFs.mount(baseDevice, config);
  setup.writeFile('/a', bytesOf(1, 60));
  setup.mkdir('/d');
  setup.unmount();
  const models: Model[] = [new Map<string, Model extends Map<string, infer N> ? N : never>([['/', { type: 'dir' }], ['/a', file(1, 60)], ['/d', { type: 'dir' }]])];
  for (const step of STEPS) {
    const next = new Map(models[models.length - 1]);
    step.model(next);
    models.push(next);
  }

  let cuts = 0;
  for (let cutAt = 1; ; cutAt++) {
    const image = base.slice();
    const device = cuttingDevice(memoryBlockDevice(image, blockSize), blockSize, cutAt);
    let done = 0;
    let cut = false;
    try {
      const fs = LittleFs.mount(device, config);
      for (const step of STEPS) {
        step.run(fs);
        done++;
      }
    } catch (err) {
      if (!(err instanceof PowerCut)) throw err;
      cut = true;
    }
    if (!cut) break;
    cuts++;
    const remounted = LittleFs.mount(memoryBlockDevice(image, blockSize), config);
    const before = models[done]!;
    const after = models[done + 1]!;
    let matched: Model;
    try {
      assertMatchesModel(remounted, before);
      matched = before;
    } catch {
      try {
        assertMatchesModel(remounted, after);
        matched = after;
      } catch (err) {
        assert.fail(`cut at flash operation ${cutAt} during "${STEPS[done]!.name}": the tree is neither the old nor the new state: ${(err as Error).message}`);
      }
    }
    // The filesystem keeps working after the cut (pending moves and orphans are fixed on the first write).
    remounted.writeFile('/after-cut', bytesOf(99, 300));
    const expected = new Map(matched);
    expected.set('/after-cut', file(99, 300));
    assertMatchesModel(LittleFs.mount(memoryBlockDevice(image, blockSize), config), expected);
  }
  return { cuts };
}

describe('littlefs power-cut sweep', () => {
  it('a cut at every flash operation of writes and renames leaves old or new state, and a mountable filesystem (512-byte blocks)', () => {
    const { cuts } = sweep({ blockSize: 512, readSize: 16, progSize: 16, cacheSize: 64, lookaheadSize: 8, blockCycles: 5 }, 48);
    assert.ok(cuts > 50, `the sequence has many flash operations (${cuts})`);
  });

  it('the same on MicroPython\'s ESP32 geometry (4096-byte blocks)', () => {
    const { cuts } = sweep(MICROPYTHON_ESP32_LITTLEFS, 40);
    assert.ok(cuts > 30, `the sequence has many flash operations (${cuts})`);
  });
});
