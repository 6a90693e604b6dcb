/**
 * Synchronous calls from the interpreter's worker thread to the main thread,
 * for board hardware whose real work is asynchronous on the host (the
 * network: node:net, node:dns, node:tls). The worker posts a request on a
 * MessagePort and sleeps on a shared counter; the main thread runs the
 * handler (which may await), posts the answer back and bumps the counter; the
 * worker takes the answer with receiveMessageOnPort, without returning to its
 * event loop (Python code is still running on its stack).
 *
 * Handlers must answer promptly: anything that can take long (a TCP connect,
 * a recv with nothing to read) is started by one call and finished by later
 * ones, with the worker sleeping on the event doorbell in between, so that
 * Ctrl-C stays responsive.
 */
import { MessageChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';

export type HostCallHandler = (request: unknown) => unknown;

interface CallMessage {
  readonly id: number;
  readonly request: unknown;
}

interface AnswerMessage {
  readonly id: number;
  readonly answer?: unknown;
  readonly error?: string;
}

const ANSWERS = 0;

/** What the worker needs to reach the main thread's handler; pass `port` in the transfer list. */
export interface HostCallEnd {
  readonly port: MessagePort;
  readonly control: SharedArrayBuffer;
}

/** Main-thread side: serves one worker's calls until closed. */
export class HostCallServer {
  readonly workerEnd: HostCallEnd;
  private readonly port: MessagePort;
  private readonly words: Int32Array;

  constructor(handler: HostCallHandler) {
    const channel = new MessageChannel();
    const control = new SharedArrayBuffer(4);
    this.port = channel.port1;
    this.words = new Int32Array(control);
    this.workerEnd = { port: channel.port2, control };
    this.port.on('message', (message: CallMessage) => {
      void (async () => {
        let reply: AnswerMessage;
        try {
          reply = { id: message.id, answer: await handler(message.request) };
        } catch (error) {
          reply = { id: message.id, error: error instanceof Error ? error.message : String(error) };
        }
        this.port.postMessage(reply);
        Atomics.add(this.words, ANSWERS, 1);
        Atomics.notify(this.words, ANSWERS);
      })();
    });
  }

  close(): void {
    this.port.close();
  }
}

/** Worker side. */
export class HostCaller {
  private readonly words: Int32Array;
  private nextId = 1;

  constructor(private readonly end: HostCallEnd) {
    this.words = new Int32Array(end.control);
  }

  /** Blocks this (worker) thread until the main thread answers; throws the handler's error. */
  call(request: unknown): unknown {
    const id = this.nextId++;
    this.end.port.postMessage({ id, request } satisfies CallMessage);
    for (;;) {
      const seen = Atomics.load(this.words, ANSWERS);
      for (let received = receiveMessageOnPort(this.end.port); received; received = receiveMessageOnPort(this.end.port)) {
        const reply = received.message as AnswerMessage;
        if (reply.id !== id) continue;
        if (reply.error !== undefined) throw new Error(reply.error);
        return reply.answer;
      }
      Atomics.wait(this.words, ANSWERS, seen);
    }
  }
}
