/**
 * Makes valid ESP32-family app images of a chosen size, laid out the way
 * esptool's elf2image lays out a real app: the flash-mapped DROM segment with
 * `esp_app_desc_t` first, RAM segments, and the flash-mapped IROM segment
 * placed so its data sits at the same offset within a 64 KiB MMU page as its
 * load address. The data is deterministic filler, not code. Used by tests and
 * by the virtual device to give a fresh board a bootable app. Pure.
 */
import { toHex } from './bytes.js';
import { chipByName, CHIPS } from './chips.js';
import {
  APP_DESC_SIZE,
  APP_IMAGE_HASH_SIZE,
  APP_IMAGE_HEADER_SIZE,
  FLASH_MODE_NAMES,
  FLASH_SIZE_NAMES,
  SEGMENT_HEADER_SIZE,
  WP_PIN_DISABLED,
  checksumOffsetAfter,
  encodeAppDescription,
  encodeAppImage,
  flashFreqCode,
  parseAppImage,
  segmentChecksum,
  type AppImageHeaderFields,
  type AppSegmentContent,
} from './app-image.js';
import { sha256 as defaultSha256, type Sha256 } from './hash.js';

export interface AppImageBuildOptions {
  /** Chip name as in chips.ts; default 'esp32'. */
  readonly chip?: string;
  /**
   * Wanted total length in bytes, hash included. The result is this rounded
   * down so that the checksum ends a 16-byte block (exact when
   * `size - 32` (or `size` without hash) is a multiple of 16), but never
   * below the smallest image (384 bytes with hash). Default 4096.
   */
  readonly size?: number;
  readonly version?: string;
  readonly projectName?: string;
  readonly idfVersion?: string;
  /** As the C compiler's `__DATE__`, e.g. 'Jun  2 2024'. */
  readonly date?: string;
  /** As `__TIME__`, e.g. '06:51:35'. */
  readonly time?: string;
  readonly secureVersion?: number;
  readonly hashAppended?: boolean;
  /** Seed of the deterministic filler (and of the default ELF SHA-256). */
  readonly seed?: number;
  /**
   * What fills the segments: 'random' bytes (incompressible, the default) or
   * 'app-like' bytes that deflate as a real app does (about 0.7 in 4 KiB
   * blocks; a real MicroPython image gives 0.73).
   */
  readonly content?: 'random' | 'app-like';
  /** 'QIO' | 'QOUT' | 'DIO' | 'DOUT'; default 'DIO' as MicroPython builds. */
  readonly flashMode?: string;
  /** '1MB' … '128MB'; default '4MB'. */
  readonly flashSize?: string;
  /** A frequency name of the chip (esptool's, e.g. '40m'); default code 0 ('40m' on the ESP32). */
  readonly flashFreq?: string;
  readonly minChipRevFull?: number;
  /** Default: ESP-IDF's CONFIG_<CHIP>_REV_MAX_FULL for the chip. */
  readonly maxChipRevFull?: number;
  /** 64 hex digits; default derived from `seed`. */
  readonly appElfSha256?: string;
  readonly sha256?: Sha256;
}

/**
 * Load addresses per chip, inside the ranges of esptool's MEMORY_MAP and
 * ESP-IDF's soc.h: DROM and IROM at a page start + 0x20 (as real apps are,
 * the header and first segment header taking 0x20 bytes), DRAM and IRAM in
 * internal RAM. `maxRevFull` is ESP-IDF's default CONFIG_<CHIP>_REV_MAX_FULL.
 */
interface ChipPlan {
  readonly drom: number;
  readonly dromEnd: number;
  readonly irom: number;
  readonly iromEnd: number;
  readonly dram: number;
  readonly iram: number;
  readonly maxRevFull: number;
}

const CHIP_PLANS: Readonly<Record<string, ChipPlan>> = {
  esp32: { drom: 0x3f400020, dromEnd: 0x3f800000, irom: 0x400d0020, iromEnd: 0x40400000, dram: 0x3ffb0000, iram: 0x40080000, maxRevFull: 399 },
  esp32s2: { drom: 0x3f000020, dromEnd: 0x3ff80000, irom: 0x40080020, iromEnd: 0x40800000, dram: 0x3ffb0000, iram: 0x40022000, maxRevFull: 199 },
  esp32s3: { drom: 0x3c000020, dromEnd: 0x3e000000, irom: 0x42000020, iromEnd: 0x44000000, dram: 0x3fc88000, iram: 0x40374000, maxRevFull: 99 },
  esp32c3: { drom: 0x3c000020, dromEnd: 0x3c800000, irom: 0x42000020, iromEnd: 0x42800000, dram: 0x3fc88000, iram: 0x40380000, maxRevFull: 199 },
  esp32c2: { drom: 0x3c000020, dromEnd: 0x3c400000, irom: 0x42000020, iromEnd: 0x42400000, dram: 0x3fca0000, iram: 0x40380000, maxRevFull: 299 },
  esp32c6: { drom: 0x42800020, dromEnd: 0x43000000, irom: 0x42000020, iromEnd: 0x42800000, dram: 0x40810000, iram: 0x40800000, maxRevFull: 99 },
  esp32h2: { drom: 0x42800020, dromEnd: 0x43000000, irom: 0x42000020, iromEnd: 0x42800000, dram: 0x40810000, iram: 0x40800000, maxRevFull: 199 },
  esp32p4: { drom: 0x40800020, dromEnd: 0x44000000, irom: 0x40000020, iromEnd: 0x40800000, dram: 0x4ff10000, iram: 0x4ff00000, maxRevFull: 399 },
  esp32c5: { drom: 0x42800020, dromEnd: 0x44000000, irom: 0x42000020, iromEnd: 0x42800000, dram: 0x40810000, iram: 0x40800000, maxRevFull: 199 },
  esp32c61: { drom: 0x42800020, dromEnd: 0x44000000, irom: 0x42000020, iromEnd: 0x42800000, dram: 0x40810000, iram: 0x40800000, maxRevFull: 199 },
};

const MMU_PAGE = 0x10000;
/** Data bytes of the small RAM segments: enough to look like something. */
const RAM_SEGMENT_LENGTH = 16;
const DEFAULT_SIZE = 4096;

/** Segment data lengths; `irom` is absent when the image is too small for a page-aligned IROM segment. */
interface SegmentLengths {
  readonly drom: number;
  readonly dram: number;
  readonly irom?: number;
  readonly iram: number;
}

/**
 * Lengths so the segments end at `segmentsEnd`. With an IROM segment, the
 * DROM and DRAM segments together fill whole 64 KiB pages minus 16 bytes, so
 * the IROM data lands at page + 0x20, matching its load address.
 */
function planLengths(segmentsEnd: number, plan: ChipPlan): SegmentLengths {
  const fixed = APP_IMAGE_HEADER_SIZE + 3 * SEGMENT_HEADER_SIZE + RAM_SEGMENT_LENGTH * 2;
  const drom = Math.max(APP_DESC_SIZE, alignDown4(Math.floor(segmentsEnd / 5)));
  const pages = Math.ceil((drom + 16 + RAM_SEGMENT_LENGTH) / MMU_PAGE);
  const dram = pages * MMU_PAGE - 16 - drom;
  // header 24 + 4 segment headers 32 + (drom + dram) + iram = pages * 64K + 40 + iram
  const irom = segmentsEnd - (pages * MMU_PAGE + 40 + RAM_SEGMENT_LENGTH);
  if (irom < 4) {
    return { drom: segmentsEnd - fixed, dram: RAM_SEGMENT_LENGTH, iram: RAM_SEGMENT_LENGTH };
  }
  const lengths = { drom, dram, irom, iram: RAM_SEGMENT_LENGTH };
  if (drom > plan.dromEnd - plan.drom || irom > plan.iromEnd - plan.irom) {
    throw new RangeError(
      `an image of about ${segmentsEnd} bytes does not fit this chip's flash mapping (DROM ${plan.dromEnd - plan.drom} bytes, IROM ${plan.iromEnd - plan.irom} bytes)`,
    );
  }
  return lengths;
}

function alignDown4(value: number): number {
  return value - (value % 4);
}

/** xorshift32: small, fast and the same everywhere. */
function randomNumbers(seed: number): () => number {
  let state = seed >>> 0 || 0x9e3779b9;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
}

function filler(seed: number, content: 'random' | 'app-like'): (bytes: Uint8Array) => Uint8Array {
  const next = randomNumbers(seed);
  if (content === 'random') {
    return (bytes) => {
      for (let i = 0; i < bytes.length; i++) bytes[i] = next() & 0xff;
      return bytes;
    };
  }
  // Machine code repeats short sequences close by (registers, opcodes, literal
  // pools) and uses small values more than large ones: one byte in ten starts
  // a copy of 3 to 12 bytes from up to 400 bytes back; the other bytes are
  // random, half of them below 0x40. Tuned to deflate as real apps do.
  return (bytes) => {
    let i = 0;
    while (i < bytes.length) {
      const choice = next();
      if (i >= 64 && (choice & 0xff) < 25) {
        const length = 3 + ((choice >>> 8) % 10);
        const back = 1 + ((choice >>> 16) % Math.min(i, 400));
        for (let k = 0; k < length && i < bytes.length; k++, i++) bytes[i] = bytes[i - back]!;
      } else {
        const value = next();
        bytes[i++] = value & 1 ? (value >>> 8) & 0x3f : (value >>> 8) & 0xff;
      }
    }
    return bytes;
  };
}

function resolveChipPlan(chipName: string): { id: number; name: string; plan: ChipPlan } {
  const chip = chipByName(chipName);
  const plan = chip ? CHIP_PLANS[chip.name] : undefined;
  if (!chip || !plan) {
    throw new RangeError(`cannot build an app image for chip ${JSON.stringify(chipName)}; known: ${CHIPS.map((c) => c.name).join(', ')}`);
  }
  return { id: chip.id, name: chip.name, plan };
}

function indexOfName(names: readonly string[], name: string, what: string): number {
  const index = names.indexOf(name.toUpperCase());
  if (index < 0) throw new RangeError(`unknown ${what} ${JSON.stringify(name)}; known: ${names.join(', ')}`);
  return index;
}

/** The smallest image length (with or without the appended hash). */
export function minimumAppImageSize(hashAppended = true): number {
  const segmentsEnd = APP_IMAGE_HEADER_SIZE + 3 * SEGMENT_HEADER_SIZE + APP_DESC_SIZE + 2 * RAM_SEGMENT_LENGTH;
  return checksumOffsetAfter(segmentsEnd) + 1 + (hashAppended ? APP_IMAGE_HASH_SIZE : 0);
}

export function buildAppImage(options: AppImageBuildOptions = {}): Uint8Array {
  const chip = resolveChipPlan(options.chip ?? 'esp32');
  const hashAppended = options.hashAppended ?? true;
  const hashLength = hashAppended ? APP_IMAGE_HASH_SIZE : 0;
  const size = Math.max(options.size ?? DEFAULT_SIZE, minimumAppImageSize(hashAppended));
  // Segment lengths are multiples of 4 after a 24-byte header, so the segments
  // end on a multiple of 4 and the checksum block needs 4 more bytes.
  const segmentsEnd = Math.floor((size - hashLength) / 16) * 16 - 4;
  const lengths = planLengths(segmentsEnd, chip.plan);
  const fill = filler(options.seed ?? 1, options.content ?? 'random');

  const flashMode = indexOfName(FLASH_MODE_NAMES.slice(0, 4), options.flashMode ?? 'DIO', 'flash mode');
  const flashSize = indexOfName(FLASH_SIZE_NAMES, options.flashSize ?? '4MB', 'flash size');
  const flashFreq = options.flashFreq === undefined ? 0 : flashFreqCode(chip.name, options.flashFreq);
  if (flashFreq === undefined) throw new RangeError(`${chip.name} has no flash frequency ${JSON.stringify(options.flashFreq)}`);

  const drom = fill(new Uint8Array(lengths.drom));
  drom.set(
    encodeAppDescription({
      secureVersion: options.secureVersion ?? 0,
      version: options.version ?? '0.1.0',
      projectName: options.projectName ?? 'app',
      time: options.time ?? '00:00:00',
      date: options.date ?? 'Jan  1 2024',
      idfVersion: options.idfVersion ?? 'v5.2.2',
      appElfSha256: options.appElfSha256 ?? toHex(fill(new Uint8Array(32))),
      minEfuseBlkRevFull: 0,
      maxEfuseBlkRevFull: 0,
      mmuPageSizeLog2: 16,
      // CONFIG_ESPTOOLPY_FLASHMODE_VAL counts from 1 (QIO) so that 0 can mean "not recorded".
      spiFlashMode: flashMode + 1,
    }),
  );
  const { plan } = chip;
  const segments: AppSegmentContent[] = [
    { loadAddress: plan.drom, data: drom },
    { loadAddress: plan.dram, data: fill(new Uint8Array(lengths.dram)) },
  ];
  if (lengths.irom !== undefined) segments.push({ loadAddress: plan.irom, data: fill(new Uint8Array(lengths.irom)) });
  segments.push({ loadAddress: plan.iram, data: fill(new Uint8Array(lengths.iram)) });

  const header: AppImageHeaderFields = {
    flashMode,
    flashSize,
    flashFreq,
    entryAddress: plan.iram,
    wpPin: WP_PIN_DISABLED,
    spiPinDrv: [0, 0, 0],
    chipId: chip.id,
    minChipRev: Math.floor((options.minChipRevFull ?? 0) / 100),
    minChipRevFull: options.minChipRevFull ?? 0,
    maxChipRevFull: options.maxChipRevFull ?? plan.maxRevFull,
    reserved: [0, 0, 0, 0],
    hashAppended,
  };
  return encodeAppImage({ header, segments }, options.sha256 ? { sha256: options.sha256 } : {});
}

/**
 * Recomputes the checksum byte and the appended SHA-256 in place after a test
 * changed some bytes, so that only the intended change is wrong. Throws
 * FormatError if the structure can no longer be read.
 */
export function resealAppImage(bytes: Uint8Array, options: { readonly sha256?: Sha256 } = {}): Uint8Array {
  const image = parseAppImage(bytes);
  bytes[image.checksumOffset] = segmentChecksum(image.segments);
  if (image.header.hashAppended) {
    const hashOffset = image.checksumOffset + 1;
    bytes.set((options.sha256 ?? defaultSha256)(bytes.subarray(0, hashOffset)), hashOffset);
  }
  return bytes;
}
