import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import {
  APP_DESC_MAGIC,
  APP_IMAGE_MAGIC,
  AppImageError,
  appImageLength,
  encodeAppImage,
  inspectAppImage,
  isFlashMappedAddress,
  looksLikeAppImage,
  parseAppImage,
  verifyAppImage,
  type AppImageProblemKind,
  type AppImageCheckOptions,
  type AppSegmentContent,
} from '../../src/format/app-image.js';
import { buildAppImage, resealAppImage } from '../../src/format/app-image-builder.js';
import { dataView, toHex } from '../../src/format/bytes.js';
import { FormatError } from '../../src/format/errors.js';
import { sha256 } from '../../src/format/hash.js';

// dist/test/format/ → repo root is three levels up; shared/ sits beside the repo.
const TESTDATA = new URL('../../../../shared/testdata/', import.meta.url);
const FIRMWARE_PATH = fileURLToPath(new URL('ESP32_GENERIC-20240602-v1.23.0.bin', TESTDATA));
const APP_OFFSET = 0xf000;

function loadRealApp(): Uint8Array | undefined {
  if (!existsSync(FIRMWARE_PATH)) return undefined;
  const file = readFileSync(FIRMWARE_PATH);
  return new Uint8Array(file.buffer, file.byteOffset, file.byteLength).subarray(APP_OFFSET);
}

function kinds(bytes: Uint8Array, options: AppImageCheckOptions = {}): AppImageProblemKind[] {
  return inspectAppImage(bytes, options).problems.map((problem) => problem.kind);
}

function assertProblem(bytes: Uint8Array, kind: AppImageProblemKind, message: RegExp, offset: number, options: AppImageCheckOptions = {}): void {
  assert.throws(
    () => verifyAppImage(bytes, options),
    (error: unknown) => {
      assert.ok(error instanceof FormatError, 'a FormatError');
      assert.ok(error instanceof AppImageError);
      assert.equal(error.kind, kind);
      assert.match(error.message, message);
      assert.equal(error.offset, offset);
      return true;
    },
  );
}

function flip(bytes: Uint8Array, at: number, mask: number): void {
  bytes[at] = bytes[at]! ^ mask;
}

/** Recomputes only the appended hash, leaving a wrong checksum wrong. */
function rehash(bytes: Uint8Array): Uint8Array {
  const image = parseAppImage(bytes);
  bytes.set(sha256(bytes.subarray(0, image.checksumOffset + 1)), image.checksumOffset + 1);
  return bytes;
}

describe('app image: the real MicroPython v1.23.0 firmware', () => {
  const app = loadRealApp();
  const skip = app ? false : `missing test firmware ${FIRMWARE_PATH}`;

  it('parses header, segments and length as esptool image_info shows them', { skip }, () => {
    const image = verifyAppImage(app!, { expectedChip: 'esp32' });
    assert.equal(image.length, 1_672_800);
    const { header } = image;
    assert.equal(header.magic, APP_IMAGE_MAGIC);
    assert.equal(header.chip, 'esp32');
    assert.equal(header.chipId, 0);
    assert.equal(header.flashModeName, 'DIO');
    assert.equal(header.flashSizeName, '4MB');
    assert.equal(header.flashSizeBytes, 4 * 1024 * 1024);
    assert.equal(header.flashFreqName, '40m');
    assert.equal(header.entryAddress, 0x40081528);
    assert.equal(header.wpPin, 0xee);
    assert.equal(header.minChipRevFull, 0);
    assert.equal(header.maxChipRevFull, 399);
    assert.equal(header.hashAppended, true);
    // esptool lists the segment header offset as "File offs"; data starts 8 bytes later.
    assert.deepEqual(
      image.segments.map((s) => [s.loadAddress, s.length, s.headerOffset, s.dataOffset]),
      [
        [0x3f400020, 0x3ee40, 0x18, 0x20],
        [0x3ff80063, 0x8, 0x3ee60, 0x3ee68],
        [0x3ffbdb60, 0x11a0, 0x3ee70, 0x3ee78],
        [0x400d0020, 0x134f7c, 0x40018, 0x40020],
        [0x3ffbed00, 0x4104, 0x174f9c, 0x174fa4],
        [0x40080000, 0x1f520, 0x1790a8, 0x1790b0],
        [0x400c0000, 0x64, 0x1985d0, 0x1985d8],
      ],
    );
    assert.equal(image.checksumOffset, 1_672_767);
    assert.equal(image.storedChecksum, 0x00);
    assert.equal(image.computedChecksum, 0x00);
  });

  it('has an appended SHA-256 of its first length - 32 bytes (the value esptool computes)', { skip }, () => {
    const image = verifyAppImage(app!);
    const expected = '07333551415cde6c37dc0e190b4f0b4e23c26680b0e229f4a8e9858c31117c98';
    assert.equal(toHex(image.storedSha256!), expected);
    assert.equal(toHex(image.computedSha256!), expected);
    assert.equal(toHex(sha256(app!.subarray(0, image.length - 32))), expected);
  });

  it('reads esp_app_desc_t; MicroPython builds leave version and project name empty', { skip }, () => {
    // ports/esp32/boards/sdkconfig.base sets CONFIG_APP_EXCLUDE_PROJECT_VER_VAR and
    // ..._NAME_VAR, so esp_app_desc.c stores "" for both (esptool shows them empty too).
    const { description } = parseAppImage(app!);
    assert.deepEqual(description, {
      secureVersion: 0,
      version: '',
      projectName: '',
      time: '06:51:35',
      date: 'Jun  2 2024',
      idfVersion: 'v5.0.4',
      appElfSha256: '9c4248e4297d02ec0ebf0578047e6303e741850b2b354f0116b8f18882849660',
      minEfuseBlkRevFull: 0,
      maxEfuseBlkRevFull: 0,
      mmuPageSizeLog2: 0,
      spiFlashMode: 0,
    });
  });

  it('re-encodes to identical bytes', { skip }, () => {
    const encoded = encodeAppImage(parseAppImage(app!));
    assert.equal(encoded.length, app!.length);
    assert.ok(encoded.every((byte, i) => byte === app![i]), 'encode(parse(app)) differs from app');
  });

  it('finds its length inside an erased partition and verifies there', { skip }, () => {
    const partition = new Uint8Array(0x1a0000).fill(0xff);
    partition.set(app!);
    assert.equal(appImageLength(partition), 1_672_800);
    assert.equal(verifyAppImage(partition, { partitionSize: partition.length }).length, 1_672_800);
  });

  it('does not fit the 0x180000-byte OTA slot of MicroPython 4 MiB OTA tables', { skip }, () => {
    assertProblem(app!, 'too-large-for-partition', /image is 1672800 bytes, larger than its 1572864-byte partition/, 0x180000, { partitionSize: 0x180000 });
  });

  it('is refused for another chip, naming both', { skip }, () => {
    assertProblem(app!, 'wrong-chip', /expected esp32s3 \(chip id 9\), image is for esp32 \(chip id 0\)/, 12, { expectedChip: 'esp32s3' });
    assert.equal(verifyAppImage(app!, { expectedChip: 0 }).header.chip, 'esp32');
  });

  it('checks the chip revision against min/max_chip_rev_full like the bootloader', { skip }, () => {
    assert.equal(verifyAppImage(app!, { chipRevision: 301 }).length, 1_672_800);
    assertProblem(app!, 'chip-revision', /chip revision v4\.0 is above the image's maximum v3\.99/, 17, { chipRevision: 400 });
  });

  it('uses the injected SHA-256 function', { skip }, () => {
    const seen: number[] = [];
    const recording = (data: Uint8Array) => {
      seen.push(data.length);
      return sha256(data);
    };
    verifyAppImage(app!, { sha256: recording });
    assert.deepEqual(seen, [1_672_768]);
    assertProblem(app!, 'bad-sha256', /bad SHA-256 \(image corrupt\): stored 0733.*, computed 0{64}/, 1_672_768, { sha256: () => new Uint8Array(32) });
  });

  it('looks like an app image; the bootloader at file offset 0 does not (no app description)', { skip }, () => {
    assert.equal(looksLikeAppImage(app!), true);
    const file = readFileSync(FIRMWARE_PATH);
    const bootloader = new Uint8Array(file.buffer, file.byteOffset, 0x7000);
    assert.equal(bootloader[0], APP_IMAGE_MAGIC);
    assert.equal(looksLikeAppImage(bootloader), false);
  });
});

describe('app image: each problem ESP-IDF checks, reported precisely', () => {
  const good = buildAppImage({ chip: 'esp32', size: 80_000, seed: 3 });
  const copy = () => good.slice();

  it('starts from a builder image with no problems', () => {
    assert.deepEqual(kinds(good, { expectedChip: 'esp32' }), []);
  });

  it('bad magic byte', () => {
    const bytes = copy();
    bytes[0] = 0xff;
    assertProblem(bytes, 'bad-magic', /magic byte 0xff, expected 0xe9/, 0);
    assertProblem(new Uint8Array(0), 'bad-magic', /no bytes/, 0);
  });

  it('truncated header', () => {
    assertProblem(good.subarray(0, 10), 'truncated-header', /need 24 bytes, have 10/, 0);
  });

  it('truncated segment header and truncated segment data, saying how much is missing', () => {
    const image = parseAppImage(good);
    const irom = image.segments[2]!;
    assertProblem(good.subarray(0, irom.headerOffset + 3), 'truncated-segment', /segment 2 of 4: header truncated, 5 of its 8 bytes missing/, irom.headerOffset);
    const cut = irom.dataOffset + 100;
    assertProblem(
      good.subarray(0, cut),
      'truncated-segment',
      new RegExp(`segment 2 \\(load 0x400d0020\\) truncated: needs ${irom.length} bytes of data, only 100 present \\(${irom.length - 100} missing\\)`),
      irom.dataOffset,
    );
  });

  it('too many segments (more than 16)', () => {
    const parsed = parseAppImage(good);
    const extra = Array.from({ length: 14 }, () => ({ loadAddress: 0x3ffb8000, data: new Uint8Array(4) }));
    const bytes = encodeAppImage({ header: parsed.header, segments: [...parsed.segments, ...extra] });
    assertProblem(bytes, 'too-many-segments', /segment count 18 exceeds the maximum of 16/, 1);
    assert.equal(parseAppImage(bytes).segments.length, 18, 'the structure is still readable');
  });

  it('segment length not a multiple of 4, and a length beyond 16 MiB', () => {
    const parsed = parseAppImage(good);
    const segments: AppSegmentContent[] = [...parsed.segments];
    segments[1] = { ...segments[1]!, data: new Uint8Array(18) };
    const bytes = encodeAppImage({ header: parsed.header, segments });
    assertProblem(bytes, 'bad-segment-length', /segment 1 \(load 0x3ffb0000\) length 0x12 is not a multiple of 4/, parsed.segments[1]!.headerOffset + 4);

    const huge = copy();
    dataView(huge).setUint32(parsed.segments[1]!.headerOffset + 4, 0x1000000, true);
    assert.deepEqual(kinds(huge), ['bad-segment-length', 'truncated-segment']);
    assert.match(inspectAppImage(huge).problems[0]!.message, /length 0x1000000 is too long \(must be below 0x1000000\)/);
  });

  it('does not follow a corrupted length: 0xFFFFFFFC is reported as missing bytes', () => {
    const bytes = copy();
    dataView(bytes).setUint32(24 + 4, 0xfffffffc, true);
    const { image, problems } = inspectAppImage(bytes);
    assert.equal(image, undefined);
    assert.equal(problems.at(-1)!.kind, 'truncated-segment');
    assert.match(problems.at(-1)!.message, new RegExp(`only ${bytes.length - 32} present \\(${0xfffffffc - (bytes.length - 32)} missing\\)`));
  });

  it('first segment too short for the app description', () => {
    const parsed = parseAppImage(good);
    const segments = [{ loadAddress: parsed.segments[0]!.loadAddress, data: parsed.segments[0]!.data.slice(0, 64) }, ...parsed.segments.slice(1)];
    const bytes = encodeAppImage({ header: parsed.header, segments });
    assertProblem(bytes, 'missing-app-description', /segment 0 \(load 0x3f400020\) is 64 bytes, too short for the 256-byte app description/, 28);
    assert.equal(parseAppImage(bytes).description, undefined);
  });

  it('bad app description magic', () => {
    const bytes = copy();
    flip(bytes, 32, 0x01);
    resealAppImage(bytes);
    assertProblem(bytes, 'bad-app-description-magic', /app description magic is 0xabcd5433, expected 0xabcd5432/, 32);
    assert.equal(parseAppImage(bytes).description, undefined);
    assert.equal(APP_DESC_MAGIC, 0xabcd5432);
  });

  it('a flash-mapped segment whose data is not at its load address modulo the MMU page', () => {
    const parsed = parseAppImage(good);
    const segments: AppSegmentContent[] = [...parsed.segments];
    segments[2] = { loadAddress: 0x400d0024, data: segments[2]!.data };
    const bytes = encodeAppImage({ header: parsed.header, segments });
    assertProblem(bytes, 'misaligned-segment', /segment 2 \(load 0x400d0024\) is flash-mapped but its data offset 0x10020 does not match/, 0x10020);
    // RAM segments may sit anywhere.
    segments[2] = { loadAddress: 0x3ffb4000, data: segments[2]!.data };
    assert.deepEqual(kinds(encodeAppImage({ header: parsed.header, segments })), []);
  });

  it('bad checksum: stored vs computed', () => {
    const bytes = copy();
    const { checksumOffset, storedChecksum } = parseAppImage(bytes);
    bytes[checksumOffset] = storedChecksum ^ 0x5a;
    rehash(bytes);
    const expected = new RegExp(`bad checksum: stored 0x${(storedChecksum ^ 0x5a).toString(16).padStart(2, '0')}, computed 0x${storedChecksum.toString(16).padStart(2, '0')}`);
    assertProblem(bytes, 'bad-checksum', expected, checksumOffset);
    assert.deepEqual(kinds(bytes), ['bad-checksum']);
  });

  it('truncated checksum and truncated hash', () => {
    const { checksumOffset } = parseAppImage(good);
    assertProblem(good.subarray(0, checksumOffset), 'truncated-checksum', /checksum missing/, checksumOffset - 3);
    assertProblem(good.subarray(0, good.length - 10), 'truncated-hash', /10 of its 32 bytes missing/, checksumOffset + 1);
  });

  it('bad SHA-256', () => {
    const bytes = copy();
    flip(bytes, bytes.length - 1, 0xff);
    assertProblem(bytes, 'bad-sha256', /bad SHA-256/, bytes.length - 32);
    assert.deepEqual(kinds(bytes), ['bad-sha256']);
  });

  it('wrong chip and unknown chip', () => {
    const bytes = copy();
    dataView(bytes).setUint16(12, 0x0005, true);
    resealAppImage(bytes);
    assertProblem(bytes, 'wrong-chip', /expected esp32 \(chip id 0\), image is for esp32c3 \(chip id 5\)/, 12, { expectedChip: 'esp32' });
    dataView(bytes).setUint16(12, 0x1234, true);
    resealAppImage(bytes);
    assertProblem(bytes, 'unknown-chip', /unknown chip id 0x1234/, 12);
    assert.throws(() => inspectAppImage(good, { expectedChip: 'esp8266' }), RangeError);
  });

  it('lists problems in the order ESP-IDF checks them, and verify throws the first', () => {
    const bytes = copy();
    flip(bytes, 100, 1); // segment data → checksum and SHA
    // On an ESP32-S2, 0x40080000 (our IRAM segment) is flash-mapped IROM, so it is misaligned there.
    assert.deepEqual(kinds(bytes, { expectedChip: 'esp32s2', partitionSize: 1000 }), [
      'wrong-chip',
      'misaligned-segment',
      'bad-checksum',
      'too-large-for-partition',
      'bad-sha256',
    ]);
    assertProblem(bytes, 'wrong-chip', /expected esp32s2/, 12, { expectedChip: 'esp32s2' });
  });

  it('any non-zero hash_appended byte means a hash follows (as in ESP-IDF)', () => {
    const bytes = copy();
    bytes[23] = 2;
    const image = verifyAppImage(rehash(bytes));
    assert.equal(image.header.hashAppended, true);
    assert.equal(image.length, good.length);
  });

  it('without an appended hash, padding is not covered by anything', () => {
    const bytes = buildAppImage({ size: 4096, hashAppended: false });
    const image = verifyAppImage(bytes);
    assert.equal(image.storedSha256, undefined);
    assert.equal(image.length, 4096);
    flip(bytes, image.checksumOffset - 1, 0xff); // a padding byte
    assert.deepEqual(kinds(bytes), []);
  });

  it('parseAppImage checks structure only', () => {
    const bytes = copy();
    flip(bytes, 200, 0xff);
    dataView(bytes).setUint16(12, 0x1234, true);
    const image = parseAppImage(bytes);
    assert.notEqual(image.storedChecksum, image.computedChecksum);
    assert.equal(image.computedSha256, undefined);
    assert.equal(image.header.chip, undefined);
    assert.match(image.header.flashFreqName, /unknown/);
  });
});

describe('app image: properties', () => {
  const chips = ['esp32', 'esp32s3', 'esp32c3', 'esp32c6'];
  const images = new Map(chips.map((chip) => [chip, buildAppImage({ chip, size: 70_000, seed: 11 })]));

  it('a single corrupted byte in segment data is a checksum or SHA error, never anything else', () => {
    fc.assert(
      fc.property(fc.constantFrom(...chips), fc.nat(), fc.nat(), fc.integer({ min: 1, max: 255 }), (chip, segmentPick, offsetPick, delta) => {
        const bytes = images.get(chip)!.slice();
        const { segments } = parseAppImage(bytes);
        const segment = segments[segmentPick % segments.length]!;
        // Segment 0 starts with the app description, whose magic and MMU page size are checked on their own.
        const start = segment.index === 0 ? 256 : 0;
        const at = segment.dataOffset + start + (offsetPick % (segment.length - start));
        flip(bytes, at, delta);
        const problems = kinds(bytes, { expectedChip: chip });
        assert.deepEqual(problems, ['bad-checksum', 'bad-sha256']);
        assert.throws(() => verifyAppImage(bytes), (error: unknown) => error instanceof AppImageError && error.kind === 'bad-checksum');
      }),
      { numRuns: 60 },
    );
  });

  it('a corrupted text field of the app description is also only a checksum/SHA error', () => {
    fc.assert(
      fc.property(fc.integer({ min: 16, max: 175 }), fc.integer({ min: 1, max: 255 }), (offset, delta) => {
        const bytes = images.get('esp32')!.slice();
        flip(bytes, 32 + offset, delta);
        assert.deepEqual(kinds(bytes), ['bad-checksum', 'bad-sha256']);
      }),
      { numRuns: 30 },
    );
  });

  const smallImage = buildAppImage({ size: 1024, seed: 5 });
  const anyBytes = fc.oneof(
    fc.uint8Array({ maxLength: 600 }),
    fc.uint8Array({ minLength: 1, maxLength: 600 }).map((bytes) => {
      bytes[0] = APP_IMAGE_MAGIC;
      return bytes;
    }),
    fc.tuple(fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 6 }), fc.nat()).map(([writes, cut]) => {
      const bytes = smallImage.slice(0, smallImage.length - (cut % 64));
      for (const [at, value] of writes) bytes[at % bytes.length] = value;
      return bytes;
    }),
  );

  it('never throws anything but FormatError on arbitrary bytes', () => {
    fc.assert(
      fc.property(anyBytes, (bytes) => {
        const onlyFormatErrors = (run: () => unknown) => {
          try {
            run();
          } catch (error) {
            assert.ok(error instanceof FormatError, `threw ${String(error)}`);
          }
        };
        onlyFormatErrors(() => parseAppImage(bytes));
        onlyFormatErrors(() => verifyAppImage(bytes, { expectedChip: 'esp32', chipRevision: 100, partitionSize: 512 }));
        onlyFormatErrors(() => appImageLength(bytes));
        const result = inspectAppImage(bytes);
        assert.ok(result.problems.every((problem) => problem instanceof FormatError));
        assert.equal(typeof looksLikeAppImage(bytes), 'boolean');
        if (result.image) assert.ok(result.image.length <= bytes.length);
      }),
      { numRuns: 400 },
    );
  });

  it('knows which addresses are flash-mapped per chip', () => {
    assert.equal(isFlashMappedAddress('esp32', 0x3f400020), true);
    assert.equal(isFlashMappedAddress('esp32', 0x400d0020), true);
    assert.equal(isFlashMappedAddress('esp32', 0x40080000), false);
    assert.equal(isFlashMappedAddress('esp32c3', 0x3c000020), true);
    assert.equal(isFlashMappedAddress('esp32c3', 0x3f400020), false);
    assert.equal(isFlashMappedAddress('nonesuch', 0x3f400020), false);
  });
});
