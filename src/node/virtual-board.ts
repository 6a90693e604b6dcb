/** Creating and loading virtual ESP32 boards in Node: fresh flash images, flash files, the board's Python modules. */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createSharedFlash, type SharedFlash } from '../device/nor-flash.js';
import { buildFreshFlash, buildGeneratedFirmware, type FreshFlashOptions as BuildOptions } from '../device/virtual-firmware.js';
import { VirtualEsp32, type VirtualEsp32Options } from '../device/virtual-esp32.js';
import { boardPythonModules } from './board-python.js';
import { nativeSha256 } from './native-hash.js';

/** The version of the bundled MicroPython interpreter, as a firmware version ('v1.27.0'). */
export function bundledMicroPythonVersion(): string {
  const require = createRequire(import.meta.url);
  const manifest = require('@micropython/micropython-webassembly-pyscript/package.json') as { version: string };
  return `v${manifest.version}`;
}

export type FreshFlashOptions = Omit<BuildOptions, 'firmware'> & { readonly firmware?: Uint8Array };

/** A new board's flash; the default firmware is a generated MicroPython image of the bundled version. */
export function freshFlash(options: FreshFlashOptions = {}): SharedFlash {
  const firmware = options.firmware ?? buildGeneratedFirmware({ version: bundledMicroPythonVersion(), buildDate: new Date().toISOString().slice(0, 10) });
  return buildFreshFlash({ ...options, firmware });
}

export async function loadFlash(path: string): Promise<SharedFlash> {
  const bytes = await readFile(path);
  const shared = createSharedFlash(bytes.length);
  new Uint8Array(shared.memory).set(bytes);
  return shared;
}

/** A virtual board on `flash`, with the board modules and the native hash filled in. */
export function virtualBoard(flash: SharedFlash, options: Partial<Omit<VirtualEsp32Options, 'flash'>> = {}): VirtualEsp32 {
  return new VirtualEsp32({ pythonModules: boardPythonModules(), sha256: nativeSha256, ...options, flash });
}
