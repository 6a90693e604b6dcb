/** The MicroPython programs the host runs on the board, kept as real .py files next to this module. */
import { readFileSync } from 'node:fs';

const cache = new Map<string, string>();

export function deviceProgram(name: 'status' | 'control' | 'pull'): string {
  let source = cache.get(name);
  if (source === undefined) {
    source = readFileSync(new URL(`./device/${name}.py`, import.meta.url), 'utf8');
    cache.set(name, source);
  }
  return source;
}
