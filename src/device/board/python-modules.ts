/**
 * The virtual board's built-in Python modules (src/device/board/python/): which
 * ones, in what order, and under what other names. Browser-safe: the caller
 * says how to read a module's source (Node reads the file next to the compiled
 * code, the page bundles it).
 */
import type { BoardPythonModule } from './esp32-hardware.js';

/** In installation order: a module may import those before it. */
const MODULES = ['os', 'errno', 'io', 'hashlib', 'cryptolib', 'esp32', 'machine', 'flashbdev', '_flashfs', 'esp', 'select'] as const;
const NETWORK_MODULES = ['socket', 'network', 'tls', 'ssl', 'requests', 'mip', 'ntptime', 'umqtt.simple'] as const;

/**
 * Where a module's source is, from the repository's root (the build keeps the
 * same layout under dist/). umqtt.simple is the ota package's own MQTT client
 * (device/ota/mqtt.py): one file, frozen on the virtual board as the official
 * firmware freezes micropython-lib's, and shipped in the package for boards without it.
 */
export function boardPythonModulePath(name: string): string {
  return name === 'umqtt.simple' ? 'device/ota/mqtt.py' : `src/device/board/python/${name}.py`;
}

/** Names the ESP32 build also answers to: `u` + a C module's name, and the frozen urequests. */
const ALIASES: Record<string, string> = Object.fromEntries([
  ...['os', 'errno', 'io', 'hashlib', 'cryptolib', 'esp32', 'machine', 'esp', 'socket', 'select', 'network', 'tls'].map((name) => [name, `u${name}`]),
  ['requests', 'urequests'],
]);

/** `readSource` gets the path boardPythonModulePath gives. */
export function listBoardPythonModules(readSource: (path: string) => string): BoardPythonModule[] {
  const load = (name: string, needsNetwork: boolean): BoardPythonModule => ({
    name,
    source: readSource(boardPythonModulePath(name)),
    ...(needsNetwork && { needsNetwork }),
    ...(ALIASES[name] && { alias: ALIASES[name] }),
  });
  return [...MODULES.map((name) => load(name, false)), ...NETWORK_MODULES.map((name) => load(name, true))];
}
