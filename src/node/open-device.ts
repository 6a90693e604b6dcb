/**
 * Opens the board at a device address: USB serial, TCP, WebREPL, or a virtual
 * ESP32 started in this process from a flash file (created when missing,
 * saved when closed). Whatever it is, the caller gets a Transport and a way
 * to reset the board.
 */
import { existsSync } from 'node:fs';
import { openSerialTransport } from '../transport/serial.js';
import { openTcpTransport } from '../transport/tcp.js';
import { formatDeviceAddress, type DeviceAddress } from '../transport/device-address.js';
import type { Transport } from '../transport/transport.js';
import { connectWebRepl } from '../webrepl/node.js';
import type { VirtualEsp32 } from '../device/virtual-esp32.js';
import { saveFlashFile } from './flash-file.js';
import { freshFlash, loadFlash, virtualBoard } from './virtual-board.js';

export const WEBREPL_PASSWORD_VARIABLE = 'ESP32_OTA_WEBREPL_PASSWORD';

export interface OpenedDevice {
  readonly address: DeviceAddress;
  readonly transport: Transport;
  /** The in-process virtual board, for `sim:` addresses. */
  readonly board: VirtualEsp32 | undefined;
  /**
   * A hard reset from outside, when the link can do one (serial RTS, the
   * virtual board's EN pin); undefined otherwise (the caller resets from
   * Python with machine.reset()).
   */
  readonly hardReset: (() => Promise<void>) | undefined;
  /** Opens a new link after the old one dropped (WebREPL and TCP close on a board reset). */
  reconnect(): Promise<Transport>;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** WebREPL password; default from ESP32_OTA_WEBREPL_PASSWORD. Never printed. */
  readonly password?: string;
  readonly baudRate?: number;
}

export async function openDevice(address: DeviceAddress, options: OpenOptions = {}): Promise<OpenedDevice> {
  switch (address.kind) {
    case 'serial': {
      const transport = await openSerialTransport(address.path, options.baudRate ? { baudRate: options.baudRate } : {});
      return {
        address,
        transport,
        board: undefined,
        hardReset: () => transport.hardReset(),
        reconnect: async () => transport,
        close: () => transport.close(),
      };
    }
    case 'tcp':
      return reconnectingDevice(address, () => openTcpTransport(address.host, address.port));
    case 'webrepl': {
      const password = options.password ?? process.env[WEBREPL_PASSWORD_VARIABLE];
      if (!password) throw new Error(`${formatDeviceAddress(address)} needs the WebREPL password: --password or ${WEBREPL_PASSWORD_VARIABLE}`);
      return reconnectingDevice(address, () => connectWebRepl(address.url, { password }));
    }
    case 'sim':
      return openVirtualBoard(address);
  }
}

/** A network link: no reset from outside, and a fresh connection after the board dropped the old one. */
async function reconnectingDevice(address: DeviceAddress, connect: () => Promise<Transport>): Promise<OpenedDevice> {
  let transport = await connect();
  return {
    address,
    get transport() {
      return transport;
    },
    board: undefined,
    hardReset: undefined,
    reconnect: async () => (transport = await connect()),
    close: () => transport.close(),
  };
}

async function openVirtualBoard(address: DeviceAddress & { kind: 'sim' }): Promise<OpenedDevice> {
  const file = address.flashFile;
  const board = virtualBoard(existsSync(file) ? await loadFlash(file) : freshFlash());
  await board.powerOn();
  await board.idle();
  const transport = board.connect(`virtual ESP32 (${file})`);
  return {
    address,
    transport,
    board,
    hardReset: async () => {
      await board.reset('POWERON_RESET');
      await board.idle();
    },
    reconnect: async () => transport,
    close: async () => {
      await transport.close();
      await board.stop();
      await saveFlashFile(file, board.flash);
    },
  };
}
