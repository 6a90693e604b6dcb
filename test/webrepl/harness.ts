/** Test scaffolding: a WebREPL server on 127.0.0.1 in front of a board (ReplMachine + fake interpreter) or a bare byte stream. */
import { createLinkedTransports } from '../../src/transport/in-memory.js';
import type { Transport } from '../../src/transport/transport.js';
import type { WebReplFileSystem } from '../../src/webrepl/file-transfer.js';
import { startWebReplServer, type WebReplServer } from '../../src/webrepl/webrepl-server.js';
import { BoardSession, latin1 } from '../fixtures/repl/board-session.js';

export const PASSWORD = 'Pa55w0rd';

export class MapFiles implements WebReplFileSystem {
  readonly files = new Map<string, Uint8Array>();

  readFile(name: string): Uint8Array | undefined {
    return this.files.get(name);
  }

  writeFile(name: string, data: Uint8Array): void {
    this.files.set(name, data.slice());
  }
}

export interface Rig {
  server: WebReplServer;
  files: MapFiles;
  /** What the board printed on its own console. */
  console: string[];
  /** The device end of the REPL link: what the client's text reaches, and where the board writes. */
  device: Transport;
  /** Bytes that reached the device end, in order. */
  deviceInput: () => Uint8Array;
  board: BoardSession | undefined;
  stop: () => Promise<void>;
}

/** A server whose REPL is a ReplMachine with the fake interpreter (`withBoard`) or nothing but the device end of a link. */
export async function startRig(options: { withBoard?: boolean } = {}): Promise<Rig> {
  const [host, device] = createLinkedTransports('virtual ESP32');
  const files = new MapFiles();
  const consoleLines: string[] = [];
  const input: number[] = [];
  device.onData((bytes) => {
    for (const byte of bytes) input.push(byte);
  });
  let board: BoardSession | undefined;
  if (options.withBoard) {
    board = new BoardSession();
    const machine = board;
    device.onData((bytes) => machine.send(bytes));
    board.subscribe((bytes) => void device.write(bytes));
    await board.boot();
  }
  const server = await startWebReplServer({
    password: PASSWORD,
    repl: host,
    files,
    version: [1, 23, 0],
    port: 0,
    console: (text) => consoleLines.push(text),
  });
  return {
    server,
    files,
    console: consoleLines,
    device,
    deviceInput: () => Uint8Array.from(input),
    board,
    stop: async () => {
      await server.close();
      await host.close();
    },
  };
}

/** Collects a transport's data as latin1 text and lets a test wait for some. */
export class Collector {
  text = '';
  private waiters: Array<() => void> = [];

  constructor(transport: { onData(listener: (chunk: Uint8Array) => void): () => void }) {
    transport.onData((chunk) => {
      this.text += latin1(chunk);
      const waiters = this.waiters;
      this.waiters = [];
      waiters.forEach((wake) => wake());
    });
  }

  /** Waits until the collected text contains `expected`; returns the text up to its end and keeps the rest. */
  async take(expected: string, timeoutMs = 3000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!this.text.includes(expected)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${JSON.stringify(expected)}; have ${JSON.stringify(this.text)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    const end = this.text.indexOf(expected) + expected.length;
    const taken = this.text.slice(0, end);
    this.text = this.text.slice(end);
    return taken;
  }
}

export async function waitFor(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
