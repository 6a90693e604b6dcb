/** littlefs v2 in pure TypeScript (browser-safe): see docs/littlefs.md. */
export { MICROPYTHON_ESP32_LITTLEFS, type LittleFsConfig } from './config.js';
export { memoryBlockDevice, type LittleFsBlockDevice } from './block-device.js';
export { LittleFsError, ERRNO } from './errors.js';
export { LittleFs, type LittleFsStat } from './littlefs.js';
export { LittleFsFile } from './file.js';
export { MTIME_ATTR } from './mtime.js';
export { readLittleFsTree, buildLittleFsImage, listTree, type LittleFsTreeEntry } from './tree.js';
