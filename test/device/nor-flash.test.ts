import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { NorFlash, PAGE_SIZE, PowerCutError, SECTOR_SIZE, createSharedFlash, W25Q32JV_TYPICAL } from '../../src/device/nor-flash.js';

const small = () => new NorFlash(createSharedFlash(0x20000));

describe('NOR flash model', () => {
  it('starts erased and programming only clears bits (AND)', () => {
    const flash = small();
    assert.ok(flash.read(0, 0x20000).every((b) => b === 0xff));
    flash.program(0x10, Uint8Array.of(0xf0, 0x0f));
    flash.program(0x10, Uint8Array.of(0x3c, 0xff));
    assert.deepEqual([...flash.read(0x10, 2)], [0x30, 0x0f]);
  });

  it('erase sets whole sectors back to 0xFF and leaves neighbours alone', () => {
    const flash = small();
    flash.program(0, new Uint8Array(3 * SECTOR_SIZE));
    flash.erase(SECTOR_SIZE, SECTOR_SIZE);
    assert.ok(flash.read(0, SECTOR_SIZE).every((b) => b === 0));
    assert.ok(flash.read(SECTOR_SIZE, SECTOR_SIZE).every((b) => b === 0xff));
    assert.ok(flash.read(2 * SECTOR_SIZE, SECTOR_SIZE).every((b) => b === 0));
  });

  it('refuses unaligned erases and accesses outside the chip', () => {
    const flash = small();
    assert.throws(() => flash.erase(0x800, SECTOR_SIZE), /not 4 KiB aligned/);
    assert.throws(() => flash.program(0x1ffff, Uint8Array.of(1, 2)), /outside the 131072-byte chip/);
    assert.throws(() => flash.read(-1, 1), RangeError);
  });

  it('counts one operation per 256-byte page and per erase unit, and sums datasheet times', () => {
    const flash = small();
    flash.erase(0, 0x11000); // one 64 KiB block + one sector
    flash.program(0x80, new Uint8Array(0x200).fill(0)); // crosses 3 pages
    const stats = flash.stats();
    assert.equal(stats.blockErases, 1);
    assert.equal(stats.sectorErases, 1);
    assert.equal(stats.pagePrograms, 3);
    assert.equal(stats.operations, 5);
    assert.equal(stats.bytesProgrammed, 0x200);
    const expected = W25Q32JV_TYPICAL.block64EraseMs + W25Q32JV_TYPICAL.sectorEraseMs + 3 * W25Q32JV_TYPICAL.pageProgramMs;
    assert.ok(Math.abs(stats.busyMs - expected) < 1e-9);
  });

  it('a power cut leaves the interrupted erase half done and refuses everything after', () => {
    const flash = small();
    flash.program(0, new Uint8Array(SECTOR_SIZE)); // 16 page programs
    flash.cutPowerAfter(0);
    assert.throws(() => flash.erase(0, SECTOR_SIZE), PowerCutError);
    const sector = flash.read(0, SECTOR_SIZE);
    assert.ok(sector.subarray(0, SECTOR_SIZE / 2).every((b) => b === 0xff));
    assert.ok(sector.subarray(SECTOR_SIZE / 2).every((b) => b === 0), 'second half keeps its old contents');
    assert.equal(flash.poweredOff, true);
    assert.throws(() => flash.program(0x5000, Uint8Array.of(0)), PowerCutError);
    flash.restorePower();
    flash.program(0x5000, Uint8Array.of(0));
    assert.equal(flash.read(0x5000, 1)[0], 0);
  });

  it('a power cut during a program leaves only part of the page written', () => {
    const flash = small();
    flash.cutPowerAfter(1);
    flash.program(0, new Uint8Array(PAGE_SIZE).fill(0x00)); // operation 1 completes
    assert.throws(() => flash.program(0x100, new Uint8Array(PAGE_SIZE).fill(0x00)));
    const page = flash.read(0x100, PAGE_SIZE);
    assert.ok(page.subarray(0, PAGE_SIZE / 2).every((b) => b === 0));
    assert.ok(page.subarray(PAGE_SIZE / 2).every((b) => b === 0xff));
  });

  it('is the same chip in another thread', async () => {
    const shared = createSharedFlash(0x10000);
    const worker = new Worker(
      `const { workerData } = require('node:worker_threads');
       new Uint8Array(workerData.memory)[7] = 0x42;
       Atomics.add(new Int32Array(workerData.counters), 0, 1);`,
      { eval: true, workerData: shared },
    );
    await new Promise((resolve, reject) => worker.once('exit', resolve).once('error', reject));
    const flash = new NorFlash(shared);
    assert.equal(flash.bytes[7], 0x42);
    assert.equal(flash.stats().operations, 1);
  });
});
