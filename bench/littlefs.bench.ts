/**
 * littlefs throughput on MicroPython's 448 KiB `vfs` (112 × 4 KiB blocks), next to a plain copy and
 * a native SHA-256 of the same bytes, timed in the same run.
 */
import { readFile } from 'node:fs/promises';
import {
  LittleFs, buildLittleFsImage, memoryBlockDevice, readLittleFsTree,
} from '../src/format/littlefs/index.js';
import { nativeSha256 } from '../src/node/native-hash.js';
import { formatRow, measureInterleaved, type Timing } from './measure.js';

export const LITTLEFS_TREE = new URL('../../../shared/testdata/littlefs/vfs-448k-tree.bin', import.meta.url);
const VFS_SIZE = 0x70000;

export async function benchLittleFs(): Promise<string[]> {
  const image = new Uint8Array(await readFile(LITTLEFS_TREE));
  const tree = readLittleFsTree(image);
  const fileBytes = tree.reduce((sum, e) => sum + (e.data?.length ?? 0), 0);
  const allData = new Uint8Array(fileBytes);
  let at = 0;
  for (const e of tree) if (e.data) {
    allData.set(e.data, at);
    at += e.data.length;
  }
  const big = new Uint8Array(400 * 1024).map((_, i) => (i * 31) >>> 3);
  const empty = new Uint8Array(VFS_SIZE).fill(0xff);
  LittleFs.format(memoryBlockDevice(empty, 4096));

  const lines = [`littlefs: ${VFS_SIZE / 1024} KiB image, ${tree.length} entries holding ${fileBytes.toLocaleString('en')} bytes; a 400 KiB file`];
  const [hashTree, copyTree, readTree, buildTree] = measureInterleaved(() => nativeSha256(allData), [
    () => allData.slice(),
    () => readLittleFsTree(image),
    () => buildLittleFsImage(VFS_SIZE, tree),
  ], { runs: 15, warmup: 3 }) as [Timing, Timing, Timing, Timing];
  lines.push(
    formatRow('SHA-256 (native) of the tree\'s file bytes', hashTree),
    formatRow('copy of the tree\'s file bytes', copyTree, hashTree),
    formatRow('mount + list + read every file (readLittleFsTree)', readTree, hashTree),
    formatRow('format + write every file (buildLittleFsImage)', buildTree, hashTree),
  );

  const writeBig = (chunk: number): void => {
    const fs = LittleFs.mount(memoryBlockDevice(empty.slice(), 4096));
    if (chunk === 0) {
      fs.writeFile('/big.bin', big);
      return;
    }
    const f = fs.open('/big.bin', 'wb');
    for (let off = 0; off < big.length; off += chunk) f.write(big.subarray(off, off + chunk));
    f.close();
  };
  const written = empty.slice();
  const fs = LittleFs.mount(memoryBlockDevice(written, 4096));
  fs.writeFile('/big.bin', big);
  const [hashBig, imageCopy, writeWhole, write256, readBig] = measureInterleaved(() => nativeSha256(big), [
    () => empty.slice(),
    () => writeBig(0),
    () => writeBig(256),
    () => fs.readFile('/big.bin'),
  ], { runs: 15, warmup: 3 }) as [Timing, Timing, Timing, Timing, Timing];
  lines.push(
    formatRow('SHA-256 (native) of 400 KiB', hashBig),
    formatRow('copy of the 448 KiB image', imageCopy, hashBig),
    formatRow('write 400 KiB file (writeFile, one commit)', writeWhole, hashBig),
    formatRow('write 400 KiB file in 256-byte writes (open/write/close)', write256, hashBig),
    formatRow('read 400 KiB file (readFile)', readBig, hashBig),
  );
  return lines;
}
