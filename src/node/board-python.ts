/** The virtual board's built-in Python modules (src/device/board/python/), read next to the compiled code. */
import { readFileSync } from 'node:fs';

const MODULES = ['esp32', 'machine', 'flashbdev', '_flashfs'] as const;

let cached: { name: string; source: string }[] | undefined;

export function boardPythonModules(): { name: string; source: string }[] {
  cached ??= MODULES.map((name) => ({
    name,
    source: readFileSync(new URL(`../device/board/python/${name}.py`, import.meta.url), 'utf8'),
  }));
  return cached;
}
