/** An in-memory model of a directory tree, and helpers to compare a LittleFs against it. */
import assert from 'node:assert/strict';
import { LittleFs } from '../../../src/format/littlefs/index.js';

export type ModelNode = { type: 'dir' } | { type: 'file'; data: Uint8Array };
export type Model = Map<string, ModelNode>;

export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

export function childrenOf(model: Model, dir: string): string[] {
  return [...model.keys()].filter((p) => p !== '/' && parentOf(p) === dir);
}

/** Asserts the filesystem holds exactly the model's tree and contents. */
export function assertMatchesModel(fs: LittleFs, model: Model, dir = '/'): void {
  const listed = fs.readdir(dir).map((s) => ({ ...s, path: dir === '/' ? `/${s.name}` : `${dir}/${s.name}` }));
  const expected = childrenOf(model, dir).sort();
  assert.deepEqual(listed.map((s) => s.path).sort(), expected, `entries of ${dir}`);
  for (const stat of listed) {
    const node = model.get(stat.path)!;
    assert.equal(stat.type, node.type, `type of ${stat.path}`);
    if (node.type === 'file') {
      assert.equal(stat.size, node.data.length, `size of ${stat.path}`);
      assert.deepEqual(fs.readFile(stat.path), node.data, `content of ${stat.path}`);
    } else {
      assertMatchesModel(fs, model, stat.path);
    }
  }
}

export function bytesOf(seed: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
