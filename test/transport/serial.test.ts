/**
 * The serial transport through serialport's own stream layer on its mock
 * binding (no hardware here), with every modem-line change recorded as the
 * binding receives it; and the real binding for a port that does not exist.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { SerialPortStream } from '@serialport/stream';
import { SerialPortMock } from 'serialport';
import {
  HARD_RESET_SEQUENCE,
  RUN_LINES,
  autoResetPins,
  describeSerialOpenError,
  openSerialTransport,
  type SerialPortRequest,
} from '../../src/transport/serial.js';
import { TransportClosedError } from '../../src/transport/transport.js';

const PATH = '/dev/ttyUSB0';
const MockBinding = SerialPortMock.binding;
type MockBindingType = typeof MockBinding;
type MockPortBinding = Awaited<ReturnType<MockBindingType['open']>>;
type OpenOptions = Parameters<MockBindingType['open']>[0];
type SetOptions = Parameters<MockPortBinding['set']>[0];

/** MockBinding, recording the options of open() and of every set() as they reach the binding. */
class RecordingBinding {
  openOptions: OpenOptions | undefined;
  port: MockPortBinding | undefined;
  readonly lineChanges: Array<SetOptions & { at: number }> = [];

  list = () => MockBinding.list();

  async open(options: OpenOptions): Promise<MockPortBinding> {
    // Stands in for MockBinding, whose other members (createPort, reset) the stream never calls.
    this.openOptions = options;
    const port = await MockBinding.open(options);
    const set = port.set.bind(port);
    port.set = (lines: SetOptions) => {
      this.lineChanges.push({ ...lines, at: performance.now() });
      return set(lines);
    };
    this.port = port;
    return port;
  }

  openPort = (request: SerialPortRequest) => new SerialPortStream<RecordingBinding>({ ...request, binding: this as RecordingBinding });

  lines(): Array<{ dtr: boolean | undefined; rts: boolean | undefined }> {
    return this.lineChanges.map(({ dtr, rts }) => ({ dtr, rts }));
  }
}

async function until(condition: () => boolean): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > 2_000) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

beforeEach(() => {
  MockBinding.reset();
  MockBinding.createPort(PATH, { echo: true, record: true });
});

describe('serial transport', () => {
  it('opens without HUPCL and releases DTR and RTS together: the board keeps running', async () => {
    const binding = new RecordingBinding();
    const transport = await openSerialTransport(PATH, { openPort: binding.openPort });
    assert.equal(transport.description, '/dev/ttyUSB0 (115200 baud)');
    assert.equal(binding.openOptions?.hupcl, false);
    assert.equal(binding.openOptions?.baudRate, 115200);
    // Exactly one change, with both lines given: the stream's defaults would otherwise assert the missing one.
    assert.deepEqual(binding.lines(), [{ dtr: false, rts: false }]);
    for (const lines of binding.lineChanges) assert.equal(autoResetPins({ dtr: !!lines.dtr, rts: !!lines.rts }).en, 'high');
    await transport.close();
  });

  it('moves bytes both ways', async () => {
    const binding = new RecordingBinding();
    const transport = await openSerialTransport(PATH, { openPort: binding.openPort, baudRate: 460800 });
    assert.equal(transport.description, '/dev/ttyUSB0 (460800 baud)');
    const received: number[] = [];
    transport.onData((chunk) => received.push(...chunk));
    await transport.write(Uint8Array.of(0x0d, 0x03, 0x00, 0xff));
    await until(() => received.length === 4);
    binding.port!.emitData(Buffer.from('raw REPL; CTRL-B to exit\r\n>'));
    await until(() => received.length === 31);
    assert.deepEqual([...binding.port!.recording], [0x0d, 0x03, 0x00, 0xff]);
    // The mock port echoes what was written, then the emitted bytes follow.
    assert.equal(Buffer.from(received).toString('latin1'), '\r\x03\x00\xffraw REPL; CTRL-B to exit\r\n>');
    await transport.close();
  });

  it('hardReset() holds EN low for 100 ms with IO0 high, then releases it', async () => {
    const binding = new RecordingBinding();
    const transport = await openSerialTransport(PATH, { openPort: binding.openPort });
    await transport.hardReset();
    const changes = binding.lineChanges.slice(1);
    assert.deepEqual(
      changes.map(({ dtr, rts }) => autoResetPins({ dtr: !!dtr, rts: !!rts })),
      [
        { en: 'low', io0: 'high' },
        { en: 'high', io0: 'high' },
      ],
    );
    assert.ok(changes[1]!.at - changes[0]!.at >= 95, 'EN held low long enough for the chip to reset');
    await transport.close();
  });

  it('resets after opening when asked', async () => {
    const binding = new RecordingBinding();
    const transport = await openSerialTransport(PATH, { openPort: binding.openPort, resetOnOpen: true });
    assert.deepEqual(binding.lines(), [RUN_LINES, ...HARD_RESET_SEQUENCE.map((step) => step.lines)]);
    await transport.close();
  });

  it('closes with the lines released, and reports the close', async () => {
    const binding = new RecordingBinding();
    const transport = await openSerialTransport(PATH, { openPort: binding.openPort });
    const closed = new Promise<Error | undefined>((resolve) => transport.onClose(resolve));
    await transport.close();
    assert.equal(await closed, undefined);
    assert.equal(binding.port!.isOpen, false);
    assert.deepEqual(binding.lines().at(-1), { dtr: false, rts: false });
    await assert.rejects(transport.write(Uint8Array.of(1)), TransportClosedError);
  });

  it('says a port is in use when another program holds it', async () => {
    const first = await openSerialTransport(PATH, { openPort: new RecordingBinding().openPort });
    await assert.rejects(openSerialTransport(PATH, { openPort: new RecordingBinding().openPort }), {
      message: '/dev/ttyUSB0 is in use by another program (a serial monitor, mpremote or esptool?): close it and try again',
    });
    await first.close();
  });

  it('names a missing port and how to list the ports (real binding)', async () => {
    const path = '/dev/ttyUSB-esp32-ota-test-missing';
    await assert.rejects(openSerialTransport(path), {
      message: `no serial port ${path}: is the board plugged in? list the ports with: ls /dev/ttyUSB* /dev/ttyACM* (macOS: ls /dev/cu.*)`,
    });
  });
});

describe('describeSerialOpenError', () => {
  // Message formats of @serialport/bindings-cpp (serialport_unix.cpp, serialport_win.cpp).
  it('suggests the dialout group when permission is denied', () => {
    const error = describeSerialOpenError(PATH, new Error('Error: Permission denied, cannot open /dev/ttyUSB0'));
    assert.match(error.message, /^no permission to open \/dev\/ttyUSB0: add your user to the dialout group/);
  });

  it('points Windows users to Device Manager for a missing COM port', () => {
    const error = describeSerialOpenError('COM3', new Error('Opening COM3: File not found'));
    assert.match(error.message, /^no serial port COM3: is the board plugged in\? Windows lists the ports in Device Manager/);
  });

  it('reads "Access denied" on Windows and a failed lock on Unix as a port in use', () => {
    assert.match(describeSerialOpenError('COM3', new Error('Opening COM3: Access denied')).message, /^COM3 is in use/);
    assert.match(describeSerialOpenError(PATH, new Error('Error Resource temporarily unavailable Cannot lock port')).message, /is in use/);
  });

  it('keeps any other message, with the port', () => {
    const cause = new Error('Error: Input/output error, cannot open /dev/ttyUSB0');
    const error = describeSerialOpenError(PATH, cause);
    assert.equal(error.message, 'cannot open serial port /dev/ttyUSB0: Input/output error, cannot open /dev/ttyUSB0');
    assert.equal(error.cause, cause);
  });
});

describe('the auto-reset circuit and the line plans', () => {
  it('pulls EN low only with RTS asserted alone, IO0 only with DTR asserted alone', () => {
    assert.deepEqual(autoResetPins({ dtr: false, rts: false }), { en: 'high', io0: 'high' });
    assert.deepEqual(autoResetPins({ dtr: true, rts: true }), { en: 'high', io0: 'high' });
    assert.deepEqual(autoResetPins({ dtr: false, rts: true }), { en: 'low', io0: 'high' });
    assert.deepEqual(autoResetPins({ dtr: true, rts: false }), { en: 'high', io0: 'low' });
  });

  it('boots from flash after a hard reset: IO0 never low, EN low then high', () => {
    const pins = HARD_RESET_SEQUENCE.map((step) => autoResetPins(step.lines));
    assert.ok(pins.every((pin) => pin.io0 === 'high'));
    assert.equal(pins[0]!.en, 'low');
    assert.equal(pins.at(-1)!.en, 'high');
    assert.ok(HARD_RESET_SEQUENCE[0]!.holdMs >= 100);
  });
});
