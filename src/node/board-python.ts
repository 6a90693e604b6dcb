/** The virtual board's built-in Python modules, read next to the compiled code. */
import { readFileSync } from 'node:fs';
import type { BoardPythonModule } from '../device/board/esp32-hardware.js';
import { listBoardPythonModules } from '../device/board/python-modules.js';

let cached: BoardPythonModule[] | undefined;

export function boardPythonModules(): BoardPythonModule[] {
  cached ??= listBoardPythonModules((path) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8'));
  return cached;
}
