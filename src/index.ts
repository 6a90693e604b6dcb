/** esp32-ota as a library. The format codecs are pure and browser-safe; see `esp32-ota/format`. */
export * from './format/index.js';
