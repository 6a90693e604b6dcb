/** Entry point of the interpreter's Node worker thread (see interpreter-thread.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import { serveInterpreterThread } from './interpreter-thread.js';
import type { FromWorker, ToWorker, WorkerBootData } from './protocol.js';

const port = parentPort!;
void serveInterpreterThread(
  workerData as WorkerBootData,
  (message: FromWorker) => port.postMessage(message),
  (listener: (message: ToWorker) => void) => port.on('message', listener),
);
