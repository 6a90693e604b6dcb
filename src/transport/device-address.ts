/**
 * Where the board is, as the user writes it on the command line or in
 * ESP32_OTA_DEVICE. Pure: no I/O, so the CLI, tests and a browser share it.
 */
export type DeviceAddress =
  | { kind: 'serial'; path: string }
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'webrepl'; url: string }
  | { kind: 'sim'; flashFile: string };

export const DEVICE_ENV_VARIABLE = 'ESP32_OTA_DEVICE';
export const WEBREPL_DEFAULT_PORT = 8266;

export const ACCEPTED_FORMS = [
  '/dev/ttyUSB0, /dev/ttyACM0, COM3 (USB serial)',
  'serial:PATH (any other serial device)',
  'tcp:HOST:PORT (raw TCP, e.g. tcp:localhost:2323)',
  `ws://HOST[:PORT] (WebREPL, port ${WEBREPL_DEFAULT_PORT} by default)`,
  'sim:FLASHFILE (the virtual ESP32 on a flash image)',
];

export class DeviceAddressError extends Error {
  constructor(readonly reason: string) {
    super(`${reason}; accepted forms: ${ACCEPTED_FORMS.join('; ')}`);
    this.name = 'DeviceAddressError';
  }
}

export function parseDeviceAddress(text: string): DeviceAddress {
  const address = text.trim();
  if (address.length === 0) throw new DeviceAddressError('no device address given');
  if (address.startsWith('/dev/') && address.length > '/dev/'.length) return { kind: 'serial', path: address };
  if (/^com[1-9]\d*$/i.test(address)) return { kind: 'serial', path: address.toUpperCase() };
  const scheme = /^([a-z]+):/i.exec(address)?.[1]?.toLowerCase();
  const rest = address.slice((scheme?.length ?? 0) + 1);
  switch (scheme) {
    case 'serial':
      if (rest.length === 0) throw new DeviceAddressError(`"${address}" names no serial device`);
      return { kind: 'serial', path: rest };
    case 'tcp':
      return parseTcp(address, rest);
    case 'ws':
      return parseWebRepl(address);
    case 'sim':
      if (rest.length === 0) throw new DeviceAddressError(`"${address}" names no flash file`);
      return { kind: 'sim', flashFile: rest };
  }
  throw new DeviceAddressError(`"${address}" is not a device address`);
}

/** The address in ESP32_OTA_DEVICE, or undefined when it is not set. */
export function defaultDeviceAddress(env: Record<string, string | undefined>): DeviceAddress | undefined {
  const value = env[DEVICE_ENV_VARIABLE];
  if (value === undefined || value.trim() === '') return undefined;
  try {
    return parseDeviceAddress(value);
  } catch (error) {
    if (error instanceof DeviceAddressError) throw new DeviceAddressError(`${DEVICE_ENV_VARIABLE}: ${error.reason}`);
    throw error;
  }
}

/** The text form parseDeviceAddress reads back to the same address. */
export function formatDeviceAddress(address: DeviceAddress): string {
  switch (address.kind) {
    case 'serial':
      return address.path.startsWith('/dev/') || /^COM[1-9]\d*$/.test(address.path) ? address.path : `serial:${address.path}`;
    case 'tcp':
      return `tcp:${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
    case 'webrepl':
      return address.url;
    case 'sim':
      return `sim:${address.flashFile}`;
  }
}

function parseTcp(address: string, rest: string): DeviceAddress {
  // An IPv6 host goes in brackets: tcp:[::1]:2323.
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/.exec(rest);
  if (!match) throw new DeviceAddressError(`"${address}" is not tcp:HOST:PORT`);
  return { kind: 'tcp', host: (match[1] ?? match[2])!, port: parsePort(address, match[3]!) };
}

/** ws://HOST[:PORT][/PATH]; parsed by hand because URL drops port 80 as the ws default. */
function parseWebRepl(address: string): DeviceAddress {
  const match = /^ws:\/\/(\[[0-9a-f:.]+\]|[^/:?#@[\]]+)(?::(\d+))?(\/[^\s]*)?$/i.exec(address);
  if (!match) {
    const reason = address.includes('@') ? 'holds credentials; give the WebREPL password separately' : 'is not ws://HOST[:PORT]';
    throw new DeviceAddressError(`"${address}" ${reason}`);
  }
  const port = match[2] === undefined ? WEBREPL_DEFAULT_PORT : parsePort(address, match[2]);
  return { kind: 'webrepl', url: `ws://${match[1]!.toLowerCase()}:${port}${match[3] ?? '/'}` };
}

function parsePort(address: string, digits: string): number {
  const port = Number(digits);
  if (!/^\d+$/.test(digits) || port < 1 || port > 65535) {
    throw new DeviceAddressError(`"${address}" has port ${digits}, not a number from 1 to 65535`);
  }
  return port;
}
