/** Creating and loading virtual ESP32 boards in Node: fresh flash images, flash files, the board's Python modules. */
import { createRequire } from 'node:module';
import type { SharedFlash } from '../device/nor-flash.js';
import { buildFreshFlash, buildGeneratedFirmware, type FreshFlashOptions as BuildOptions } from '../device/virtual-firmware.js';
import { VirtualEsp32, type VirtualEsp32Options } from '../device/virtual-esp32.js';
import { boardPythonModules } from './board-python.js';
import { nativeSha256 } from './native-hash.js';
import { HostNetwork } from './host-network.js';

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

/**
 * A virtual board on `flash`, with the board modules, the native hash and a
 * network (the host's, behind a virtual access point: HostNetwork) filled in.
 */
export function virtualBoard(flash: SharedFlash, options: Partial<Omit<VirtualEsp32Options, 'flash'>> = {}): VirtualEsp32 {
  return new VirtualEsp32({ pythonModules: boardPythonModules(), sha256: nativeSha256, network: new HostNetwork(), ...options, flash });
}
