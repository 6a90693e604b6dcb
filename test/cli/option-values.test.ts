/** The option value parsers: one whole-number parser behind counts, ports, sizes and network rates. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { parseByteSize } from '../../src/cli/byte-size.js';
import { DECIMAL_MULTIPLIERS, integerOption, parseWholeNumber } from '../../src/cli/option-values.js';

describe('parseWholeNumber', () => {
  it('reads decimal and hex, with a known suffix in any case', () => {
    assert.equal(parseWholeNumber('1500'), 1500);
    assert.equal(parseWholeNumber('0x1c0000'), 0x1c0000);
    assert.equal(parseWholeNumber('100k', DECIMAL_MULTIPLIERS), 100_000);
    assert.equal(parseWholeNumber('2M', DECIMAL_MULTIPLIERS), 2_000_000);
    assert.equal(parseWholeNumber('2m', DECIMAL_MULTIPLIERS), 2_000_000);
    assert.equal(parseWholeNumber(' 64 k ', DECIMAL_MULTIPLIERS), 64_000);
  });

  it('states no number for empty, signed, fractional, unknown-suffix and unsafe values', () => {
    for (const text of ['', ' ', '-5', '+5', '1.5', '1.5k', '12x', '1e3', '0x', 'k', '5constructor', '9007199254740993']) {
      assert.ok(Number.isNaN(parseWholeNumber(text, DECIMAL_MULTIPLIERS)), `'${text}' was read as ${parseWholeNumber(text, DECIMAL_MULTIPLIERS)}`);
    }
    assert.ok(Number.isNaN(parseWholeNumber('100k')), 'a suffix needs multipliers');
    assert.ok(Number.isNaN(parseWholeNumber('9P', DECIMAL_MULTIPLIERS)), 'P is no suffix here');
  });
});

describe('integerOption', () => {
  it('takes a suffix only when given multipliers, and names the option, the suffixes, the range and the value when it refuses', () => {
    const rate = integerOption('--bandwidth', { min: 1, unit: 'bytes per second', multipliers: DECIMAL_MULTIPLIERS });
    assert.equal(rate('100k'), 100_000);
    assert.throws(() => rate('0'), { name: 'UserError', message: /^--bandwidth must be a whole number of bytes per second \(or with k = ×1,000, M = ×1,000,000\), at least 1; got '0'$/ });
    const port = integerOption('--port', { max: 65535 });
    assert.equal(port('8080'), 8080);
    assert.throws(() => port('8k'), { name: 'UserError', message: /^--port must be a whole number, from 0 to 65535; got '8k'$/ });
  });
});

describe('parseByteSize on the same parser', () => {
  it('binary K and M (with KB/KiB, MB/MiB), hex; refuses zero and others with its own advice', () => {
    assert.equal(parseByteSize('1792K'), 1792 * 1024);
    assert.equal(parseByteSize('4 MiB'), 4 << 20);
    assert.equal(parseByteSize('0x1c0000'), 0x1c0000);
    for (const text of ['0', '', '-1', '1.5M', '4G']) assert.throws(() => parseByteSize(text), { name: 'UserError', message: /^not a size: '.*' \(use hex like 0x1c0000, bytes, or K\/M like 1792K, 4M\)$/ });
  });
});
