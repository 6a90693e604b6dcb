/**
 * The virtual ESP32 in the page: the project's VirtualEsp32 (flash, bootloader
 * model, REPL) on the main thread, its MicroPython interpreter in a Web Worker.
 * Shared memory needs a cross-origin isolated page (COOP/COEP headers).
 * Loaded only when a visitor picks the virtual board, with the .wasm.
 */
import interpreterPackage from '@micropython/micropython-webassembly-pyscript/package.json';
import { listBoardPythonModules } from '../../src/device/board/python-modules.js';
import type { InterpreterThread, SpawnInterpreterThread } from '../../src/device/micropython/interpreter-thread.js';
import type { FromWorker } from '../../src/device/micropython/protocol.js';
import { VirtualEsp32 } from '../../src/device/virtual-esp32.js';
import { buildFreshFlash, buildGeneratedFirmware } from '../../src/device/virtual-firmware.js';
import type { BoardLink } from '../../src/ota/engine.js';

const PYTHON_SOURCES = import.meta.glob<string>(['../../src/device/board/python/*.py', '../../device/ota/mqtt.py'], { query: '?raw', import: 'default', eager: true });

/** The same modules as the Node side (src/node/board-python.ts); the page's board has no network, so those are not installed. */
const PYTHON_MODULES = listBoardPythonModules((path) => {
  const source = PYTHON_SOURCES[`../../${path}`];
  if (source === undefined) throw new Error(`the page was built without the board module ${path}`);
  return source;
});

const spawnWebWorker: SpawnInterpreterThread = (boot, events): InterpreterThread => {
  const worker = new Worker(new URL('./interpreter-worker.ts', import.meta.url), { type: 'module', name: 'virtual ESP32 interpreter' });
  worker.onmessage = (event: MessageEvent<FromWorker>) => events.message(event.data);
  worker.onerror = (event) => events.error(new Error(event.message || 'the interpreter worker failed'));
  worker.postMessage(boot);
  return {
    postMessage: (message) => worker.postMessage(message),
    terminate: async () => worker.terminate(),
  };
};

export interface PageBoard {
  readonly board: VirtualEsp32;
  readonly link: BoardLink;
  stop(): Promise<void>;
}

export async function startPageBoard(): Promise<PageBoard> {
  if (!globalThis.crossOriginIsolated) {
    throw new Error(
      'the virtual board needs shared memory, which this page gets only when served with the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp (esp32-ota web sets them)',
    );
  }
  const version = `v${interpreterPackage.version}`;
  const firmware = buildGeneratedFirmware({ version, buildDate: new Date().toISOString().slice(0, 10) });
  const board = new VirtualEsp32({ flash: buildFreshFlash({ firmware }), pythonModules: PYTHON_MODULES, spawnInterpreter: spawnWebWorker });
  await board.powerOn();
  await board.idle();
  const transport = board.connect('virtual ESP32 in this page');
  const link: BoardLink = {
    transport,
    hardReset: async () => {
      await board.reset('POWERON_RESET');
      await board.idle();
    },
    reconnect: async () => transport,
  };
  return {
    board,
    link,
    stop: async () => {
      await transport.close();
      await board.stop();
    },
  };
}
