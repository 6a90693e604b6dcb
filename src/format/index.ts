export * from './errors.js';
export * from './bytes.js';
export * from './units.js';
export * from './crc32.js';
export * from './hash.js';
export * from './chips.js';
