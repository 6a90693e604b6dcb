/**
 * Makes the interpreter say it is an ESP32 running a given firmware version:
 * sys.platform, sys.version, sys.implementation (version, _machine, _build)
 * and a new os.uname().
 *
 * sys's attributes live in the build's read-only data (a `str` object is
 * {type, hash, len, data}), which Python cannot assign, so the objects are
 * rewritten in the interpreter's memory to point at new text in C heap
 * memory, which the garbage collector does not own. A hash of 0 means "not
 * computed yet" to MicroPython, so it recomputes it.
 */
import type { MicroPython } from '@micropython/micropython-webassembly-pyscript';
import { execPrivately } from './private-exec.js';
import type { WasmHeap } from './wasm-heap.js';

export interface DeviceIdentity {
  /** Firmware version as an app image's description has it, e.g. 'v1.23.0' or 'v1.24.0-preview.123.g1234abc'. */
  version: string;
  /** Board and chip, e.g. 'Generic ESP32 module with ESP32'. */
  machine: string;
  /** Build date for sys.version and os.uname(), e.g. '2024-06-02'; the build's own date if absent. */
  buildDate?: string;
  /** sys.implementation._build, e.g. 'ESP32_GENERIC'; left as the build's ('pyscript') if absent. */
  build?: string;
}

export const DEFAULT_IDENTITY: DeviceIdentity = {
  version: 'v1.23.0',
  machine: 'Generic ESP32 module with ESP32',
  buildDate: '2024-06-02',
};

const PLATFORM = 'esp32';

interface ParsedVersion {
  major: number;
  minor: number;
  micro: number;
  prerelease: string;
}

export function parseFirmwareVersion(version: string): ParsedVersion {
  const match = /^v?(\d+)\.(\d+)\.(\d+)(?:-([A-Za-z0-9]+))?/.exec(version);
  if (!match) throw new RangeError(`not a MicroPython version: ${JSON.stringify(version)}`);
  return { major: Number(match[1]), minor: Number(match[2]), micro: Number(match[3]), prerelease: match[4] ?? '' };
}

const STR_HASH = 4;
const STR_LENGTH = 8;
const STR_DATA = 12;
const TUPLE_ITEMS = 8;
const smallInt = (value: number): number => (value << 1) | 1;

export function applyIdentity(mp: MicroPython, heap: WasmHeap, identity: DeviceIdentity): void {
  const version = parseFirmwareVersion(identity.version);
  const builtins = mp.pyimport('builtins');
  const addressOf = (expression: string): number => Number(builtins.eval(`id(${expression})`));
  const sys = '__import__("sys")';

  const strType = heap.readU32(addressOf(`${sys}.platform`));
  const rewriteStr = (expression: string, text: string): void => {
    const address = addressOf(expression);
    if ((address & 3) !== 0 || heap.readU32(address) !== strType) {
      throw new Error(`${expression} is not a str object in this MicroPython build`);
    }
    const bytes = new TextEncoder().encode(text);
    heap.writeU32(address + STR_HASH, 0);
    heap.writeU32(address + STR_LENGTH, bytes.length);
    heap.writeU32(address + STR_DATA, heap.allocate(bytes, 1));
  };

  const originalVersion = String(builtins.eval(`${sys}.version`));
  const buildDate = identity.buildDate ?? / on (\S+)/.exec(originalVersion)?.[1] ?? '';
  const languageVersion = originalVersion.split(';')[0];
  rewriteStr(`${sys}.platform`, PLATFORM);
  rewriteStr(`${sys}.version`, `${languageVersion}; MicroPython ${identity.version} on ${buildDate}`);
  rewriteStr(`${sys}.implementation._machine`, identity.machine);
  if (identity.build !== undefined) rewriteStr(`${sys}.implementation._build`, identity.build);

  const versionTuple = addressOf(`${sys}.implementation.version`);
  heap.writeU32(versionTuple + TUPLE_ITEMS, smallInt(version.major));
  heap.writeU32(versionTuple + TUPLE_ITEMS + 4, smallInt(version.minor));
  heap.writeU32(versionTuple + TUPLE_ITEMS + 8, smallInt(version.micro));
  if (version.prerelease !== '') {
    heap.writeU32(versionTuple + TUPLE_ITEMS + 12, staticStr(heap, strType, version.prerelease));
  }

  installUname(mp, {
    sysname: PLATFORM,
    nodename: PLATFORM,
    release: `${version.major}.${version.minor}.${version.micro}${version.prerelease ? '-' + version.prerelease : ''}`,
    version: `${identity.version} on ${buildDate}`,
    machine: identity.machine,
  });
}

/** A new str object outside the GC heap. */
function staticStr(heap: WasmHeap, strType: number, text: string): number {
  const bytes = new TextEncoder().encode(text);
  const data = heap.allocate(bytes, 1);
  const object = heap.allocate(new Uint8Array(16));
  heap.writeU32(object, strType);
  heap.writeU32(object + STR_HASH, 0);
  heap.writeU32(object + STR_LENGTH, bytes.length);
  heap.writeU32(object + STR_DATA, data);
  return object;
}

interface Uname {
  sysname: string;
  nodename: string;
  release: string;
  version: string;
  machine: string;
}

/**
 * os is a frozen Python package in this build, so it takes a new attribute.
 * The result prints like the board's attrtuple: `(sysname='esp32', ...)`.
 */
function installUname(mp: MicroPython, uname: Uname): void {
  const fields = Object.keys(uname);
  const values = fields.map((field) => JSON.stringify(uname[field as keyof Uname])).join(', ');
  const source = [
    'import os',
    'class uname_result(tuple):',
    ...fields.map((field, i) => `    ${field} = property(lambda self: self[${i}])`),
    '    def __repr__(self):',
    `        return "(${fields.map((field) => `${field}=%r`).join(', ')})" % tuple(self)`,
    '    __str__ = __repr__',
    `_uname = uname_result((${values}))`,
    'os.uname = lambda: _uname',
  ].join('\n');
  execPrivately(mp, source);
}
