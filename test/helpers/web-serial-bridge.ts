/**
 * The far end of the page's fake `navigator.serial` (fake-web-serial.ts): a
 * USB-UART bridge on a virtual ESP32 dev board. Bytes go through the board's
 * console link (board-faithful when the board is `strict`: the UART's rate,
 * the host side at the rate the page opened the port with, garbage when the
 * two differ). DTR and RTS drive EN and IO0 through the dev board's
 * auto-reset circuit (autoResetPins): EN going high again reboots the board,
 * into the ROM downloader when IO0 is low then. A USB serial port driver
 * raises both lines when a port is opened and drops both when it is closed
 * (Linux: tty_port_raise_dtr_rts / HUPCL), which pulls neither pin.
 */
import { WebSocketServer, type WebSocket } from 'ws';
import type { AddressInfo } from 'node:net';
import type { VirtualEsp32 } from '../../src/device/virtual-esp32.js';
import { autoResetPins, type ControlLines } from '../../src/transport/reset-lines.js';
import type { Transport } from '../../src/transport/transport.js';
import { DEVICE_LOST_CODE } from './fake-web-serial.js';

export interface LineChange extends ControlLines {
  /** What changed them: the port's open or close (the driver), or the page's setSignals. */
  readonly by: 'open' | 'close' | 'setSignals';
}

export interface SerialBridge {
  /** For installFakeWebSerial. */
  readonly url: string;
  /** Every DTR/RTS state the board saw, in order. */
  readonly lineChanges: LineChange[];
  /** The rates the page opened the port at, in order. */
  readonly openedAt: number[];
  /** Reboots through EN into MicroPython / into the ROM downloader (IO0 low). */
  readonly resets: { run: number; download: number };
  /** Pulls the USB cable: the page's port is lost and the board loses power. */
  unplug(): Promise<void>;
  /** Plugs it in again: the board powers on (the page must choose the port again). */
  plugIn(): Promise<void>;
  close(): Promise<void>;
}

export async function serveSerialBridge(board: VirtualEsp32): Promise<SerialBridge> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const uart: Transport & { setBaudRate?(baud: number): Promise<void> } = board.connect('USB-UART bridge');
  let lines: ControlLines = { dtr: false, rts: false };
  let current: WebSocket | undefined;
  const bridge: SerialBridge = {
    url,
    lineChanges: [],
    openedAt: [],
    resets: { run: 0, download: 0 },
    async unplug() {
      current?.close(DEVICE_LOST_CODE, 'device lost');
      current = undefined;
      lines = { dtr: false, rts: false };
      await board.stop();
    },
    async plugIn() {
      await board.powerOn();
    },
    async close() {
      for (const client of server.clients) client.terminate();
      await new Promise((resolve) => server.close(resolve));
      await uart.close();
    },
  };

  const setLines = (next: ControlLines, by: LineChange['by']): void => {
    const before = autoResetPins(lines);
    lines = next;
    bridge.lineChanges.push({ ...next, by });
    const after = autoResetPins(next);
    if (before.en === 'low' && after.en === 'high') {
      if (after.io0 === 'low') bridge.resets.download++;
      else {
        bridge.resets.run++;
        void board.reset();
      }
    }
  };

  uart.onData((bytes) => {
    // A port nobody has open drops what the board sends, as a UART bridge does.
    if (current && current.readyState === current.OPEN) current.send(bytes);
  });

  server.on('connection', (socket) => {
    socket.on('message', (data, isBinary) => {
      const bytes = data as Buffer;
      if (isBinary) {
        if (socket === current) void uart.write(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length)).catch(() => undefined);
        return;
      }
      const message = JSON.parse(bytes.toString('utf8')) as { kind: 'open'; baudRate: number } | { kind: 'signals'; dtr?: boolean; rts?: boolean };
      if (message.kind === 'open') {
        current = socket;
        bridge.openedAt.push(message.baudRate);
        void uart.setBaudRate?.(message.baudRate);
        setLines({ dtr: true, rts: true }, 'open');
      } else if (socket === current) {
        setLines({ dtr: message.dtr ?? lines.dtr, rts: message.rts ?? lines.rts }, 'setSignals');
      }
    });
    socket.on('close', () => {
      if (socket !== current) return;
      current = undefined;
      setLines({ dtr: false, rts: false }, 'close');
    });
  });
  return bridge;
}
