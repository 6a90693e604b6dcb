import { networkInterfaces } from 'node:os';
import { UserError } from './errors.js';

/** Starts a server, turning what the system says about the address into advice. */
export async function listening<T>(start: () => Promise<T>, host: string, port: number): Promise<T> {
  try {
    return await start();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const where = `${host}:${port}`;
    if (code === 'EADDRINUSE') throw new UserError(`port ${port} on ${host} is in use (another esp32-ota sim?): choose another port, or 0 for any free one`);
    if (code === 'EACCES') throw new UserError(`no permission to listen on ${where}: ports below 1024 need privileges; choose a port above 1023`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EINVAL') {
      throw new UserError(`cannot listen on ${where}: --host ${host} is not an address of this computer (use 127.0.0.1, or 0.0.0.0 for every network)`);
    }
    throw error;
  }
}

/** A server's URL as a board on the network can use it: one per IPv4 address of this computer when it listens on every interface. */
export function reachableUrls(url: string): string[] {
  if (!/\/\/(0\.0\.0\.0|\[::\]):/.test(url)) return [url];
  return Object.values(networkInterfaces())
    .flat()
    .filter((address) => address && address.family === 'IPv4' && !address.internal)
    .map((address) => url.replace(/\/\/[^/]+:/, `//${address!.address}:`));
}
