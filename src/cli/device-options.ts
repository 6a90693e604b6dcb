/** The options every command that talks to a board shares, and opening the board they name. */
import type { Command } from 'commander';
import { defaultDeviceAddress, parseDeviceAddress, DeviceAddressError, DEVICE_ENV_VARIABLE, type DeviceAddress } from '../transport/device-address.js';
import { openDevice, WEBREPL_PASSWORD_VARIABLE, type OpenedDevice } from '../node/open-device.js';
import { ReplClient } from '../repl/index.js';
import { UserError, isExpectedError } from './errors.js';
import { integerOption } from './option-values.js';
import { printNote } from './output.js';

export interface DeviceOptions {
  device?: string;
  password?: string;
  baud?: number;
  verbose?: boolean;
}

export function addDeviceOptions(command: Command): Command {
  return command
    .option('-d, --device <address>', `the board: /dev/ttyUSB0, COM3, tcp:HOST:PORT, ws://HOST:8266 or sim:FLASHFILE (default $${DEVICE_ENV_VARIABLE})`)
    .option('--password <pw>', `WebREPL password (default $${WEBREPL_PASSWORD_VARIABLE}); never printed`)
    .option('--baud <rate>', 'serial baud rate (default 115200)', integerOption('--baud', { min: 300, max: 5_000_000 }))
    .option('--verbose', 'say more about the link (e.g. a serial port without DTR/RTS lines)');
}

/** The board the options name (-d, else $ESP32_OTA_DEVICE). */
export function deviceAddressOf(options: DeviceOptions): DeviceAddress {
  let address;
  try {
    address = options.device ? parseDeviceAddress(options.device) : defaultDeviceAddress(process.env);
  } catch (error) {
    if (error instanceof DeviceAddressError) throw new UserError(error.message);
    throw error;
  }
  if (!address) {
    throw new UserError(`no board given: use -d /dev/ttyUSB0 (or another address) or set ${DEVICE_ENV_VARIABLE}; to try it without a board: -d sim:board.bin`);
  }
  return address;
}

/**
 * Opens the board, enters its raw REPL, runs `work`, and always closes the
 * board again. A `sim:` board keeps what a failed `work` wrote (as a board's
 * flash does, e.g. for update --resume) unless `dropFailedWrites` is set.
 */
export async function withBoard<T>(
  options: DeviceOptions,
  work: (device: OpenedDevice, client: ReplClient) => Promise<T>,
  { dropFailedWrites = false } = {},
): Promise<T> {
  const address = deviceAddressOf(options);
  const device = await openDevice(address, {
    ...(options.password ? { password: options.password } : {}),
    ...(options.baud ? { baudRate: options.baud } : {}),
    ...(options.verbose ? { onNote: (message: string) => printNote(`esp32-ota: ${message}`) } : {}),
  }).catch((error: unknown) => {
    throw isExpectedError(error) ? error : new UserError(error instanceof Error ? error.message : String(error));
  });
  let failed = true;
  try {
    const client = new ReplClient(device.transport);
    await client.enterRawRepl();
    const result = await work(device, client);
    failed = false;
    return result;
  } finally {
    await device.close({ failed, dropFailedWrites });
  }
}
