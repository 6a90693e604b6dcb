/**
 * Memory of ota.update.from_json on the virtual board, for a board with
 * ~110 KB of free heap. This interpreter (MicroPython's WebAssembly port with
 * MICROPY_GC_SPLIT_HEAP_AUTO) never collects while Python runs: its heap grows
 * instead, whatever heapSize says, so a board with exactly 110 KB free cannot
 * be built. What can be measured is stricter: everything the update allocates
 * from the call to the end of close(), none of it freed. When that total is
 * under the budget, a board that does collect cannot run out either.
 */
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extractApp, identifyFirmware } from '../../src/format/firmware-file.js';
import { nativeSha256 } from '../../src/node/native-hash.js';
import { startOtaServer, type OtaServer } from '../../src/node/ota-server.js';
import { generateSigningKey, signText } from '../../src/node/signing-keys.js';
import { installBoardPackage } from '../../src/ota/board-package.js';
import { blockDeflateFile, describeImage, signedText, type OtaManifest } from '../../src/ota/manifest.js';
import { prepareImage } from '../../src/ota/preflight.js';
import { networkBoard, type NetworkBoard } from '../helpers/network-board.js';
import { REAL_FIRMWARE_PATH } from '../helpers/testdata.js';

/** The free heap of a board without PSRAM once MicroPython v1.23 has booted and Wi-Fi is up. */
const BUDGET_BYTES = 110 * 1024;
const site = mkdtempSync(join(tmpdir(), 'esp32-ota-memory-'));
const keys = generateSigningKey();
let server: OtaServer;
let board: NetworkBoard;

before(async () => {
  if (!existsSync(REAL_FIRMWARE_PATH)) return;
  const combined = new Uint8Array(readFileSync(REAL_FIRMWARE_PATH));
  const app = extractApp(combined, identifyFirmware(combined)).bytes;
  const compressed = blockDeflateFile(app); // window 2^15, the largest
  writeFileSync(join(site, 'micropython.bin'), app);
  writeFileSync(join(site, 'micropython.bin.deflate'), compressed);
  const plain = describeImage(prepareImage(app, { sha256: nativeSha256 }), 'micropython.bin', nativeSha256);
  const withCompression: OtaManifest = {
    ...plain,
    compression: { method: 'deflate', wbits: 15, firmware: 'micropython.bin.deflate', sha: Buffer.from(nativeSha256(compressed)).toString('hex'), length: compressed.length },
  };
  writeFileSync(join(site, 'plain.json'), JSON.stringify(plain));
  writeFileSync(join(site, 'compressed.json'), JSON.stringify(withCompression));
  writeFileSync(join(site, 'signed.json'), JSON.stringify({ ...withCompression, signature: signText(createPrivateKey(keys.privateKeyPem), signedText(withCompression)).signature }));
  server = await startOtaServer({ root: site });
  board = await networkBoard();
  await installBoardPackage(board.client, { sha256: nativeSha256 });
});
after(async () => {
  await board?.stop();
  await server?.close();
  rmSync(site, { recursive: true, force: true });
});

interface Allocation {
  /** Bytes allocated from the call up to the first block written (manifest, signature check, connection, buffers). */
  beforeFirstBlock: number;
  /** Bytes allocated per block while the image streams in (the mean over all blocks after the first). */
  perBlock: number;
  /** Bytes allocated from the call to the end of close(). */
  total: number;
  blocks: number;
}

/** A real from_json of the real v1.23.0 app, with gc.mem_alloc() read at the call, at each block and after close(). */
async function update(manifest: string, extra = ''): Promise<Allocation> {
  const output = await board.run(
    `
import gc, ota.update
at_block = []
start = gc.mem_alloc()
o = ota.update.OTA(progress=lambda done, total: at_block.append(gc.mem_alloc()), verbose=False)
o.from_json("${server.url}${manifest}", force=True${extra})
o.close()
end = gc.mem_alloc()
print(at_block[0] - start, at_block[-1] - at_block[0], len(at_block), end - start)
`,
    120_000,
  );
  const [first, streaming, blocks, total] = output.trim().split(' ').map(Number) as [number, number, number, number];
  return { beforeFirstBlock: first, perBlock: streaming / (blocks - 1), total, blocks };
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

describe('ota.update.from_json of the real v1.23.0 app: what it allocates, against a board with ~110 KB free', () => {
  it('plain and compressed (window 2^15): the whole update allocates less than 110 KB even if nothing were ever freed', async (t) => {
    if (!server) return t.skip(`real firmware missing: ${REAL_FIRMWARE_PATH}`);
    for (const manifest of ['plain.json', 'compressed.json']) {
      const used = await update(manifest);
      t.diagnostic(`${manifest}: ${kb(used.total)} in total, ${kb(used.beforeFirstBlock)} before the first block, ${used.perBlock.toFixed(1)} bytes per block over ${used.blocks} blocks`);
      assert.equal(used.blocks, 409, 'every 4 KiB block of the 1,672,800-byte image was written');
      // Fixed buffers: streaming the image allocates next to nothing per 4 KiB block (the progress list's own growth included).
      assert.ok(used.perBlock < 64, `${manifest}: ${used.perBlock} bytes allocated per block`);
      assert.ok(used.total < BUDGET_BYTES, `${manifest}: ${used.total} bytes allocated`);
    }
  });

  it('signed: the download after the Ed25519 check allocates as little; the check itself makes short-lived big integers', async (t) => {
    if (!server) return t.skip(`real firmware missing: ${REAL_FIRMWARE_PATH}`);
    const used = await update('signed.json', `, pubkey="${keys.publicKeyHex}"`);
    t.diagnostic(`signed.json: ${kb(used.total)} in total, ${kb(used.beforeFirstBlock)} before the first block (Ed25519 in Python), ${used.perBlock.toFixed(1)} bytes per block`);
    assert.equal(used.blocks, 409);
    assert.ok(used.perBlock < 64, `${used.perBlock} bytes allocated per block`);
    assert.ok(used.total - used.beforeFirstBlock < BUDGET_BYTES / 2, `${used.total - used.beforeFirstBlock} bytes allocated after the first block`);
  });
});
