/** The MicroPython programs the host runs on the board, kept as real .py files next to this module. */
import { loadShippedText } from './shipped-text.js';

const PROGRAMS = {
  status: new URL('./device/status.py', import.meta.url),
  control: new URL('./device/control.py', import.meta.url),
  pull: new URL('./device/pull.py', import.meta.url),
};

export function deviceProgram(name: keyof typeof PROGRAMS): Promise<string> {
  return loadShippedText(PROGRAMS[name]);
}
