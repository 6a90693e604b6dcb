/**
 * Test scaffolding: the real MicroPython interpreter (the WebAssembly build the
 * virtual ESP32 uses) behind the CodeExecutor interface, so that the client's
 * Python (json.dumps, tracebacks) is checked against real MicroPython.
 * Programs run to completion synchronously: there is no stdin and no Ctrl-C.
 */
import { loadMicroPython, type PythonError } from '@micropython/micropython-webassembly-pyscript';
import type { CodeExecutor } from '../../src/device/repl/index.js';

export async function loadMicroPythonExecutor(): Promise<CodeExecutor> {
  let sink: ((bytes: Uint8Array) => void) | undefined;
  const utf8 = new TextEncoder();
  const mp = await loadMicroPython({
    linebuffer: false,
    stdout: (data) => sink?.(typeof data === 'string' ? utf8.encode(data) : data),
  });
  return {
    async execute(code, _mode, onOutput) {
      sink = onOutput;
      try {
        mp.runPython(code);
        return {};
      } catch (error) {
        if ((error as PythonError).name === 'PythonError') return { exception: (error as PythonError).message };
        throw error;
      } finally {
        sink = undefined;
      }
    },
    feedInput: () => undefined,
    takeUnreadInput: () => new Uint8Array(0),
    softReset: async () => undefined,
  };
}
