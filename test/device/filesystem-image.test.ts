import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { convertSnapshotFilesystem, filesystemPartition } from '../../src/device/board/flash-filesystem.js';
import { crc32 } from '../../src/format/crc32.js';
import { readLittleFsTree } from '../../src/format/littlefs/index.js';
import { defaultPartitionTable } from '../../src/device/virtual-firmware.js';
import { NorFlash, createSharedFlash } from '../../src/device/nor-flash.js';

const encoder = new TextEncoder();

/** A vfs partition as virtual boards before littlefs wrote it: a snapshot in slot 0 (and an older one in slot 1). */
function oldSnapshot(entries: [string, string | 'directory'][], sequence: number): Uint8Array {
  const parts: number[] = [];
  for (const [path, value] of entries) {
    const name = encoder.encode(path);
    parts.push(value === 'directory' ? 1 : 2, name.length & 0xff, name.length >> 8, ...name);
    if (value !== 'directory') {
      const data = encoder.encode(value);
      parts.push(data.length & 0xff, (data.length >> 8) & 0xff, 0, 0, ...data);
    }
  }
  const payload = Uint8Array.from(parts);
  const header = new Uint8Array(32);
  header.set(encoder.encode('MPYSIMFS'));
  const view = new DataView(header.buffer);
  view.setUint32(8, 1, true);
  view.setUint32(12, sequence, true);
  view.setUint32(16, payload.length, true);
  view.setUint32(20, crc32(payload), true);
  const slot = new Uint8Array(32 + payload.length);
  slot.set(header);
  slot.set(payload, 32);
  return slot;
}

describe('flash files of earlier virtual boards (files as snapshots)', () => {
  const vfs = filesystemPartition(defaultPartitionTable())!;

  it('are converted to littlefs with every file kept (the newest snapshot)', () => {
    const flash = new NorFlash(createSharedFlash(0x400000));
    const slotSize = Math.floor(vfs.size / 2 / 0x1000) * 0x1000;
    flash.bytes.set(oldSnapshot([['boot.py', 'old'], ], 1), vfs.offset + slotSize);
    flash.bytes.set(oldSnapshot([['boot.py', '# boot\n'], ['lib', 'directory'], ['lib/util.py', 'x = 1\n']], 2), vfs.offset);
    assert.equal(convertSnapshotFilesystem(flash, vfs), 3);
    const tree = readLittleFsTree(flash.read(vfs.offset, vfs.size));
    assert.deepEqual(
      tree.map((e) => [e.path, e.type, e.data ? new TextDecoder().decode(e.data) : undefined]),
      [
        ['/boot.py', 'file', '# boot\n'],
        ['/lib', 'dir', undefined],
        ['/lib/util.py', 'file', 'x = 1\n'],
      ],
    );
    assert.equal(convertSnapshotFilesystem(flash, vfs), 0, 'a littlefs partition is left alone');
  });

  it('leave an erased partition alone', () => {
    const flash = new NorFlash(createSharedFlash(0x400000));
    assert.equal(convertSnapshotFilesystem(flash, vfs), 0);
    assert.ok(flash.bytes.subarray(vfs.offset, vfs.offset + vfs.size).every((b) => b === 0xff));
  });
});
