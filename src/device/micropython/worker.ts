/**
 * Entry point of the interpreter's worker thread: owns one InterpreterSession
 * at a time and serves MicroPythonWorker's messages. Python code runs
 * synchronously here, so while it runs this thread takes no messages; the
 * main thread reaches it through shared memory (stdin ring, interrupt line).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { InterpreterSession, type SessionHost } from './interpreter-session.js';
import type { FromWorker, InterpreterSettings, ToWorker, WorkerBootData } from './protocol.js';
import { StdinRing } from './stdin-ring.js';
import { TimedWire } from './timed-wire.js';

const port = parentPort!;
const boot = workerData as WorkerBootData;
const post = (message: FromWorker): void => port.postMessage(message);

const host: SessionHost = {
  stdin: new StdinRing(boot.stdinBuffer),
  wire: new TimedWire(boot.wireBuffer),
  interruptControl: boot.interruptControl,
  onOutput: (bytes) => post({ type: 'output', bytes }),
  onStdinSpace: () => post({ type: 'stdin-space' }),
};

let session: InterpreterSession | undefined;

async function startSession(settings: InterpreterSettings): Promise<void> {
  session = undefined;
  try {
    session = await InterpreterSession.start(settings, host);
    post({ type: 'ready', memory: session.memory, sites: session.sites });
  } catch (error) {
    post({ type: 'start-failed', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  }
}

port.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'execute':
      try {
        if (!session) throw new Error('no interpreter is running');
        post({ type: 'done', result: session.execute(message.code, message.mode) });
      } catch (error) {
        post({ type: 'crashed', message: error instanceof Error ? error.message : String(error) });
      }
      break;
    case 'restart':
      void startSession(message.settings);
      break;
  }
});

void startSession(boot.settings);
