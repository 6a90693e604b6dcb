/** Entry point of the interpreter's Node worker thread (see interpreter-thread.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import { serveInterpreterThread } from './interpreter-thread.js';
import type { FromWorker, ToWorker, WorkerBootData } from './protocol.js';
import { HostCaller } from './host-call.js';

const port = parentPort!;
const boot = workerData as WorkerBootData;
void serveInterpreterThread(
  boot,
  (message: FromWorker) => port.postMessage(message),
  (listener: (message: ToWorker) => void) => port.on('message', listener),
  boot.hostCalls ? { hostCaller: new HostCaller(boot.hostCalls) } : {},
);
