import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import {
  PARTITION_TABLE_MAX_LENGTH,
  PartitionType,
  appPartitions,
  encodePartitionTable,
  factoryPartition,
  findPartition,
  otaAppPartitions,
  otadataPartition,
  parsePartitionTable,
  subtypeName,
  testAppPartition,
  typeName,
  validatePartitionTable,
  type Partition,
  type PartitionTable,
} from '../../src/format/partition-table.js';
import { FormatError } from '../../src/format/errors.js';
import { md5 } from '../../src/format/hash.js';

const fixtures = fileURLToPath(new URL('../../../test/fixtures/partitions/', import.meta.url));
const firmwarePath = fileURLToPath(new URL('../../../../shared/testdata/ESP32_GENERIC-20240602-v1.23.0.bin', import.meta.url));
const FIRMWARE_TABLE_OFFSET = 0x7000;

function fixture(name: string): Uint8Array {
  return new Uint8Array(readFileSync(fixtures + name));
}

function part(label: string, type: number, subtype: number, offset: number, size: number, flags: Partial<Partition> = {}): Partition {
  return { label, type, subtype, offset, size, encrypted: false, readonly: false, ...flags };
}

/** The seed's 4 MiB OTA layout. */
const otaLayout: PartitionTable = {
  hasMd5: true,
  partitions: [
    part('nvs', 1, 0x02, 0x9000, 0x4000),
    part('otadata', 1, 0x00, 0xd000, 0x2000),
    part('phy_init', 1, 0x01, 0xf000, 0x1000),
    part('ota_0', 0, 0x10, 0x10000, 0x180000),
    part('ota_1', 0, 0x11, 0x190000, 0x180000),
    part('vfs', 1, 0x81, 0x310000, 0xf0000),
  ],
};

function throwsFormatError(fn: () => unknown, problem: RegExp, offset?: number): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof FormatError, `expected a FormatError, got ${String(error)}`);
    assert.match(error.message, problem);
    if (offset !== undefined) assert.equal(error.offset, offset, error.message);
    return true;
  });
}

const copy = (bytes: Uint8Array): Uint8Array => new Uint8Array(bytes);

describe('partition table: the real MicroPython v1.23.0 firmware', () => {
  it('parses the table at file offset 0x7000 and writes it back byte for byte', (t) => {
    if (!existsSync(firmwarePath)) {
      t.skip(`test firmware missing: ${firmwarePath}`);
      return;
    }
    const tableBytes = new Uint8Array(readFileSync(firmwarePath)).subarray(
      FIRMWARE_TABLE_OFFSET,
      FIRMWARE_TABLE_OFFSET + PARTITION_TABLE_MAX_LENGTH,
    );
    const table = parsePartitionTable(tableBytes);
    assert.deepEqual(table, {
      hasMd5: true,
      partitions: [
        part('nvs', 1, 0x02, 0x9000, 0x6000),
        part('phy_init', 1, 0x01, 0xf000, 0x1000),
        part('factory', 0, 0x00, 0x10000, 0x1f0000),
        part('vfs', 1, 0x81, 0x200000, 0x200000),
      ],
    });
    assert.deepEqual(encodePartitionTable(table), tableBytes);
    validatePartitionTable(table, { flashSize: 4 * 1024 * 1024 });
  });
});

describe('partition table: binary codec', () => {
  const binFixtures = readdirSync(fixtures).filter((name) => name.endsWith('.bin'));

  it('has gen_esp32part.py fixtures with and without MD5', () => {
    assert.ok(binFixtures.length >= 10);
    assert.ok(binFixtures.includes('micropython-ota-4mib.nomd5.bin'));
  });

  for (const name of binFixtures) {
    it(`round-trips ${name} byte for byte`, () => {
      const bytes = fixture(name);
      const table = parsePartitionTable(bytes);
      assert.equal(table.hasMd5, !name.includes('nomd5'));
      assert.deepEqual(encodePartitionTable(table), bytes);
    });
  }

  it('decodes every field of the seed layout (gen_esp32part.py output)', () => {
    assert.deepEqual(parsePartitionTable(fixture('micropython-ota-4mib.bin')), otaLayout);
    assert.deepEqual(parsePartitionTable(fixture('micropython-ota-4mib.nomd5.bin')), { ...otaLayout, hasMd5: false });
  });

  it('decodes the encrypted and readonly flags', () => {
    const { partitions } = parsePartitionTable(fixture('flags.bin'));
    assert.deepEqual(
      partitions.map((p) => [p.label, p.encrypted, p.readonly]),
      [
        ['nvs', true, false],
        ['nvs_ro', false, true],
        ['nvs_keys', true, true],
        ['factory', true, false],
        ['efuse_em', false, true],
      ],
    );
  });

  it('writes the entry layout, the MD5 entry and 0xFF padding', () => {
    const bytes = encodePartitionTable({
      hasMd5: true,
      partitions: [part('abcdefghijklmnop', 0x40, 0x99, 0x12345000, 0x1000, { encrypted: true, readonly: true })],
    });
    assert.equal(bytes.length, 0xc00);
    assert.deepEqual([...bytes.subarray(0, 12)], [0xaa, 0x50, 0x40, 0x99, 0x00, 0x50, 0x34, 0x12, 0x00, 0x10, 0x00, 0x00]);
    assert.equal(new TextDecoder().decode(bytes.subarray(12, 28)), 'abcdefghijklmnop');
    assert.deepEqual([...bytes.subarray(28, 32)], [3, 0, 0, 0]);
    assert.deepEqual([...bytes.subarray(32, 48)], [0xeb, 0xeb, ...new Array<number>(14).fill(0xff)]);
    assert.deepEqual(bytes.subarray(48, 64), md5(bytes.subarray(0, 32)));
    assert.ok(bytes.subarray(64).every((b) => b === 0xff));
  });

  it('stops at the end marker and ignores what follows it', () => {
    const sector = new Uint8Array(0x1000).fill(0x5a);
    sector.set(fixture('factory-4mib.bin'));
    assert.equal(parsePartitionTable(sector).partitions.length, 4);
  });

  it('reads an all-0xFF table as empty', () => {
    assert.deepEqual(parsePartitionTable(new Uint8Array(0xc00).fill(0xff)), { partitions: [], hasMd5: false });
  });

  it('rejects a bad MD5 with the offset of the stored digest', () => {
    const bytes = copy(fixture('micropython-ota-4mib.bin'));
    bytes[0x20 + 4] = 0x01 ^ bytes[0x20 + 4]!; // otadata offset changed after the MD5 was computed
    throwsFormatError(() => parsePartitionTable(bytes), /bad MD5/, 6 * 32 + 16);
    const badDigest = copy(fixture('micropython-ota-4mib.bin'));
    badDigest[6 * 32 + 31] = 0x80 ^ badDigest[6 * 32 + 31]!;
    throwsFormatError(() => parsePartitionTable(badDigest), /bad MD5/, 6 * 32 + 16);
  });

  it('rejects an MD5 entry whose filler is not 0xFF', () => {
    const bytes = copy(fixture('factory-4mib.bin'));
    bytes[4 * 32 + 5] = 0;
    throwsFormatError(() => parsePartitionTable(bytes), /MD5 entry bytes/, 4 * 32 + 2);
  });

  it('rejects a bad entry magic with its offset', () => {
    const bytes = copy(fixture('factory-4mib.bin'));
    bytes[0x41] = 0x51;
    throwsFormatError(() => parsePartitionTable(bytes), /bad entry magic aa51/, 0x40);
  });

  it('rejects a half-erased end marker', () => {
    const bytes = copy(fixture('micropython-ota-4mib.nomd5.bin'));
    bytes[6 * 32 + 20] = 0;
    throwsFormatError(() => parsePartitionTable(bytes), /bad entry magic ffff/, 6 * 32);
  });

  it('rejects a truncated table with the offset where it ends', () => {
    const bytes = fixture('micropython-ota-4mib.bin');
    throwsFormatError(() => parsePartitionTable(bytes.subarray(0, 0x50)), /truncated: 16 bytes left/, 0x40);
    throwsFormatError(() => parsePartitionTable(bytes.subarray(0, 7 * 32)), /truncated: 0 bytes left/, 7 * 32);
    throwsFormatError(() => parsePartitionTable(new Uint8Array(0)), /truncated/, 0);
  });

  it('rejects entries past 0xC00 (no end marker within the table area)', () => {
    const entry = encodePartitionTable({ partitions: [part('x', 1, 0x81, 0x10000, 0x1000)], hasMd5: false }).subarray(0, 32);
    const bytes = new Uint8Array(0x1000).fill(0xff);
    for (let at = 0; at < 0xc20; at += 32) bytes.set(entry, at);
    throwsFormatError(() => parsePartitionTable(bytes), /no end marker .* 0xc00/, 0xc00);
  });

  it('rejects entries after the MD5 entry', () => {
    const bytes = copy(fixture('factory-4mib.bin'));
    bytes.copyWithin(5 * 32, 0, 32);
    throwsFormatError(() => parsePartitionTable(bytes), /after the MD5 entry/, 5 * 32);
  });

  it('rejects unknown flag bits, label bytes after the NUL and non-UTF-8 labels', () => {
    const flags = copy(fixture('factory-4mib.bin'));
    flags[32 + 28] = 0x04;
    throwsFormatError(() => parsePartitionTable(flags), /unknown partition flag bits 0x00000004/, 32 + 28);
    const junk = copy(fixture('factory-4mib.bin'));
    junk[32 + 12 + 14] = 0x41; // "phy_init\0...A\0"
    throwsFormatError(() => parsePartitionTable(junk), /after its NUL/, 32 + 12 + 14);
    const utf8 = copy(fixture('micropython-ota-4mib.nomd5.bin'));
    utf8[12] = 0xc3; // "\xc3vs": a lead byte without its continuation
    throwsFormatError(() => parsePartitionTable(utf8), /not valid UTF-8/, 12);
  });

  it('refuses to encode what the format cannot hold', () => {
    const encode = (p: Partition, hasMd5 = false) => () => encodePartitionTable({ partitions: [p], hasMd5 });
    throwsFormatError(encode(part('abcdefghijklmnopq', 1, 1, 0x9000, 0x1000)), /17 bytes in UTF-8, longer than the 16-byte/);
    throwsFormatError(encode(part('a\0b', 1, 1, 0x9000, 0x1000)), /NUL/);
    throwsFormatError(encode(part('x', 256, 1, 0x9000, 0x1000)), /type 256/);
    throwsFormatError(encode(part('x', 1, -1, 0x9000, 0x1000)), /subtype -1/);
    throwsFormatError(encode(part('x', 1, 1, 0x100000000, 0x1000)), /offset 4294967296/);
    throwsFormatError(encode(part('x', 1, 1, 0x9000, 0.5)), /size 0.5/);
    const many = (count: number, hasMd5: boolean): PartitionTable => ({
      hasMd5,
      partitions: Array.from({ length: count }, (_, i) => part(`p${i}`, 1, 0x82, 0x9000 + i * 0x1000, 0x1000)),
    });
    assert.equal(encodePartitionTable(many(94, true)).length, 0xc00);
    assert.equal(encodePartitionTable(many(95, false)).length, 0xc00);
    throwsFormatError(() => encodePartitionTable(many(95, true)), /too many partitions: 95 entries plus the MD5 entry/);
    throwsFormatError(() => encodePartitionTable(many(96, false)), /too many partitions: 96 entries/);
  });
});

const labelArbitrary = fc
  .string({ unit: fc.constantFrom('a', 'Z', '0', '_', ' ', ',', '#', 'é', '€', '😀', '\u00ff'), maxLength: 16 })
  .filter((label) => new TextEncoder().encode(label).length <= 16);

const partitionArbitrary: fc.Arbitrary<Partition> = fc.record({
  label: labelArbitrary,
  type: fc.integer({ min: 0, max: 0xff }),
  subtype: fc.integer({ min: 0, max: 0xff }),
  offset: fc.integer({ min: 0, max: 0xffffffff }),
  size: fc.integer({ min: 0, max: 0xffffffff }),
  encrypted: fc.boolean(),
  readonly: fc.boolean(),
}, { noNullPrototype: true });

const tableArbitrary: fc.Arbitrary<PartitionTable> = fc
  .record({ partitions: fc.array(partitionArbitrary, { maxLength: 95 }), hasMd5: fc.boolean() }, { noNullPrototype: true })
  .filter((t) => t.partitions.length + (t.hasMd5 ? 1 : 0) < 96);

describe('partition table: properties', () => {
  it('encode → parse gives back the same model, and encoding again the same bytes', () => {
    fc.assert(
      fc.property(tableArbitrary, (table) => {
        const bytes = encodePartitionTable(table);
        const parsed = parsePartitionTable(bytes);
        assert.deepEqual(parsed, table);
        assert.deepEqual(encodePartitionTable(parsed), bytes);
      }),
      { numRuns: 200 },
    );
  });

  it('parsing arbitrary bytes throws nothing but FormatError', () => {
    const valid = encodePartitionTable(otaLayout);
    const mutated = fc
      .array(fc.tuple(fc.integer({ min: 0, max: 0xbff }), fc.integer({ min: 0, max: 0xff })), { maxLength: 4 })
      .map((edits) => {
        const bytes = copy(valid);
        for (const [at, value] of edits) bytes[at] = value;
        return bytes;
      });
    const input = fc.oneof(fc.uint8Array({ maxLength: 0xc40 }), mutated, mutated.chain((b) => fc.nat(b.length).map((n) => b.subarray(0, n))));
    fc.assert(
      fc.property(input, (bytes) => {
        try {
          const table = parsePartitionTable(bytes);
          assert.ok(table.partitions.length < 96);
        } catch (error) {
          if (!(error instanceof FormatError)) throw error;
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('partition table: validation (gen_esp32part.py rules)', () => {
  const withPartitions = (...partitions: Partition[]): PartitionTable => ({ partitions, hasMd5: true });
  const nvs = part('nvs', 1, 0x02, 0x9000, 0x6000);

  it('accepts the seed layout and the fixtures', () => {
    validatePartitionTable(otaLayout, { flashSize: 0x400000 });
    validatePartitionTable(parsePartitionTable(fixture('sixteen-ota.bin')));
    validatePartitionTable(parsePartitionTable(fixture('bootloader-rows.bin')));
    validatePartitionTable(parsePartitionTable(fixture('table-offset-0x10000.bin')), { tableOffset: 0x10000 });
  });

  it('rejects misaligned offsets and app sizes', () => {
    throwsFormatError(() => validatePartitionTable(withPartitions(nvs, part('factory', 0, 0, 0x18000, 0x100000))), /partition "factory": offset 0x18000 is not aligned to 0x10000/);
    throwsFormatError(() => validatePartitionTable(withPartitions(part('nvs', 1, 2, 0x9800, 0x6000))), /"nvs": offset 0x9800 is not aligned to 0x1000/);
    throwsFormatError(() => validatePartitionTable(withPartitions(part('factory', 0, 0, 0x10000, 0x100800))), /size 0x100800 is not aligned to 0x1000/);
    const appIn4k = withPartitions(part('factory', 0, 0, 0x10000, 0x101000));
    validatePartitionTable(appIn4k);
    throwsFormatError(() => validatePartitionTable(appIn4k, { secureBoot: 'v1' }), /not aligned to 0x10000/);
  });

  it('rejects overlapping partitions, whatever their order in the table', () => {
    const overlapping = withPartitions(part('storage', 1, 0x81, 0x100000, 0x10000), nvs, part('factory', 0, 0, 0x10000, 0x100000));
    throwsFormatError(() => validatePartitionTable(overlapping), /"storage" at 0x100000 overlaps partition "factory" \(0x10000-0x10ffff\)/);
  });

  it('rejects partitions below the table sector, honouring tableOffset', () => {
    throwsFormatError(() => validatePartitionTable(withPartitions(part('nvs', 1, 2, 0x8000, 0x6000))), /"nvs": offset 0x8000 is below 0x9000/);
    throwsFormatError(() => validatePartitionTable(otaLayout, { tableOffset: 0x10000 }), /"nvs": offset 0x9000 is below 0x11000/);
  });

  it('rejects duplicate names', () => {
    throwsFormatError(() => validatePartitionTable(withPartitions(nvs, part('nvs', 1, 0x81, 0x10000, 0x10000))), /names must be unique: "nvs"/);
  });

  it('allows one otadata of exactly 0x2000 bytes', () => {
    throwsFormatError(() => validatePartitionTable(withPartitions(part('otadata', 1, 0, 0xd000, 0x1000))), /otadata partition must have size 0x2000, not 0x1000/);
    const two = withPartitions(part('otadata', 1, 0, 0xd000, 0x2000), part('otadata2', 1, 0, 0xf000, 0x2000));
    throwsFormatError(() => validatePartitionTable(two), /more than one otadata partition/);
    throwsFormatError(() => validatePartitionTable(withPartitions(part('tee', 1, 0x90, 0xd000, 0x1000))), /TEE otadata partition must have size 0x2000/);
  });

  it('rejects zero sizes, readonly otadata/coredump and small writable NVS', () => {
    throwsFormatError(() => validatePartitionTable(withPartitions(nvs, part('empty', 1, 0x81, 0x10000, 0))), /"empty": size must be greater than 0/);
    throwsFormatError(() => validatePartitionTable(withPartitions(part('otadata', 1, 0, 0xd000, 0x2000, { readonly: true }))), /ota partitions are always read-write/);
    throwsFormatError(() => validatePartitionTable(withPartitions(part('cd', 1, 3, 0x10000, 0x10000, { readonly: true }))), /coredump partitions are always read-write/);
    throwsFormatError(() => validatePartitionTable(withPartitions(part('nvs', 1, 2, 0x9000, 0x2000))), /must be flagged readonly/);
    validatePartitionTable(withPartitions(part('nvs', 1, 2, 0x9000, 0x2000, { readonly: true })));
  });

  it('checks the flash size and the table length', () => {
    throwsFormatError(() => validatePartitionTable(otaLayout, { flashSize: 0x200000 }), /"ota_1" ends at 0x310000, beyond the 0x200000-byte flash/);
    const tooMany = withPartitions(...Array.from({ length: 95 }, (_, i) => part(`p${i}`, 1, 0x82, 0x9000 + i * 0x1000, 0x1000)));
    throwsFormatError(() => validatePartitionTable(tooMany), /too many partitions/);
  });
});

describe('partition table: names and lookups', () => {
  it('names types and subtypes like gen_esp32part.py, hex otherwise', () => {
    assert.deepEqual([0, 1, 2, 3, 0x40].map(typeName), ['app', 'data', 'bootloader', 'partition_table', '0x40']);
    assert.equal(subtypeName(PartitionType.APP, 0x00), 'factory');
    assert.equal(subtypeName(PartitionType.APP, 0x20), 'test');
    for (let slot = 0; slot < 16; slot++) assert.equal(subtypeName(PartitionType.APP, 0x10 + slot), `ota_${slot}`);
    assert.equal(subtypeName(PartitionType.APP, 0x30), 'tee_0');
    const data = [0, 1, 2, 3, 4, 5, 6, 0x80, 0x81, 0x82, 0x83, 0x90].map((s) => subtypeName(PartitionType.DATA, s));
    assert.deepEqual(data, ['ota', 'phy', 'nvs', 'coredump', 'nvs_keys', 'efuse', 'undefined', 'esphttpd', 'fat', 'spiffs', 'littlefs', 'tee_ota']);
    assert.deepEqual([0, 1, 2].map((s) => subtypeName(PartitionType.BOOTLOADER, s)), ['primary', 'ota', 'recovery']);
    assert.deepEqual([0, 1].map((s) => subtypeName(PartitionType.PARTITION_TABLE, s)), ['primary', 'ota']);
    assert.equal(subtypeName(PartitionType.DATA, 0x07), '0x07');
    assert.equal(subtypeName(0x40, 0x00), '0x00');
  });

  it('finds OTA apps in subtype order, otadata, factory, test and by label', () => {
    const table: PartitionTable = {
      hasMd5: true,
      partitions: [
        part('otadata', 1, 0, 0xd000, 0x2000),
        part('b', 0, 0x12, 0x210000, 0x100000),
        part('factory', 0, 0, 0x10000, 0x100000),
        part('a', 0, 0x10, 0x110000, 0x100000),
        part('test', 0, 0x20, 0x310000, 0x100000),
        part('notapp', 1, 0x10, 0x410000, 0x1000),
      ],
    };
    assert.deepEqual(otaAppPartitions(table).map((p) => p.label), ['a', 'b']);
    assert.deepEqual(appPartitions(table).map((p) => p.label), ['b', 'factory', 'a', 'test']);
    assert.equal(otadataPartition(table)?.offset, 0xd000);
    assert.equal(factoryPartition(table)?.label, 'factory');
    assert.equal(testAppPartition(table)?.label, 'test');
    assert.equal(findPartition(table, 'notapp')?.offset, 0x410000);
    assert.equal(findPartition(table, 'missing'), undefined);
    assert.equal(otadataPartition({ partitions: [], hasMd5: false }), undefined);
    assert.equal(factoryPartition(otaLayout), undefined);
  });
});
