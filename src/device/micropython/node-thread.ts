/** The interpreter in a Node worker thread (worker.ts). */
import { Worker } from 'node:worker_threads';
import { HostCallServer, type HostCallHandler } from './host-call.js';
import type { InterpreterThread, InterpreterThreadEvents } from './interpreter-thread.js';
import type { WorkerBootData } from './protocol.js';

const WORKER_URL = new URL('./worker.js', import.meta.url);

export function spawnNodeThread(boot: WorkerBootData, events: InterpreterThreadEvents, hostCalls?: HostCallHandler): InterpreterThread {
  const server = hostCalls ? new HostCallServer(hostCalls) : undefined;
  const workerData: WorkerBootData = { ...boot, ...(server && { hostCalls: server.workerEnd }) };
  const worker = new Worker(WORKER_URL, { workerData, transferList: server ? [server.workerEnd.port] : [] });
  worker.on('message', events.message);
  worker.on('error', events.error);
  worker.on('exit', (code) => {
    server?.close();
    events.exit(code);
  });
  return {
    postMessage: (message) => worker.postMessage(message),
    terminate: async () => {
      await worker.terminate();
    },
  };
}
