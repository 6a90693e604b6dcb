/**
 * An interpreter thread (as src/device/micropython/worker.ts) that collects
 * garbage each time an interpreter's WebAssembly is instantiated: what V8 may
 * do at any allocation, done at the moment when the objects of the previous
 * interpreter in this thread are garbage and their finalizers run once the
 * new interpreter is up.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker, parentPort, workerData } from 'node:worker_threads';
import { serveInterpreterThread, type SpawnInterpreterThread } from '../../src/device/micropython/interpreter-thread.js';
import type { FromWorker, ToWorker, WorkerBootData } from '../../src/device/micropython/protocol.js';

const THIS_FILE = new URL(import.meta.url);

/** A SpawnInterpreterThread for MicroPythonWorker.start({ spawnThread }) that runs this file. */
export const spawnCollectingThread: SpawnInterpreterThread = (boot, events) => {
  const worker = new Worker(THIS_FILE, { workerData: boot });
  worker.on('message', events.message);
  worker.on('error', events.error);
  worker.on('exit', events.exit);
  return {
    postMessage: (message) => worker.postMessage(message),
    terminate: async () => {
      await worker.terminate();
    },
  };
};

if (parentPort && workerData) {
  const port = parentPort;
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const wasm = (globalThis as unknown as { WebAssembly: { instantiate: (...args: unknown[]) => Promise<unknown> } }).WebAssembly;
  const instantiate = wasm.instantiate;
  wasm.instantiate = async (...args) => {
    const instance = await instantiate.apply(wasm, args);
    gc();
    return instance;
  };
  void serveInterpreterThread(
    workerData as WorkerBootData,
    (message: FromWorker) => {
      if (message.type !== 'ready') return port.postMessage(message);
      void (async () => {
        for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setTimeout(resolve, 0));
        port.postMessage(message);
      })();
    },
    (listener: (message: ToWorker) => void) => port.on('message', listener),
  );
}
