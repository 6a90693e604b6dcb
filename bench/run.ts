/** `npm run bench`: every benchmark, each reported as a ratio against a baseline measured in the same run. */
import { access } from 'node:fs/promises';
import { benchFormats, FIRMWARE } from './formats.bench.js';
import { benchDevice } from './device.bench.js';
import { benchTextFraming, benchTransfer } from './transfer.bench.js';
import { benchStrictTransfer } from './strict-transfer.bench.js';
import { benchLittleFs } from './littlefs.bench.js';
import { benchNetwork } from './network.bench.js';
import { benchServe } from './serve.bench.js';
import { benchFilesystem } from './filesystem.bench.js';
import { benchFleet } from './fleet.bench.js';

try {
  await access(FIRMWARE);
} catch {
  console.error(`bench: the real firmware is missing at ${FIRMWARE.pathname}: the benchmarks need ../shared/testdata/ next to the repo`);
  process.exit(1);
}
console.log(`esp32-ota benchmarks (node ${process.version}; ratio = median time / baseline median)`);
for (const line of await benchFormats()) console.log(line);
for (const line of await benchDevice()) console.log(line);
for (const line of await benchTextFraming()) console.log(line);
for (const line of await benchTransfer()) console.log(line);
for (const line of await benchStrictTransfer()) console.log(line);
for (const line of await benchLittleFs()) console.log(line);
for (const line of await benchNetwork()) console.log(line);
for (const line of await benchServe()) console.log(line);
for (const line of await benchFilesystem()) console.log(line);
for (const line of await benchFleet()) console.log(line);
