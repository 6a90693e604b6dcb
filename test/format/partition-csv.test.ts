import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { formatPartitionCsv, parsePartitionCsv, type CsvOptions } from '../../src/format/partition-csv.js';
import {
  PARTITION_TABLE_MAX_LENGTH,
  encodePartitionTable,
  parsePartitionTable,
  type Partition,
  type PartitionTable,
} from '../../src/format/partition-table.js';
import { FormatError } from '../../src/format/errors.js';

const fixtures = fileURLToPath(new URL('../../../test/fixtures/partitions/', import.meta.url));
const firmwarePath = fileURLToPath(new URL('../../../../shared/testdata/ESP32_GENERIC-20240602-v1.23.0.bin', import.meta.url));

const readText = (name: string): string => readFileSync(fixtures + name, 'utf8');
const readBytes = (name: string): Uint8Array => new Uint8Array(readFileSync(fixtures + name));

function part(label: string, type: number, subtype: number, offset: number, size: number, flags: Partial<Partition> = {}): Partition {
  return { label, type, subtype, offset, size, encrypted: false, readonly: false, ...flags };
}

/** The gen_esp32part.py options each fixture .bin was made with (see the fixtures README). */
const fixtureOptions: Record<string, CsvOptions> = {
  'table-offset-0x10000': { tableOffset: 0x10000 },
  'bootloader-rows': { primaryBootloaderOffset: 0x1000 },
};

function csvError(text: string, problem: RegExp, options: CsvOptions = {}): void {
  assert.throws(
    () => parsePartitionCsv(text, options),
    (error: unknown) => {
      assert.ok(error instanceof FormatError, `expected a FormatError, got ${String(error)}`);
      assert.match(error.message, problem);
      return true;
    },
  );
}

const sourceCsvs = readdirSync(fixtures).filter((name) => name.endsWith('.csv') && !name.endsWith('.gen.csv'));

describe('partition CSV: byte-identical to gen_esp32part.py', () => {
  it('has at least ten source CSVs', () => assert.ok(sourceCsvs.length >= 10));

  for (const name of sourceCsvs) {
    const base = name.slice(0, -'.csv'.length);
    it(`${name} → the same bytes as gen_esp32part.py`, () => {
      const table = parsePartitionCsv(readText(name), fixtureOptions[base]);
      assert.deepEqual(encodePartitionTable(table), readBytes(`${base}.bin`));
    });
  }

  it('--disable-md5sum: md5: false gives the table without the MD5 entry', () => {
    const table = parsePartitionCsv(readText('micropython-ota-4mib.csv'), { md5: false });
    assert.equal(table.hasMd5, false);
    assert.deepEqual(encodePartitionTable(table), readBytes('micropython-ota-4mib.nomd5.bin'));
  });

  for (const name of readdirSync(fixtures).filter((n) => n.endsWith('.bin'))) {
    it(`writes ${name} as the same CSV text as gen_esp32part.py`, () => {
      const csv = formatPartitionCsv(parsePartitionTable(readBytes(name)));
      assert.equal(csv, readText(name.replace(/\.bin$/, '.gen.csv')));
    });
  }
});

describe('partition CSV: the real MicroPython v1.23.0 firmware', () => {
  it('binary → CSV → binary gives identical bytes', (t) => {
    if (!existsSync(firmwarePath)) {
      t.skip(`test firmware missing: ${firmwarePath}`);
      return;
    }
    const tableBytes = new Uint8Array(readFileSync(firmwarePath)).subarray(0x7000, 0x7000 + PARTITION_TABLE_MAX_LENGTH);
    const csv = formatPartitionCsv(parsePartitionTable(tableBytes));
    assert.equal(csv, readText('esp32-generic-v1.23.0.gen.csv'));
    assert.deepEqual(encodePartitionTable(parsePartitionCsv(csv)), tableBytes);
  });
});

describe('partition CSV: reading', () => {
  it('places empty offsets after the previous partition (apps on 64 KiB, data on 4 KiB)', () => {
    const { partitions } = parsePartitionCsv(readText('empty-offsets.csv'));
    assert.deepEqual(
      partitions.map((p) => [p.label, p.offset, p.size]),
      [
        ['nvs', 0x9000, 0x5000],
        ['otadata', 0xe000, 0x2000],
        ['phy_init', 0x10000, 0x1000],
        ['ota_0', 0x20000, 0x100000],
        ['ota_1', 0x120000, 0x100000],
        ['coredump', 0x220000, 0x10000],
        ['storage', 0x230000, 0x400000 - 0x230000],
      ],
    );
  });

  it('starts at tableOffset + 0x1000', () => {
    const { partitions } = parsePartitionCsv('a,data,fat,,4K\nb,app,factory,,64K\n', { tableOffset: 0x20000 });
    assert.deepEqual(partitions.map((p) => p.offset), [0x21000, 0x30000]);
  });

  it('reads keywords in any case, K/M suffixes, comments, CRLF and extra columns', () => {
    const { partitions } = parsePartitionCsv(readText('suffixes-comments.csv'));
    assert.deepEqual(partitions[0], part('NVS', 1, 2, 36 * 1024, 16 * 1024));
    assert.deepEqual(partitions[3], part('app', 0, 0, 0x10000, 1536 * 1024));
    assert.equal(partitions[5]?.label, 'a_name_that_is_f');
    assert.equal(partitions[7]?.size, 0x100);
    assert.equal(partitions[8]?.size, 1024 * 1024); // "1kk"
  });

  it('reads custom numeric types and subtypes; an empty data subtype is "undefined"', () => {
    const { partitions } = parsePartitionCsv(readText('custom-types.csv'));
    assert.deepEqual(
      partitions.map((p) => [p.type, p.subtype]),
      [[0, 0], [0, 0x20], [0, 0x25], [0x40, 1], [0x40, 7], [1, 6], [1, 0x99], [254, 255]],
    );
  });

  it('reads bootloader and partition_table rows from the options, as gen_esp32part.py does', () => {
    const { partitions } = parsePartitionCsv(readText('bootloader-rows.csv'), { primaryBootloaderOffset: 0x1000 });
    assert.deepEqual(partitions.slice(0, 2), [
      part('bootloader', 2, 0, 0x1000, 0x7000),
      part('partition_table', 3, 0, 0x8000, 0x1000),
    ]);
    csvError(readText('bootloader-rows.csv'), /CSV line 2: primaryBootloaderOffset is not set/);
    csvError('bl,bootloader,recovery,,\n', /CSV line 1: recoveryBootloaderOffset is not set/, { primaryBootloaderOffset: 0x1000 });
    csvError('', /primary bootloader \(0x8000\) must be below the partition table/, { primaryBootloaderOffset: 0x8000 });
  });

  it('accepts a byte-order mark and ignores blank and comment lines', () => {
    const table = parsePartitionCsv('\uFEFF# header\n\n   \n  # indented comment\nnvs,data,nvs,0x9000,0x6000\n');
    assert.deepEqual(table, { hasMd5: true, partitions: [part('nvs', 1, 2, 0x9000, 0x6000)] });
    assert.deepEqual(parsePartitionCsv('# nothing\n'), { hasMd5: true, partitions: [] });
  });
});

describe('partition CSV: errors name the line', () => {
  const nvs = 'nvs,data,nvs,0x9000,0x6000\n';
  // Every case here is also rejected by gen_esp32part.py, except the zero size
  // and the long names (accepted by it, cut to 16 bytes; rejected by us on purpose).
  const cases: [string, string, RegExp][] = [
    ['overlap', `${nvs}factory,app,factory,0x10000,1M\nstorage,data,fat,0x100000,64K\n`, /^CSV line 3: partition "storage" at 0x100000 overlaps the previous partition, which ends at 0x110000/],
    ['out of order', 'a,data,fat,0x10000,4K\nb,data,fat,0x9000,4K\n', /^CSV line 2: .*overlaps the previous partition/],
    ['below the table', 'nvs,data,nvs,0x8000,0x6000\n', /^CSV line 1: partition "nvs" at 0x8000 overlaps the partition table sector at 0x8000; use 0x9000 or higher/],
    ['misaligned app', `${nvs}factory,app,factory,0x18000,1M\n`, /^CSV line 2: partition "factory": offset 0x18000 is not aligned to 0x10000/],
    ['misaligned data', '\nnvs,data,nvs,0x9800,0x6000\n', /^CSV line 2: partition "nvs": offset 0x9800 is not aligned to 0x1000/],
    ['app size', 'factory,app,factory,0x10000,0x100800\n', /^CSV line 1: .*size 0x100800 is not aligned to 0x1000/],
    ['duplicate names', `${nvs}nvs,data,fat,0x10000,64K\n`, /^CSV line 2: partition names must be unique: "nvs"/],
    ['otadata size', 'otadata,data,ota,0xd000,0x1000\n', /^CSV line 1: .*otadata partition must have size 0x2000, not 0x1000/],
    ['two otadata', '# x\notadata,data,ota,0xd000,0x2000\notadata2,data,ota,0xf000,0x2000\n', /^CSV line 3: found more than one otadata partition/],
    ['readonly otadata', 'otadata,data,ota,0xd000,0x2000,readonly\n', /^CSV line 1: .*always read-write/],
    ['small writable nvs', 'nvs,data,nvs,0x9000,0x2000\n', /^CSV line 1: .*must be flagged readonly/],
    ['zero size', `${nvs}empty,data,fat,0x10000,0\n`, /^CSV line 2: partition "empty": size must be greater than 0/],
    ['negative resolved size', `${nvs}fs,data,fat,0x10000,-0x8000\n`, /^CSV line 2: partition "fs": a negative size means "up to this address", and 0x8000 is not past its offset 0x10000/],
    ['negative size in K', `${nvs}fs,data,fat,0x10000,-8K\n`, /^CSV line 2: partition "fs": a negative size means "up to this address", and 0x2000 is not past/],
    ['long name', `${nvs}a_name_that_is_far_too_long,data,fat,0x10000,4K\n`, /^CSV line 2: name "a_name_that_is_far_too_long" is 27 bytes long; partition names are at most 16 bytes/],
    ['unknown keyword', `${nvs}x,data,nosuch,0x10000,4K\n`, /^CSV line 2: "nosuch" is not valid; known keywords: ota, phy, nvs/],
    ['bad number', `${nvs}x,data,fat,0x10000,12Q\n`, /^CSV line 2: invalid number "12Q"/],
    ['leading zero', `${nvs}x,data,fat,010000,4K\n`, /^CSV line 2: invalid number "010000"/],
    ['empty size', 'nvs,data,nvs,0x9000,\n', /^CSV line 1: the size field cannot be empty/],
    ['empty type', 'nvs,,nvs,0x9000,0x6000\n', /^CSV line 1: the type field cannot be empty/],
    ['unknown flag', 'nvs,data,nvs,0x9000,0x6000,secret\n', /^CSV line 1: unknown flag "secret"/],
    ['app without subtype', 'factory,app,,0x10000,1M\n', /^CSV line 1: an app partition cannot have an empty subtype/],
    ['type 256', 'x,256,0,0x10000,4K\n', /^CSV line 1: type 256 is out of range 0..255/],
    ['long name in UTF-8', 'abcdefghijklmno\u00e9,data,fat,0x10000,4K\n', /^CSV line 1: name .* is 17 bytes long/],
    ['too many', Array.from({ length: 95 }, (_, i) => `p${i},data,spiffs,,4K`).join('\n'), /^too many partitions: 95 entries plus the MD5 entry/],
    ['flash size', 'big,data,fat,0x10000,4M\n', /^CSV line 1: partition "big" ends at 0x410000, beyond the 0x400000-byte flash/],
  ];
  for (const [what, text, problem] of cases) {
    it(what, () => csvError(text, problem, what === 'flash size' ? { flashSize: 0x400000 } : {}));
  }

  it('counts lines like Python splitlines() (\\r, \\r\\n, \\v, \\f)', () => {
    csvError(`# a\r# b\r\n# c\v# d\f${'x,data,fat,0x9800,4K'}\n`, /^CSV line 5:/);
  });
});

// Layouts gen_esp32part.py accepts: explicit, increasing, aligned offsets after 0x9000.
const csvLabel = fc
  .string({ unit: fc.constantFrom('a', 'Z', '9', '_', '-', '.', ' ', '#', 'é', '€', '😀'), maxLength: 16 })
  .filter((s) => new TextEncoder().encode(s).length <= 16 && s.trim() === s && !s.startsWith('#'));

const kindArbitrary = fc.oneof(
  fc.record({ type: fc.constant(0), subtype: fc.integer({ min: 0, max: 0xff }), size: fc.integer({ min: 1, max: 64 }).map((n) => n * 0x1000) }),
  fc.record({
    type: fc.constant(1),
    subtype: fc.integer({ min: 1, max: 0xff }).filter((s) => s !== 0x90 && s !== 0x02 && s !== 0x03),
    size: fc.oneof(fc.integer({ min: 1, max: 0x100000 }), fc.integer({ min: 1, max: 32 }).map((n) => n * 0x10000)),
  }),
  fc.record({ type: fc.integer({ min: 4, max: 0xfe }), subtype: fc.integer({ min: 0, max: 0xff }), size: fc.integer({ min: 1, max: 0x100000 }) }),
);

const validTableArbitrary: fc.Arbitrary<PartitionTable> = fc
  .tuple(
    fc.uniqueArray(csvLabel, { maxLength: 20 }),
    fc.array(fc.tuple(kindArbitrary, fc.nat(3), fc.boolean(), fc.boolean()), { minLength: 20, maxLength: 20 }),
    fc.boolean(),
  )
  .map(([labels, kinds, withOtadata]) => {
    let next = 0x9000;
    const partitions: Partition[] = [];
    if (withOtadata) {
      partitions.push(part('otadata\u00e9', 1, 0, next, 0x2000));
      next += 0x2000;
    }
    labels.forEach((label, index) => {
      const [kind, gapSectors, encrypted, readonly] = kinds[index]!;
      const alignment = kind.type === 0 ? 0x10000 : 0x1000;
      const offset = Math.ceil((next + gapSectors * 0x1000) / alignment) * alignment;
      partitions.push({ label, ...kind, offset, encrypted, readonly });
      next = offset + kind.size;
    });
    return { partitions, hasMd5: true };
  })
  .filter((t) => new Set(t.partitions.map((p) => p.label)).size === t.partitions.length);

describe('partition CSV: properties', () => {
  it('format → parse gives back the same model, and the same bytes', () => {
    fc.assert(
      fc.property(validTableArbitrary, (table) => {
        const parsed = parsePartitionCsv(formatPartitionCsv(table));
        assert.deepEqual(parsed, table);
        assert.deepEqual(encodePartitionTable(parsed), encodePartitionTable(table));
      }),
      { numRuns: 200 },
    );
  });

  it('parsing arbitrary text throws nothing but FormatError', () => {
    const token = fc.constantFrom('app', 'data', 'ota_3', 'nvs', 'ota', '0x9000', '0x10000', '4K', '1M', '-1M', 'kk', '0x', '1_0', ' ', '#', '\n', '\r', ',', ':', 'encrypted', 'readonly', '\u00e9', '0b1', '1e3', '$HOME', 'bootloader', 'partition_table', 'primary');
    const text = fc.oneof(fc.string({ maxLength: 200 }), fc.array(token, { maxLength: 60 }).map((t) => t.join('')), fc.array(token, { maxLength: 60 }).map((t) => t.join(',')));
    fc.assert(
      fc.property(text, fc.boolean(), (csv, withBootloader) => {
        try {
          const table = parsePartitionCsv(csv, withBootloader ? { primaryBootloaderOffset: 0x1000, recoveryBootloaderOffset: 0x200000 } : {});
          encodePartitionTable(table); // whatever parses must encode
        } catch (error) {
          if (!(error instanceof FormatError)) throw error;
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('partition CSV: writing', () => {
  it('uses keywords, M/K sizes and flags like gen_esp32part.py', () => {
    const csv = formatPartitionCsv({
      hasMd5: true,
      partitions: [
        part('nvs', 1, 2, 0x9000, 0x6000, { encrypted: true, readonly: true }),
        part('odd', 0x40, 0x99, 0x10000, 0x1234),
        part('app', 0, 0x1f, 0x20000, 0x300000, { readonly: true }),
      ],
    });
    assert.equal(
      csv,
      '# ESP-IDF Partition Table\n# Name, Type, SubType, Offset, Size, Flags\n' +
        'nvs,data,nvs,0x9000,24K,encrypted:readonly\nodd,64,153,0x10000,0x1234,\napp,app,ota_15,0x20000,3M,readonly\n',
    );
  });

  it('refuses labels that CSV cannot carry', () => {
    for (const [label, problem] of [
      ['a,b', /contains a comma/],
      [' a', /white space/],
      ['a\n', /line break/],
      ['#a', /comment/],
    ] as const) {
      assert.throws(
        () => formatPartitionCsv({ hasMd5: true, partitions: [part(label, 1, 0x81, 0x9000, 0x1000)] }),
        (error: unknown) => error instanceof FormatError && problem.test(error.message) && error.message.includes('partition 0'),
      );
    }
  });
});
