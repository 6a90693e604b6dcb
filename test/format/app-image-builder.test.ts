import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { buildAppImage, minimumAppImageSize, resealAppImage } from '../../src/format/app-image-builder.js';
import { encodeAppImage, inspectAppImage, isFlashMappedAddress, parseAppImage, verifyAppImage } from '../../src/format/app-image.js';
import { chipByName, CHIPS } from '../../src/format/chips.js';
import { toHex } from '../../src/format/bytes.js';

const MMU_PAGE = 0x10000;

describe('app image builder', () => {
  it('builds a small valid ESP32 app by default', () => {
    const bytes = buildAppImage();
    const image = verifyAppImage(bytes, { expectedChip: 'esp32' });
    assert.equal(bytes.length, 4096);
    assert.equal(image.length, 4096);
    assert.equal(image.header.flashModeName, 'DIO');
    assert.equal(image.header.flashSizeName, '4MB');
    assert.equal(image.header.flashFreqName, '40m');
    assert.equal(image.header.maxChipRevFull, 399);
    assert.deepEqual(
      image.segments.map((s) => s.loadAddress),
      [0x3f400020, 0x3ffb0000, 0x40080000],
    );
    assert.equal(image.description?.version, '0.1.0');
    assert.equal(image.description?.mmuPageSizeLog2, 16);
    assert.equal(image.description?.spiFlashMode, 3, 'CONFIG_ESPTOOLPY_FLASHMODE_VAL of DIO');
  });

  it('matches what esptool image_info reported for the same build (independent checksum and SHA-256)', () => {
    // esptool (run locally from its source on this exact output) printed:
    //   0  0x00f8c  0x3f400020  0x00000018  DROM
    //   1  0x00010  0x3ffb0000  0x00000fac  BYTE_ACCESSIBLE, DRAM
    //   2  0x00010  0x40080000  0x00000fc4  IRAM
    //   Checksum: 0x11 (valid)
    //   Validation hash: b4f56540825d8c06d3b6b91dcb844a6dc8b7c994e18b16ae78207a44d196b9e5 (valid)
    const bytes = buildAppImage({ chip: 'esp32', size: 4096, seed: 7 });
    const image = verifyAppImage(bytes);
    assert.deepEqual(
      image.segments.map((s) => [s.length, s.loadAddress, s.headerOffset]),
      [
        [0xf8c, 0x3f400020, 0x18],
        [0x10, 0x3ffb0000, 0xfac],
        [0x10, 0x40080000, 0xfc4],
      ],
    );
    assert.equal(image.storedChecksum, 0x11);
    assert.equal(toHex(image.computedSha256!), 'b4f56540825d8c06d3b6b91dcb844a6dc8b7c994e18b16ae78207a44d196b9e5');
  });

  it('lays out a large image like elf2image: DROM first, IROM data at its load address within a 64 KiB page', () => {
    for (const chip of CHIPS) {
      const bytes = buildAppImage({ chip: chip.name, size: 1_672_800 });
      const image = verifyAppImage(bytes, { expectedChip: chip.name });
      assert.equal(image.length, 1_672_800, chip.name);
      const [drom, , irom] = image.segments;
      assert.ok(isFlashMappedAddress(chip.name, drom!.loadAddress), `${chip.name}: first segment is flash-mapped`);
      assert.ok(isFlashMappedAddress(chip.name, irom!.loadAddress), `${chip.name}: third segment is flash-mapped`);
      for (const segment of image.segments.filter((s) => isFlashMappedAddress(chip.name, s.loadAddress))) {
        assert.equal(segment.dataOffset % MMU_PAGE, segment.loadAddress % MMU_PAGE, `${chip.name} segment ${segment.index}`);
      }
      const entrySegment = image.segments.find((s) => s.loadAddress <= image.header.entryAddress && image.header.entryAddress < s.loadAddress + s.length);
      assert.ok(entrySegment && !isFlashMappedAddress(chip.name, entrySegment.loadAddress), `${chip.name}: entry point in a RAM segment`);
    }
  });

  it('rounds the size down so the checksum ends a 16-byte block, never below the minimum', () => {
    // with hash: floor((5000 - 32) / 16) * 16 + 32; without: floor(5000 / 16) * 16
    assert.equal(buildAppImage({ size: 5000 }).length, 4992);
    assert.equal(buildAppImage({ size: 5000, hashAppended: false }).length, 4992);
    assert.equal(buildAppImage({ size: 5010 }).length, 5008);
    assert.equal(buildAppImage({ size: 5024 }).length, 5024);
    assert.equal(buildAppImage({ size: 0 }).length, minimumAppImageSize());
    assert.equal(minimumAppImageSize(), 384);
    assert.equal(minimumAppImageSize(false), 352);
    verifyAppImage(buildAppImage({ size: 0 }));
    verifyAppImage(buildAppImage({ size: 0, hashAppended: false }));
  });

  it('refuses what it cannot build, saying why', () => {
    assert.throws(() => buildAppImage({ chip: 'esp8266' }), /cannot build an app image for chip "esp8266"; known: esp32, /);
    assert.throws(() => buildAppImage({ size: 16 * 1024 * 1024 }), /does not fit this chip's flash mapping/);
    // esptool's C3 inherits the ESP32 frequency table (26m = 1); the C6 has its own.
    assert.equal(parseAppImage(buildAppImage({ flashFreq: '26m', chip: 'esp32c3' })).header.flashFreq, 1);
    assert.throws(() => buildAppImage({ flashFreq: '26m', chip: 'esp32c6' }), /esp32c6 has no flash frequency "26m"/);
    assert.throws(() => buildAppImage({ version: 'x'.repeat(33) }), /longer than its 32-byte field/);
  });

  it('is deterministic for a seed and differs between seeds', () => {
    const a = buildAppImage({ size: 20_000, seed: 42 });
    assert.deepEqual(buildAppImage({ size: 20_000, seed: 42 }), a);
    assert.notDeepEqual(buildAppImage({ size: 20_000, seed: 43 }), a);
  });

  const textArbitrary = (maxLength: number) => fc.string({ unit: 'grapheme-ascii', maxLength });
  const buildArbitrary = fc.record({
    chip: fc.constantFrom(...CHIPS.map((c) => c.name)),
    size: fc.integer({ min: 0, max: 200_000 }),
    version: textArbitrary(32),
    projectName: textArbitrary(32),
    idfVersion: textArbitrary(32),
    date: textArbitrary(16),
    time: textArbitrary(16),
    secureVersion: fc.integer({ min: 0, max: 0xffffffff }),
    hashAppended: fc.boolean(),
    seed: fc.integer({ min: 0, max: 0xffffffff }),
    flashMode: fc.constantFrom('QIO', 'QOUT', 'DIO', 'DOUT'),
    flashSize: fc.constantFrom('1MB', '2MB', '4MB', '8MB', '16MB', '32MB', '64MB', '128MB'),
  });

  it('random parameters give a valid image whose parse gives them back, and that re-encodes identically', () => {
    fc.assert(
      fc.property(buildArbitrary, (options) => {
        const bytes = buildAppImage(options);
        const image = verifyAppImage(bytes, { expectedChip: options.chip });
        const hashLength = options.hashAppended ? 32 : 0;
        assert.equal(image.length, bytes.length);
        assert.equal(bytes.length, Math.max(minimumAppImageSize(options.hashAppended), Math.floor((options.size - hashLength) / 16) * 16 + hashLength));
        assert.equal(image.header.chipId, chipByName(options.chip)!.id);
        assert.equal(image.header.chip, options.chip);
        assert.equal(image.header.hashAppended, options.hashAppended);
        assert.equal(image.header.flashModeName, options.flashMode);
        assert.equal(image.header.flashSizeName, options.flashSize);
        const description = image.description!;
        assert.equal(description.version, options.version);
        assert.equal(description.projectName, options.projectName);
        assert.equal(description.idfVersion, options.idfVersion);
        assert.equal(description.date, options.date);
        assert.equal(description.time, options.time);
        assert.equal(description.secureVersion, options.secureVersion);
        assert.deepEqual(encodeAppImage(parseAppImage(bytes)), bytes);
      }),
      { numRuns: 60 },
    );
  });

  it('reseals an edited image so that only the edit is wrong', () => {
    const bytes = buildAppImage({ size: 8192, seed: 9 });
    const before = parseAppImage(bytes);
    const edited = bytes.slice();
    edited[1000] = edited[1000]! ^ 0x80;
    assert.deepEqual(
      inspectAppImage(edited).problems.map((p) => p.kind),
      ['bad-checksum', 'bad-sha256'],
    );
    resealAppImage(edited);
    const after = verifyAppImage(edited);
    const changed = [...edited.keys()].filter((i) => edited[i] !== bytes[i]);
    assert.ok(changed.includes(1000));
    assert.ok(changed.every((i) => i === 1000 || i === before.checksumOffset || i > before.checksumOffset), `changed: ${changed.slice(0, 5).join(', ')}`);
    assert.notEqual(after.storedChecksum, before.storedChecksum);
  });
});
