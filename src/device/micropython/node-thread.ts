/** The interpreter in a Node worker thread (worker.ts). */
import { Worker } from 'node:worker_threads';
import type { InterpreterThread, InterpreterThreadEvents } from './interpreter-thread.js';
import type { WorkerBootData } from './protocol.js';

const WORKER_URL = new URL('./worker.js', import.meta.url);

export function spawnNodeThread(boot: WorkerBootData, events: InterpreterThreadEvents): InterpreterThread {
  const worker = new Worker(WORKER_URL, { workerData: boot });
  worker.on('message', events.message);
  worker.on('error', events.error);
  worker.on('exit', events.exit);
  return {
    postMessage: (message) => worker.postMessage(message),
    terminate: async () => {
      await worker.terminate();
    },
  };
}
