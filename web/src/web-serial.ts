/**
 * USB serial from a browser (Web Serial, Chrome and Edge), with the CLI's
 * care not to reset the board on open: both DTR and RTS released together
 * right after opening, the state in which the auto-reset circuit pulls
 * neither EN nor IO0 (src/transport/reset-lines.ts). A browser cannot open a
 * port without its own line changes (Chrome asserts both on open: that too
 * pulls neither pin), so the board keeps running.
 */
import { HARD_RESET_SEQUENCE, RUN_LINES, type ControlLines } from '../../src/transport/reset-lines.js';
import { TransportClosedError, TransportEvents, type Transport } from '../../src/transport/transport.js';

/** The parts of the Web Serial API used here (TypeScript's DOM library has no types for it yet). */
interface WebSerialPort {
  open(options: { baudRate: number }): Promise<void>;
  close(): Promise<void>;
  setSignals(signals: { dataTerminalReady: boolean; requestToSend: boolean }): Promise<void>;
  readonly readable: ReadableStream<Uint8Array> | null;
  readonly writable: WritableStream<Uint8Array> | null;
}
interface WebSerial {
  requestPort(): Promise<WebSerialPort>;
}

export interface WebSerialTransport extends Transport {
  hardReset(): Promise<void>;
}

export function webSerialAvailable(): boolean {
  return 'serial' in navigator;
}

export async function openWebSerial(baudRate: number): Promise<WebSerialTransport> {
  const serial = (navigator as Navigator & { serial?: WebSerial }).serial;
  if (!serial) throw new Error('this browser has no Web Serial: use Chrome or Edge, or connect over WebREPL');
  const port = await serial.requestPort();
  try {
    await port.open({ baudRate });
  } catch (error) {
    throw new Error(`cannot open the serial port: ${(error as Error).message} (is another program, e.g. a serial monitor, using it?)`, { cause: error });
  }
  const setLines = (lines: ControlLines): Promise<void> => port.setSignals({ dataTerminalReady: lines.dtr, requestToSend: lines.rts });
  await setLines(RUN_LINES);
  const description = `USB serial (${baudRate} baud)`;
  const events = new TransportEvents();
  const reader = port.readable!.getReader();
  const writer = port.writable!.getWriter();
  let closing = false;
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        if (value) events.emitData(value);
      }
      events.emitClose();
    } catch (error) {
      events.emitClose(closing ? undefined : new Error(`the serial port stopped: ${(error as Error).message} (was the board unplugged?)`));
    }
  })();
  return {
    description,
    get closed() {
      return events.closed;
    },
    async write(data) {
      if (events.closed) throw new TransportClosedError(description);
      await writer.write(data);
    },
    onData: (listener) => events.onData(listener),
    onClose: (listener) => events.onClose(listener),
    async hardReset() {
      for (const step of HARD_RESET_SEQUENCE) {
        await setLines(step.lines);
        if (step.holdMs > 0) await new Promise((resolve) => setTimeout(resolve, step.holdMs));
      }
    },
    async close() {
      if (events.closed) return;
      closing = true;
      await setLines(RUN_LINES).catch(() => undefined);
      await reader.cancel().catch(() => undefined);
      reader.releaseLock();
      writer.releaseLock();
      await port.close().catch(() => undefined);
      events.emitClose();
    },
  };
}
