/** Creating and loading virtual ESP32 boards in Node: fresh flash images, flash files, the board's Python modules. */
import { createRequire } from 'node:module';
import { buildFlashImage } from '../format/flash-image-builder.js';
import type { PartitionTable } from '../format/partition-table.js';
import { createSharedFlash, type SharedFlash } from '../device/nor-flash.js';
import { DEFAULT_FLASH_SIZE, buildGeneratedFirmware, defaultPartitionTable } from '../device/virtual-firmware.js';
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

export interface FreshFlashOptions {
  readonly flashSize?: number;
  readonly table?: PartitionTable;
  /** The app in ota_0 (or factory); default: a generated MicroPython image of the bundled version. */
  readonly firmware?: Uint8Array;
  readonly chip?: string;
}

/** A new board's flash: bootloader stand-in, partition table, firmware in the first app partition, the rest erased. */
export function freshFlash(options: FreshFlashOptions = {}): SharedFlash {
  const table = options.table ?? defaultPartitionTable();
  const firstApp = [...table.partitions].filter((p) => p.type === 0).sort((a, b) => a.offset - b.offset)[0];
  if (!firstApp) throw new Error('the partition table has no app partition to put the firmware in');
  const firmware = options.firmware ?? buildGeneratedFirmware({ version: bundledMicroPythonVersion(), buildDate: new Date().toISOString().slice(0, 10) });
  const size = options.flashSize ?? DEFAULT_FLASH_SIZE;
  const shared = createSharedFlash(size);
  new Uint8Array(shared.memory).set(buildFlashImage({ chip: options.chip ?? 'esp32', flashSize: size, table, apps: { [firstApp.label]: firmware } }));
  return shared;
}

/**
 * A virtual board on `flash`, with the board modules, the native hash and a
 * network (the host's, behind a virtual access point: HostNetwork) filled in.
 */
export function virtualBoard(flash: SharedFlash, options: Partial<Omit<VirtualEsp32Options, 'flash'>> = {}): VirtualEsp32 {
  return new VirtualEsp32({ pythonModules: boardPythonModules(), sha256: nativeSha256, network: new HostNetwork(), ...options, flash });
}
