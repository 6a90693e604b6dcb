/**
 * A NOR flash chip: erase sets whole 4 KiB sectors (or 32/64 KiB blocks) to
 * 0xFF, programming can only clear bits (new = old AND data), as on real
 * SPI NOR. The bytes and the counters live in SharedArrayBuffers, so the main
 * thread (bootloader model, host inspection) and the interpreter's worker
 * (esp32.Partition) work on the same chip. Pure: no Node-only imports.
 */

export const SECTOR_SIZE = 0x1000;
export const PAGE_SIZE = 0x100;

/** Typical times of a Winbond W25Q32JV (datasheet, section 9.6 AC electrical characteristics). */
export interface FlashTiming {
  readonly pageProgramMs: number;
  readonly sectorEraseMs: number;
  readonly block32EraseMs: number;
  readonly block64EraseMs: number;
}

export const W25Q32JV_TYPICAL: FlashTiming = { pageProgramMs: 0.4, sectorEraseMs: 45, block32EraseMs: 120, block64EraseMs: 150 };

/** Thrown by every operation once the power has been cut; the operation that hit the cut is left half done. */
export class PowerCutError extends Error {
  constructor(readonly operation: number) {
    super(`power cut during flash operation #${operation}`);
    this.name = 'PowerCutError';
  }
}

export interface FlashStats {
  readonly operations: number;
  readonly sectorErases: number;
  readonly blockErases: number;
  readonly pagePrograms: number;
  readonly bytesProgrammed: number;
  /** Busy time the timing model predicts for the operations so far. */
  readonly busyMs: number;
}

/** Index of each counter in the shared Int32Array / Float64Array. */
const enum Counter {
  Operations = 0,
  CutAfter = 1,
  PoweredOff = 2,
  SectorErases = 3,
  BlockErases = 4,
  PagePrograms = 5,
}
const INT_COUNTERS = 8;
const enum Sum {
  BytesProgrammed = 0,
  BusyMs = 1,
}
const FLOAT_SUMS = 2;

/** What a NorFlash is made of; passing it to another thread gives that thread the same chip. */
export interface SharedFlash {
  readonly memory: SharedArrayBuffer;
  readonly counters: SharedArrayBuffer;
  readonly sums: SharedArrayBuffer;
  readonly timing: FlashTiming;
}

export function createSharedFlash(size = 4 * 1024 * 1024, timing: FlashTiming = W25Q32JV_TYPICAL): SharedFlash {
  if (size <= 0 || size % (64 * 1024) !== 0) throw new RangeError(`flash size must be a positive multiple of 64 KiB, got ${size}`);
  const memory = new SharedArrayBuffer(size);
  new Uint8Array(memory).fill(0xff);
  const counters = new SharedArrayBuffer(INT_COUNTERS * 4);
  new Int32Array(counters)[Counter.CutAfter] = -1;
  return { memory, counters, sums: new SharedArrayBuffer(FLOAT_SUMS * 8), timing };
}

/**
 * Makes each erase and program take its datasheet time (times `scale`) in
 * real time, by sleeping the calling thread: only for a worker thread (the
 * interpreter's), which a flash operation blocks as it blocks a board's CPU.
 * Back-to-back operations keep to one schedule, so a late wake-up is made
 * good by the next operation instead of adding up.
 */
export class FlashBusyClock {
  private until = 0;
  private readonly cell = new Int32Array(new SharedArrayBuffer(4));

  constructor(readonly scale: number) {
    if (!(scale > 0)) throw new RangeError(`the flash time scale must be positive, not ${scale}`);
  }

  busy(ms: number): void {
    const now = performance.now();
    this.until = (this.until > now - 1 ? this.until : now) + ms * this.scale;
    const left = this.until - performance.now();
    if (left > 0) Atomics.wait(this.cell, 0, 0, left);
  }
}

export class NorFlash {
  readonly size: number;
  /** Live view of the chip's contents (read freely; change only through erase/program). */
  readonly bytes: Uint8Array;
  private readonly counters: Int32Array;
  private readonly sums: Float64Array;

  constructor(
    readonly shared: SharedFlash = createSharedFlash(),
    private readonly clock?: FlashBusyClock,
  ) {
    this.bytes = new Uint8Array(shared.memory);
    this.size = this.bytes.length;
    this.counters = new Int32Array(shared.counters);
    this.sums = new Float64Array(shared.sums);
  }

  read(offset: number, length: number): Uint8Array {
    this.checkRange(offset, length);
    return this.bytes.slice(offset, offset + length);
  }

  readInto(offset: number, target: Uint8Array): void {
    this.checkRange(offset, target.length);
    target.set(this.bytes.subarray(offset, offset + target.length));
  }

  /** Erases [offset, offset + length), both 4 KiB aligned, with 64 KiB block erases where aligned, as esp_flash does. */
  erase(offset: number, length: number): void {
    this.checkRange(offset, length);
    if (offset % SECTOR_SIZE !== 0 || length % SECTOR_SIZE !== 0) {
      throw new RangeError(`erase of 0x${offset.toString(16)}+0x${length.toString(16)} is not 4 KiB aligned`);
    }
    let at = offset;
    const end = offset + length;
    while (at < end) {
      if (at % 0x10000 === 0 && end - at >= 0x10000) {
        this.eraseUnit(at, 0x10000, this.shared.timing.block64EraseMs, Counter.BlockErases);
        at += 0x10000;
      } else {
        this.eraseUnit(at, SECTOR_SIZE, this.shared.timing.sectorEraseMs, Counter.SectorErases);
        at += SECTOR_SIZE;
      }
    }
  }

  /** Programs `data` at `offset`; split at 256-byte page boundaries, one operation per page. */
  program(offset: number, data: Uint8Array): void {
    this.checkRange(offset, data.length);
    let at = 0;
    while (at < data.length) {
      const pageEnd = Math.min(data.length, at + PAGE_SIZE - ((offset + at) % PAGE_SIZE));
      this.programPage(offset + at, data.subarray(at, pageEnd));
      at = pageEnd;
    }
  }

  /** After `operations` more erase/program operations, cut the power in the middle of the next one. */
  cutPowerAfter(operations: number): void {
    Atomics.store(this.counters, Counter.CutAfter, Atomics.load(this.counters, Counter.Operations) + operations);
  }

  /** Power back on: operations work again and no cut is pending. */
  restorePower(): void {
    Atomics.store(this.counters, Counter.PoweredOff, 0);
    Atomics.store(this.counters, Counter.CutAfter, -1);
  }

  get poweredOff(): boolean {
    return Atomics.load(this.counters, Counter.PoweredOff) === 1;
  }

  stats(): FlashStats {
    return {
      operations: Atomics.load(this.counters, Counter.Operations),
      sectorErases: Atomics.load(this.counters, Counter.SectorErases),
      blockErases: Atomics.load(this.counters, Counter.BlockErases),
      pagePrograms: Atomics.load(this.counters, Counter.PagePrograms),
      bytesProgrammed: this.sums[Sum.BytesProgrammed]!,
      busyMs: this.sums[Sum.BusyMs]!,
    };
  }

  private eraseUnit(offset: number, size: number, ms: number, counter: Counter): void {
    const torn = this.beginOperation();
    // A torn erase has reset only the first half of the unit.
    this.bytes.fill(0xff, offset, offset + (torn ? size / 2 : size));
    this.account(counter, 0, ms);
    if (torn) throw new PowerCutError(this.operationCount());
  }

  private programPage(offset: number, data: Uint8Array): void {
    const torn = this.beginOperation();
    const count = torn ? Math.floor(data.length / 2) : data.length;
    for (let i = 0; i < count; i++) this.bytes[offset + i]! &= data[i]!;
    this.account(Counter.PagePrograms, count, this.shared.timing.pageProgramMs);
    if (torn) throw new PowerCutError(this.operationCount());
  }

  /** Counts the operation; true when the power fails during it. */
  private beginOperation(): boolean {
    if (this.poweredOff) throw new PowerCutError(this.operationCount());
    const number = Atomics.add(this.counters, Counter.Operations, 1) + 1;
    const cutAfter = Atomics.load(this.counters, Counter.CutAfter);
    if (cutAfter >= 0 && number > cutAfter) {
      Atomics.store(this.counters, Counter.PoweredOff, 1);
      return true;
    }
    return false;
  }

  private operationCount(): number {
    return Atomics.load(this.counters, Counter.Operations);
  }

  private account(counter: Counter, bytes: number, ms: number): void {
    Atomics.add(this.counters, counter, 1);
    this.sums[Sum.BytesProgrammed]! += bytes;
    this.sums[Sum.BusyMs]! += ms;
    this.clock?.busy(ms);
  }

  private checkRange(offset: number, length: number): void {
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new RangeError(`flash access 0x${offset.toString(16)}+0x${length.toString(16)} is outside the ${this.size}-byte chip`);
    }
  }
}
