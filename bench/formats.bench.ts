/**
 * Parse + validate + SHA-256 of the real 1.6 MB MicroPython image, next to a
 * bare SHA-256 of the same bytes with the same hash implementation (goal: within 1.5x).
 */
import { readFile } from 'node:fs/promises';
import { extractApp, identifyFirmware } from '../src/format/firmware-file.js';
import { verifyAppImage } from '../src/format/app-image.js';
import { sha256 as portableSha256, type Sha256 } from '../src/format/hash.js';
import { nativeSha256 } from '../src/node/native-hash.js';
import { formatRow, measureInterleaved, type Timing } from './measure.js';

export const FIRMWARE = new URL('../../../shared/testdata/ESP32_GENERIC-20240602-v1.23.0.bin', import.meta.url);

export async function benchFormats(): Promise<string[]> {
  const firmware = new Uint8Array(await readFile(FIRMWARE));
  const app = extractApp(firmware).bytes;
  const lines = [`formats: real image ${app.length.toLocaleString('en')} bytes (app in a ${firmware.length.toLocaleString('en')}-byte combined image)`];
  for (const [name, hash] of [
    ['native (node:crypto)', nativeSha256],
    ['portable (@noble/hashes, the browser path)', portableSha256],
  ] as [string, Sha256][]) {
    const [bare, validate, full] = measureInterleaved(() => hash(app), [
      () => verifyAppImage(app, { sha256: hash }),
      () => verifyAppImage(extractApp(firmware, identifyFirmware(firmware)).bytes, { sha256: hash }),
    ]) as [Timing, Timing, Timing];
    lines.push(
      `  SHA-256 ${name}:`,
      formatRow('bare SHA-256 of the app bytes', bare),
      formatRow('parse + validate app image (incl. SHA-256)', validate, bare),
      formatRow('identify combined file + extract + validate', full, bare),
    );
  }
  return lines;
}
