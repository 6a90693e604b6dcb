/** Test wiring: a BoardSession (ReplMachine + fake interpreter) on the device end of an in-memory link. */
import { ReplMachine, type ReplMachineOptions } from '../../src/device/repl/index.js';
import { createLinkedTransports } from '../../src/transport/in-memory.js';
import { tapWrites } from '../../src/transport/tap.js';
import type { Transport } from '../../src/transport/transport.js';
import { BANNER_LINE, BoardSession, type BoardOptions } from '../fixtures/repl/board-session.js';

export interface BoardLink {
  board: BoardSession;
  /** The host's end, as the client sees it. */
  host: Transport;
}

const connectedBoards: BoardSession[] = [];

/** Powers the board on (without waiting for its prompt: main.py may never end) and returns both ends. */
export function connectBoard(options: BoardOptions = {}, board = new BoardSession(options)): BoardLink {
  connectedBoards.push(board);
  const [host, device] = createLinkedTransports('test board');
  device.onData((chunk) => board.send(chunk));
  board.subscribe((bytes) => void device.write(bytes));
  board.machine.start();
  return { board, host };
}

/**
 * Halts every board connected so far and ends any program still running on it
 * (a Ctrl-C to the fake interpreter), so that a failed test cannot leave an
 * endless `while True: pass` keeping the test process alive.
 */
export function stopBoards(): void {
  for (const board of connectedBoards.splice(0)) {
    board.machine.stop();
    board.executor.feedInput(Uint8Array.of(0x03));
  }
}

/** A ReplMachine with an executor of the test's choosing, started, on the device end of an in-memory link. */
export function connectMachine(options: Omit<ReplMachineOptions, 'write' | 'banner'>): { machine: ReplMachine; host: Transport } {
  const [host, device] = createLinkedTransports('test board');
  const machine = new ReplMachine({ ...options, banner: () => BANNER_LINE, write: (bytes) => void device.write(bytes) });
  device.onData((chunk) => machine.receive(chunk));
  machine.start();
  return { machine, host };
}

/** A transport wrapper that records every write, for assertions on what the host sent. */
export function recordWrites(inner: Transport): { transport: Transport; writes: Uint8Array[] } {
  const writes: Uint8Array[] = [];
  return { transport: tapWrites(inner, (data) => writes.push(data.slice())), writes };
}
