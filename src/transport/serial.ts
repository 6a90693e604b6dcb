/**
 * A Transport over a USB serial port, with `serialport`. Opening does not
 * reset the board: ESP32 dev boards wire DTR and RTS to IO0 and EN through the
 * two-transistor auto-reset circuit, so the port is opened without HUPCL (Windows
 * would otherwise assert DTR alone, macOS and Linux drop DTR and RTS on close) and
 * both lines are then released together, the state in which the circuit pulls
 * neither pin. hardReset() pulses EN the way esptool's HardReset does.
 */
import { SerialPort } from 'serialport';
import { HARD_RESET_SEQUENCE, RUN_LINES, type ControlLines } from './reset-lines.js';
import { TransportClosedError, TransportEvents, type Transport } from './transport.js';

export { HARD_RESET_SEQUENCE, RUN_LINES, autoResetPins, type ControlLines, type LineStep } from './reset-lines.js';

/** What openSerialTransport asks of a port: the parts of serialport's SerialPortStream it uses. */
export interface SerialPortHandle {
  open(callback: (error: Error | null) => void): void;
  write(data: Uint8Array, callback: (error: Error | null | undefined) => void): boolean;
  /** Sets every line it is given and the stream's defaults (DTR and RTS asserted!) for the others: always pass both. */
  set(options: ControlLines, callback: (error: Error | null) => void): void;
  close(callback: (error: Error | null) => void): void;
  /** Changes the port's bit rate (serialport's SerialPort.update). */
  update?(options: { baudRate: number }, callback: (error: Error | null) => void): void;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'close', listener: (error?: Error | null) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  readonly isOpen: boolean;
}

export interface SerialPortRequest {
  path: string;
  baudRate: number;
  /** Leave DTR alone on open (Windows) and on close (all systems). */
  hupcl: false;
  autoOpen: false;
}

export interface SerialOptions {
  baudRate?: number;
  /** Pulse EN after opening, so the board boots afresh (default false). */
  resetOnOpen?: boolean;
  /** Told when the port works differently from a USB serial port (no modem lines). */
  onNote?: (message: string) => void;
  /** Makes the port; the system's serial ports by default. Tests pass serialport's mock binding here. */
  openPort?: (request: SerialPortRequest) => SerialPortHandle;
}

export interface SerialTransport extends Transport {
  /**
   * False on ports whose DTR/RTS cannot be set (a pty, a network bridge such as
   * ser2net or QEMU, Bluetooth serial, some USB-CDC stacks): nothing to hold
   * and no reset from outside.
   */
  readonly hasModemLines: boolean;
  /** Reboots the board through EN (HARD_RESET_SEQUENCE); needs modem lines. */
  hardReset(): Promise<void>;
}

export async function openSerialTransport(path: string, options: SerialOptions = {}): Promise<SerialTransport> {
  const baudRate = options.baudRate ?? 115200;
  const openPort = options.openPort ?? ((request) => new SerialPort(request));
  const port = openPort({ path, baudRate, hupcl: false, autoOpen: false });
  try {
    await callback((done) => port.open(done));
  } catch (error) {
    throw describeSerialOpenError(path, error as Error);
  }
  const transport = new SerialPortTransport(port, `${path} (${baudRate} baud)`, baudRate);
  try {
    await transport.setLines(RUN_LINES);
  } catch (error) {
    transport.hasModemLines = false;
    options.onNote?.(`${path} has no DTR/RTS lines to set (${(error as Error).message}): going on without them; a reset goes through machine.reset()`);
  }
  if (options.resetOnOpen && transport.hasModemLines) await transport.hardReset();
  return transport;
}

/** An error for people, from what the serialport bindings say when a port will not open. */
export function describeSerialOpenError(path: string, error: Error): Error {
  const text = error.message.replace(/^Error: /, '');
  const windows = /^COM\d+$/i.test(path);
  if (/no such file|file not found|does not exist|cannot find/i.test(text)) {
    const hint = windows
      ? 'Windows lists the ports in Device Manager under "Ports (COM & LPT)"'
      : 'list the ports with: ls /dev/ttyUSB* /dev/ttyACM* (macOS: ls /dev/cu.*)';
    return new Error(`no serial port ${path}: is the board plugged in? ${hint}`, { cause: error });
  }
  if (/permission denied|EACCES/i.test(text)) {
    return new Error(
      `no permission to open ${path}: add your user to the dialout group (sudo usermod -aG dialout $USER; uucp on Arch) and log in again`,
      { cause: error },
    );
  }
  // Windows says "Access denied" when another program has the port open.
  if (/access denied|cannot lock port|is locked|resource busy|EBUSY|temporarily unavailable/i.test(text)) {
    return new Error(`${path} is in use by another program (a serial monitor, mpremote or esptool?): close it and try again`, {
      cause: error,
    });
  }
  return new Error(`cannot open serial port ${path}: ${text}`, { cause: error });
}

class SerialPortTransport implements SerialTransport {
  private readonly events = new TransportEvents();
  private failure: Error | undefined;
  hasModemLines = true;

  constructor(
    private readonly port: SerialPortHandle,
    readonly description: string,
    private rate: number,
  ) {
    port.on('data', (chunk: Buffer) => this.events.emitData(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length)));
    port.on('error', (error: Error) => (this.failure = error));
    port.on('close', (error?: Error | null) => this.events.emitClose(error ?? this.failure));
  }

  get closed(): boolean {
    return this.events.closed;
  }

  get baudRate(): number {
    return this.rate;
  }

  async setBaudRate(baud: number): Promise<void> {
    const port = this.port;
    if (!port.update) throw new Error(`${this.description} cannot change its bit rate`);
    await callback((done) => port.update!({ baudRate: baud }, done));
    this.rate = baud;
  }

  write(data: Uint8Array): Promise<void> {
    if (this.closed) return Promise.reject(new TransportClosedError(this.description, this.failure));
    return callback((done) => this.port.write(data, (error) => done(error ?? null))).catch((error: Error) => {
      throw new TransportClosedError(this.description, error);
    });
  }

  onData(listener: (chunk: Uint8Array) => void): () => void {
    return this.events.onData(listener);
  }

  onClose(listener: (error?: Error) => void): () => void {
    return this.events.onClose(listener);
  }

  async hardReset(): Promise<void> {
    if (!this.hasModemLines) throw new Error(`${this.description} has no DTR/RTS lines: reset the board with machine.reset() instead`);
    for (const step of HARD_RESET_SEQUENCE) {
      await this.setLines(step.lines);
      if (step.holdMs > 0) await new Promise((resolve) => setTimeout(resolve, step.holdMs));
    }
  }

  /** Both lines in one call: on Linux and macOS one TIOCMSET, so the pair changes at once. */
  setLines(lines: ControlLines): Promise<void> {
    return callback((done) => this.port.set({ dtr: lines.dtr, rts: lines.rts }, done));
  }

  async close(): Promise<void> {
    if (this.closed || !this.port.isOpen) return;
    // Leave the board running: lines released before the port goes (as mpremote does).
    if (this.hasModemLines) await this.setLines(RUN_LINES).catch(() => undefined);
    await callback((done) => this.port.close(done));
  }
}

function callback(start: (done: (error: Error | null) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => start((error) => (error ? reject(error) : resolve())));
}
