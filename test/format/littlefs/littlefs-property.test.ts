import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LittleFs, LittleFsError, memoryBlockDevice, type LittleFsConfig } from '../../../src/format/littlefs/index.js';
import { assertMatchesModel, bytesOf, childrenOf, type Model } from './model.js';

/** Small geometry so that compaction, splitting and relocation happen within a few operations. */
const SMALL: Partial<LittleFsConfig> = { blockSize: 512, readSize: 16, progSize: 16, cacheSize: 64, lookaheadSize: 8, blockCycles: 7 };

const NAMES = ['a', 'b', 'c', 'dd', 'e0', 'long-name-' + 'x'.repeat(40)];
const pathArb = fc.array(fc.constantFrom(...NAMES), { minLength: 1, maxLength: 3 }).map((parts) => '/' + parts.join('/'));

type Op =
  | { kind: 'write'; path: string; size: number; seed: number }
  | { kind: 'append'; path: string; size: number; seed: number }
  | { kind: 'truncate'; path: string; size: number }
  | { kind: 'mkdir'; path: string }
  | { kind: 'remove'; path: string }
  | { kind: 'rename'; from: string; to: string }
  | { kind: 'remount' };

const sizeArb = fc.oneof(fc.integer({ min: 0, max: 70 }), fc.integer({ min: 0, max: 3000 }));
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('write' as const), path: pathArb, size: sizeArb, seed: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('append' as const), path: pathArb, size: sizeArb, seed: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), path: pathArb, size: sizeArb }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('mkdir' as const), path: pathArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('remove' as const), path: pathArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('rename' as const), from: pathArb, to: pathArb }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'remount' as const }) },
);

/** The errno littlefs must raise for an op on the model, or undefined when it succeeds. */
function expectedErrno(model: Model, op: Op): number | undefined {
  // littlefs walks the path from the root: a missing directory is ENOENT, a file on the way ENOTDIR.
  const parentMissing = (p: string): number | undefined => {
    const parts = p.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      const node = model.get('/' + parts.slice(0, i).join('/'));
      if (!node) return 2;
      if (node.type !== 'dir') return 20;
    }
    return undefined;
  };
  switch (op.kind) {
    case 'write':
    case 'append':
      return parentMissing(op.path) ?? (model.get(op.path)?.type === 'dir' ? 21 : undefined);
    case 'truncate':
      return parentMissing(op.path) ?? (!model.get(op.path) ? 2 : model.get(op.path)!.type === 'dir' ? 21 : undefined);
    case 'mkdir':
      return parentMissing(op.path) ?? (model.has(op.path) ? 17 : undefined);
    case 'remove': {
      const node = model.get(op.path);
      if (parentMissing(op.path) !== undefined) return parentMissing(op.path);
      if (!node) return 2;
      if (node.type === 'dir' && childrenOf(model, op.path).length > 0) return 39;
      return undefined;
    }
    case 'rename': {
      const from = model.get(op.from);
      if (parentMissing(op.from) !== undefined) return parentMissing(op.from);
      if (!from) return 2;
      if (parentMissing(op.to) !== undefined) return parentMissing(op.to);
      if (op.to === op.from) return undefined;
      if (op.to.startsWith(op.from + '/')) return 22;
      const to = model.get(op.to);
      if (to && to.type !== from.type) return to.type === 'dir' ? 21 : 20;
      if (to?.type === 'dir' && childrenOf(model, op.to).length > 0) return 39;
      return undefined;
    }
    default:
      return undefined;
  }
}

function applyToModel(model: Model, op: Op): void {
  switch (op.kind) {
    case 'write':
      model.set(op.path, { type: 'file', data: bytesOf(op.seed, op.size) });
      break;
    case 'append': {
      const old = model.get(op.path);
      const prev = old?.type === 'file' ? old.data : new Uint8Array(0);
      const data = new Uint8Array(prev.length + op.size);
      data.set(prev);
      data.set(bytesOf(op.seed, op.size), prev.length);
      model.set(op.path, { type: 'file', data });
      break;
    }
    case 'truncate': {
      const old = model.get(op.path) as { type: 'file'; data: Uint8Array };
      const data = new Uint8Array(op.size);
      data.set(old.data.subarray(0, op.size));
      model.set(op.path, { type: 'file', data });
      break;
    }
    case 'mkdir':
      model.set(op.path, { type: 'dir' });
      break;
    case 'remove':
      model.delete(op.path);
      break;
    case 'rename': {
      if (op.from === op.to) break;
      const moved = [...model.entries()].filter(([p]) => p === op.from || p.startsWith(op.from + '/'));
      model.delete(op.to);
      for (const [p] of moved) model.delete(p);
      for (const [p, node] of moved) model.set(op.to + p.slice(op.from.length), node);
      break;
    }
  }
}

function applyToFs(fs: LittleFs, op: Op): void {
  switch (op.kind) {
    case 'write':
      fs.writeFile(op.path, bytesOf(op.seed, op.size));
      break;
    case 'append': {
      const f = fs.open(op.path, 'ab');
      try {
        f.write(bytesOf(op.seed, op.size));
      } finally {
        f.close();
      }
      break;
    }
    case 'truncate': {
      const f = fs.open(op.path, 'r+b');
      try {
        f.truncate(op.size);
      } finally {
        f.close();
      }
      break;
    }
    case 'mkdir':
      fs.mkdir(op.path);
      break;
    case 'remove':
      fs.remove(op.path);
      break;
    case 'rename':
      fs.rename(op.from, op.to);
      break;
  }
}

function runSequence(blockCount: number, ops: Op[]): { nospc: number } {
  const image = new Uint8Array(blockCount * SMALL.blockSize!).fill(0xff);
  const device = memoryBlockDevice(image, SMALL.blockSize!);
  LittleFs.format(device, SMALL);
  let fs = LittleFs.mount(device, SMALL);
  const model: Model = new Map([['/', { type: 'dir' }]]);
  let nospc = 0;
  for (const op of ops) {
    if (op.kind === 'remount') {
      fs.unmount();
      fs = LittleFs.mount(device, SMALL);
      assertMatchesModel(fs, model);
      continue;
    }
    const expected = expectedErrno(model, op);
    try {
      applyToFs(fs, op);
      assert.equal(expected, undefined, `${JSON.stringify(op)} succeeded but errno ${expected} was expected`);
      applyToModel(model, op);
    } catch (err) {
      if (!(err instanceof LittleFsError)) throw err;
      if (err.errno === 28 && expected === undefined) {
        nospc++;
        // A refused write leaves the tree as it was, except that append/truncate opened (created) the file.
        if ((op.kind === 'append') && !model.has(op.path)) model.set(op.path, { type: 'file', data: new Uint8Array(0) });
      } else {
        assert.equal(err.errno, expected, `${JSON.stringify(op)}: ${err.message}`);
      }
    }
    assertMatchesModel(fs, model);
    const { blocksUsed, blockCount: count } = fs.statvfs();
    assert.ok(blocksUsed <= count * 2, 'used blocks in range');
  }
  fs.unmount();
  assertMatchesModel(LittleFs.mount(device, SMALL), model);
  return { nospc };
}

describe('littlefs against an in-memory model', () => {
  it('random operations with remounts on a roomy filesystem (64 × 512-byte blocks)', () => {
    fc.assert(fc.property(fc.array(opArb, { minLength: 5, maxLength: 40 }), (ops) => {
      runSequence(64, ops);
    }), { numRuns: 60 });
  });

  it('random operations on a nearly full filesystem (16 × 512-byte blocks) refuse with ENOSPC and keep the tree', () => {
    let refused = 0;
    // Random sequences hit ENOSPC in most runs, not all: one sequence that must (30 KB appended to an 8 KiB filesystem) runs first.
    const filling: Op[] = Array.from({ length: 10 }, (_, seed) => ({ kind: 'append', path: `/${NAMES[0]}`, size: 3000, seed }));
    fc.assert(fc.property(fc.array(opArb, { minLength: 10, maxLength: 40 }), (ops) => {
      refused += runSequence(16, ops).nospc;
    }), { numRuns: 60, examples: [[filling]] });
    assert.ok(refused > 0, 'some operations ran out of space');
  });
});
