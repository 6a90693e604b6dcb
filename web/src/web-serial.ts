/**
 * USB serial from a browser (Web Serial, Chrome and Edge), with the CLI's
 * care not to reset the board on open: both DTR and RTS released together
 * right after opening, the state in which the auto-reset circuit pulls
 * neither EN nor IO0 (src/transport/reset-lines.ts). The OS driver changes
 * both lines together when a port opens or closes (Linux raises both on open
 * and drops both on close): that too pulls neither pin, so the board keeps
 * running.
 *
 * Web Serial has no way to change an open port's bit rate: setBaudRate (the
 * transfer's UART rate switch) closes the port and opens it again at the new
 * rate, as esptool-js does.
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
  readonly baudRate: number;
  setBaudRate(baud: number): Promise<void>;
  hardReset(): Promise<void>;
}

/** MicroPython's REPL UART rate on an ESP32 (MICROPY_HW_UART_REPL_BAUD). */
const REPL_BAUD = 115_200;

export function webSerialAvailable(): boolean {
  return 'serial' in navigator;
}

export async function openWebSerial(baudRate = REPL_BAUD): Promise<WebSerialTransport> {
  const serial = (navigator as Navigator & { serial?: WebSerial }).serial;
  if (!serial) throw new Error('this browser has no Web Serial: use Chrome or Edge, or connect over WebREPL');
  const port = await serial.requestPort();
  const events = new TransportEvents();
  let rate = baudRate;
  let description = `USB serial (${rate} baud)`;
  /** The open port's streams; `stopping` once this side closes it (close, a rate change): its end is then no loss. */
  let streams: { reader: ReadableStreamDefaultReader<Uint8Array>; writer: WritableStreamDefaultWriter<Uint8Array>; stopping: boolean } | undefined;

  const setLines = (lines: ControlLines): Promise<void> => port.setSignals({ dataTerminalReady: lines.dtr, requestToSend: lines.rts });
  const lost = (error: unknown): Error => new Error(`the USB serial port went away (${(error as Error).message.replace(/\.$/, '')}; was the board unplugged?)`);

  const start = async (): Promise<void> => {
    try {
      await port.open({ baudRate: rate });
    } catch (error) {
      throw new Error(`cannot open the serial port: ${(error as Error).message} (is another program, e.g. a serial monitor, using it?)`, { cause: error });
    }
    await setLines(RUN_LINES);
    const opened = { reader: port.readable!.getReader(), writer: port.writable!.getWriter(), stopping: false };
    streams = opened;
    void (async () => {
      try {
        for (;;) {
          const { value, done } = await opened.reader.read();
          if (done) break;
          if (value) events.emitData(value);
        }
        if (!opened.stopping) events.emitClose(lost(new Error('the port closed')));
      } catch (error) {
        if (!opened.stopping) events.emitClose(lost(error));
      }
    })();
  };

  /** Gives the streams back and closes the port; the lines are the driver's business then. */
  const stop = async (): Promise<void> => {
    const current = streams;
    streams = undefined;
    if (!current) return;
    current.stopping = true;
    await current.reader.cancel().catch(() => undefined);
    current.reader.releaseLock();
    current.writer.releaseLock();
    await port.close().catch(() => undefined);
  };

  await start();
  return {
    get description() {
      return description;
    },
    get closed() {
      return events.closed;
    },
    get baudRate() {
      return rate;
    },
    async setBaudRate(baud) {
      if (events.closed) throw new TransportClosedError(description);
      await stop();
      rate = baud;
      description = `USB serial (${rate} baud)`;
      try {
        await start();
      } catch (error) {
        events.emitClose(error as Error);
        throw error;
      }
    },
    async write(data) {
      if (events.closed || !streams) throw new TransportClosedError(description);
      try {
        await streams.writer.write(data);
      } catch (error) {
        const failure = lost(error);
        events.emitClose(failure);
        throw new TransportClosedError(description, failure);
      }
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
      // Also after a loss: the browser keeps a port open (and locked) until it is closed.
      if (streams && !events.closed) await setLines(RUN_LINES).catch(() => undefined);
      await stop();
      events.emitClose();
    },
  };
}
