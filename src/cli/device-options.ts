/** The options every command that talks to a board shares, and opening the board they name. */
import type { Command } from 'commander';
import { defaultDeviceAddress, parseDeviceAddress, DeviceAddressError, DEVICE_ENV_VARIABLE } from '../transport/device-address.js';
import { openDevice, WEBREPL_PASSWORD_VARIABLE, type OpenedDevice } from '../node/open-device.js';
import { ReplClient } from '../repl/index.js';
import { UserError } from './errors.js';

export interface DeviceOptions {
  device?: string;
  password?: string;
  baud?: string;
}

export function addDeviceOptions(command: Command): Command {
  return command
    .option('-d, --device <address>', `the board: /dev/ttyUSB0, COM3, tcp:HOST:PORT, ws://HOST:8266 or sim:FLASHFILE (default $${DEVICE_ENV_VARIABLE})`)
    .option('--password <pw>', `WebREPL password (default $${WEBREPL_PASSWORD_VARIABLE}); never printed`)
    .option('--baud <rate>', 'serial baud rate (default 115200)');
}

/** Opens the board, enters its raw REPL, runs `work`, and always closes the board again. */
export async function withBoard<T>(options: DeviceOptions, work: (device: OpenedDevice, client: ReplClient) => Promise<T>): Promise<T> {
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
  const device = await openDevice(address, {
    ...(options.password ? { password: options.password } : {}),
    ...(options.baud ? { baudRate: Number(options.baud) } : {}),
  }).catch((error: unknown) => {
    throw new UserError(error instanceof Error ? error.message : String(error));
  });
  try {
    const client = new ReplClient(device.transport);
    await client.enterRawRepl();
    return await work(device, client);
  } finally {
    await device.close();
  }
}
