import { UserError } from './errors.js';

/** A --port value: 0..65535 (0: the system picks a free port). */
export function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UserError(`not a port number: '${text}'`);
  return port;
}
