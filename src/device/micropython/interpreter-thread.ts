/**
 * Where the interpreter runs: a thread that takes ToWorker messages and posts
 * FromWorker ones. Node uses a worker_thread (node-thread.ts), a browser a Web
 * Worker (web/src/virtual-board/); MicroPythonWorker drives either the same way.
 */
import { InterpreterSession, type SessionHost } from './interpreter-session.js';
import type { FromWorker, ToWorker, WorkerBootData } from './protocol.js';
import type { HostCallHandler } from './host-call.js';
import { StdinRing } from './stdin-ring.js';
import { TimedWire } from './timed-wire.js';

export interface InterpreterThreadEvents {
  message(message: FromWorker): void;
  error(error: Error): void;
  /** The thread ended (crashed or was terminated). */
  exit(code: number): void;
}

export interface InterpreterThread {
  postMessage(message: ToWorker): void;
  terminate(): Promise<void>;
}

/** `hostCalls` serves the board modules' synchronous calls to this thread (the network); a thread without them has none. */
export type SpawnInterpreterThread = (boot: WorkerBootData, events: InterpreterThreadEvents, hostCalls?: HostCallHandler) => InterpreterThread;

/**
 * Serves one thread's messages: runs one InterpreterSession, the thread's only
 * one. The MicroPython package keeps its proxy bookkeeping on globalThis (the
 * current Module, the JS reference table, the FinalizationRegistry of PyProxy
 * objects): once a second interpreter has started in the same realm, the
 * finalizers of the first one's proxies free proxy slots of the second (its
 * __main__ dict, say), so a restart is a new thread. Python code runs
 * synchronously, so while it runs the thread takes no messages; the main
 * thread reaches it through shared memory (stdin ring, interrupt line).
 * A bundled page passes its own copy of the board's modules and the URL of
 * micropython.wasm; Node's worker passes the host-call end of the network.
 */
export async function serveInterpreterThread(
  boot: WorkerBootData,
  post: (message: FromWorker) => void,
  onMessage: (listener: (message: ToWorker) => void) => void,
  loading: Pick<SessionHost, 'importModules' | 'wasmUrl' | 'hostCaller'> = {},
): Promise<void> {
  const host: SessionHost = {
    stdin: new StdinRing(boot.stdinBuffer),
    wire: new TimedWire(boot.wireBuffer),
    interruptControl: boot.interruptControl,
    onOutput: (bytes: Uint8Array) => post({ type: 'output', bytes }),
    onStdinSpace: () => post({ type: 'stdin-space' }),
    ...loading,
  };
  let session: InterpreterSession | undefined;
  onMessage((message) => {
    try {
      if (!session) throw new Error('no interpreter is running');
      post({ type: 'done', result: session.execute(message.code, message.mode) });
    } catch (error) {
      post({ type: 'crashed', message: error instanceof Error ? error.message : String(error) });
    }
  });
  try {
    session = await InterpreterSession.start(boot.settings, host);
    post({ type: 'ready', memory: session.memory, sites: session.sites });
  } catch (error) {
    post({ type: 'start-failed', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  }
}
