/** The virtual board's built-in Python modules (src/device/board/python/), read next to the compiled code. */
import { readFileSync } from 'node:fs';
import type { BoardPythonModule } from '../device/board/esp32-hardware.js';

/** In installation order: a module may import those before it. */
const MODULES = ['os', 'errno', 'io', 'hashlib', 'cryptolib', 'esp32', 'machine', 'flashbdev', 'esp'] as const;
const NETWORK_MODULES = ['socket', 'select', 'network', 'tls', 'ssl', 'requests', 'mip', 'ntptime'] as const;

/** Names the ESP32 build also answers to: `u` + a C module's name, and the frozen urequests. */
const ALIASES: Record<string, string> = Object.fromEntries([
  ...['os', 'errno', 'io', 'hashlib', 'cryptolib', 'esp32', 'machine', 'esp', 'socket', 'select', 'network', 'tls'].map((name) => [name, `u${name}`]),
  ['requests', 'urequests'],
]);

let cached: BoardPythonModule[] | undefined;

export function boardPythonModules(): BoardPythonModule[] {
  const load = (name: string, needsNetwork: boolean): BoardPythonModule => ({
    name,
    source: readFileSync(new URL(`../device/board/python/${name}.py`, import.meta.url), 'utf8'),
    ...(needsNetwork && { needsNetwork }),
    ...(ALIASES[name] && { alias: ALIASES[name] }),
  });
  cached ??= [...MODULES.map((name) => load(name, false)), ...NETWORK_MODULES.map((name) => load(name, true))];
  return cached;
}
