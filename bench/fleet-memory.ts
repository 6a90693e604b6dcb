/**
 * Memory of a virtual fleet, measured in a process of its own (so earlier
 * benchmarks' garbage does not count): `node fleet-memory.js N` powers on N
 * boards following an embedded broker, waits until each has published its
 * status, and prints {boards, rssBytes, heapBytes, bootMs} over the empty
 * process as JSON.
 */
import { VirtualFleet } from '../src/node/virtual-fleet.js';
import { startFleetBroker } from '../src/node/mqtt-broker.js';
import { observeFleet } from '../test/helpers/fleet-rehearsal.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const size = Number(process.argv[2]);
const broker = await startFleetBroker({ port: 0 });
const observer = await observeFleet(broker.url, 'memory');
gc();
const before = process.memoryUsage();
const started = performance.now();
const fleet = await VirtualFleet.create({ size, broker: broker.url, fleet: 'memory' });
await fleet.powerOn();
await observer.waitFor(`${size} statuses`, (statuses) => statuses.size === size, 60_000 + size * 10_000);
const bootMs = performance.now() - started;
await new Promise((resolve) => setTimeout(resolve, 1000));
gc();
const after = process.memoryUsage();
console.log(JSON.stringify({ boards: size, rssBytes: after.rss - before.rss, heapBytes: after.heapUsed - before.heapUsed, bootMs }));
await fleet.close();
await observer.close();
await broker.close();
