/** Parsers for option values: each refuses what it cannot take with a message naming the option and the value. */
import { withThousands } from '../format/units.js';
import { UserError } from './errors.js';

/** What a suffix after a number multiplies it by, keyed by the suffix ('' for none; matched without regard to case). */
export type Multipliers = Readonly<Record<string, number>>;

/** k and M as in rates and counts: 100k = 100,000. */
export const DECIMAL_MULTIPLIERS: Multipliers = { '': 1, k: 1000, M: 1_000_000 };

/**
 * The whole number `text` states: decimal, or hex with 0x, followed by one of
 * `multipliers`' suffixes (none by default); NaN when it states none (empty,
 * a sign, a fraction, an unknown suffix, beyond 2^53).
 */
export function parseWholeNumber(text: string, multipliers: Multipliers = { '': 1 }): number {
  const [, digits, given] = /^(0x[0-9a-f]+|\d+)\s*([a-z]*)$/i.exec(text.trim()) ?? [];
  const suffix = given === undefined ? undefined : Object.keys(multipliers).find((key) => key.toLowerCase() === given.toLowerCase());
  const value = suffix === undefined ? NaN : Number(digits) * multipliers[suffix]!;
  return Number.isSafeInteger(value) ? value : NaN;
}

/** A whole number (decimal, or hex with 0x; with `multipliers`, a suffix such as k) from `min` to `max`. */
export function integerOption(
  option: string,
  options: { min?: number; max?: number; unit?: string; multipliers?: Multipliers } = {},
): (text: string) => number {
  const min = options.min ?? 0;
  const max = options.max ?? Number.MAX_SAFE_INTEGER;
  const suffixes = Object.entries(options.multipliers ?? {}).filter(([suffix]) => suffix !== '');
  const suffixNote = suffixes.length ? ` (or with ${suffixes.map(([suffix, factor]) => `${suffix} = ×${withThousands(factor)}`).join(', ')})` : '';
  return (text) => {
    const value = parseWholeNumber(text, options.multipliers);
    if (Number.isNaN(value) || value < min || value > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `from ${min} to ${max}`;
      throw new UserError(`${option} must be a whole number${options.unit ? ` of ${options.unit}` : ''}${suffixNote}, ${range}; got '${text}'`);
    }
    return value;
  };
}

/** A flash offset for a partition table: ESP-IDF places it on a 4 KiB boundary (CONFIG_PARTITION_TABLE_OFFSET). */
export function parseTableOffset(text: string): number {
  const value = integerOption('--table-offset', { unit: 'bytes' })(text);
  if (value % 0x1000 !== 0) throw new UserError(`--table-offset ${text} is not on a 4 KiB (0x1000) boundary, as ESP-IDF requires (e.g. 0x8000)`);
  return value;
}

/** One of a fixed set of words. */
export function choiceOption<T extends string>(option: string, choices: readonly T[]): (text: string) => T {
  return (text) => {
    if (!(choices as readonly string[]).includes(text)) throw new UserError(`${option} must be one of ${choices.join(', ')}; got '${text}'`);
    return text as T;
  };
}

/** A positive number (not only whole: a scale factor, a rate). */
export function positiveNumberOption(option: string): (text: string) => number {
  return (text) => {
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value) || value <= 0) throw new UserError(`${option} must be a positive number, got '${text}'`);
    return value;
  };
}

/** `USER:PASSWORD` for HTTP basic auth (the password may hold colons). */
export function parseCredentials(option: string, text: string): { user: string; password: string } {
  const colon = text.indexOf(':');
  if (colon <= 0) throw new UserError(`${option} must be USER:PASSWORD`);
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** A duration: seconds (`90`, `90s`, `1.5s`), minutes (`10m`) or hours (`1h`); returns milliseconds. */
export function durationOption(option: string): (text: string) => number {
  return (text) => {
    const match = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(text.trim());
    const value = match ? Number(match[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[(match[2] ?? 's') as 's' | 'm' | 'h'] : NaN;
    if (!Number.isFinite(value) || value <= 0) throw new UserError(`${option} must be a duration above 0 in seconds, or with s, m or h (90, 90s, 10m, 1h); got '${text}'`);
    return value;
  };
}
