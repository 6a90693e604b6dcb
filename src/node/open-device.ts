/**
 * Opens the board at a device address: USB serial, TCP, WebREPL, or a virtual
 * ESP32 started in this process from a flash file (created when missing,
 * locked while open, saved when the command wrote to it). Whatever it is, the caller gets a Transport and a way
 * to reset the board.
 */
import { openSerialTransport } from '../transport/serial.js';
import { openTcpTransport } from '../transport/tcp.js';
import { formatDeviceAddress, type DeviceAddress } from '../transport/device-address.js';
import type { Transport } from '../transport/transport.js';
import { connectWebRepl } from '../webrepl/node.js';
import type { VirtualEsp32 } from '../device/virtual-esp32.js';
import type { StrictBoardOptions } from '../device/board-console.js';
import { FlashFileError, checkFlashFilePath, commandLine, loadFlashFile, lockFlashFile, saveFlashFile } from './flash-file.js';
import { freshFlash, virtualBoard } from './virtual-board.js';

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
  /**
   * Closes the link. A `sim:` board is saved to its file only when the
   * command wrote to its flash, or made a new file and did not fail.
   */
  close(outcome?: { failed: boolean }): Promise<void>;
}

export interface OpenOptions {
  /** WebREPL password; default from ESP32_OTA_WEBREPL_PASSWORD. Never printed. */
  readonly password?: string;
  readonly baudRate?: number;
  /** Told about what the link cannot do (e.g. a serial port without modem lines). */
  readonly onNote?: (message: string) => void;
  /** A `sim:` board in board-faithful mode (the demo measures a real board's case). */
  readonly strict?: StrictBoardOptions;
}

export async function openDevice(address: DeviceAddress, options: OpenOptions = {}): Promise<OpenedDevice> {
  switch (address.kind) {
    case 'serial': {
      const transport = await openSerialTransport(address.path, {
        ...(options.baudRate ? { baudRate: options.baudRate } : {}),
        ...(options.onNote ? { onNote: options.onNote } : {}),
      });
      return {
        address,
        transport,
        board: undefined,
        hardReset: transport.hasModemLines ? () => transport.hardReset() : undefined,
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
      return openVirtualBoard(address, options.strict);
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

/**
 * A `sim:` board is off between commands: opening it powers it on (its
 * bootloader runs, as when a board is plugged in) and closing it powers it off.
 * The file is locked meanwhile, and saved only when the command itself wrote
 * to the flash (a command that refuses or only reads leaves it as it was).
 */
async function openVirtualBoard(address: DeviceAddress & { kind: 'sim' }, strict: StrictBoardOptions | undefined): Promise<OpenedDevice> {
  const file = address.flashFile;
  const exists = checkFlashFilePath(file);
  const lock = lockFlashFile(file, commandLine());
  let board: VirtualEsp32 | undefined;
  try {
    board = virtualBoard(exists ? await loadFlashFile(file) : freshFlash(), strict ? { strict } : {});
    await board.powerOn();
    await board.idle();
    if (board.state !== 'running') {
      throw new FlashFileError(`the virtual board in ${file} does not boot: no app partition holds a valid app image (esp32-ota sim --flash ${file} shows its boot log)`);
    }
  } catch (error) {
    await board?.stop();
    lock.release();
    throw error;
  }
  const running = board;
  const writesAtOpen = running.flash.stats().operations;
  const transport = running.connect(`virtual ESP32 (${file})`);
  return {
    address,
    transport,
    board: running,
    hardReset: async () => {
      await running.reset('POWERON_RESET');
      await running.idle();
    },
    reconnect: async () => transport,
    close: async (outcome = { failed: false }) => {
      try {
        await transport.close();
        await running.stop();
        const wrote = running.flash.stats().operations !== writesAtOpen;
        if (wrote || (!exists && !outcome.failed)) await saveFlashFile(file, running.flash);
      } finally {
        lock.release();
      }
    },
  };
}
