import type { MicroPython } from '@micropython/micropython-webassembly-pyscript';

/** Runs Python source in a fresh globals dict, so none of its names leak into __main__. */
export function execPrivately(mp: MicroPython, source: string): void {
  const builtins = mp.pyimport('builtins');
  builtins.exec(source, builtins.dict());
}
