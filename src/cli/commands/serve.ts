import { readdir, readFile, stat } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { startOtaServer, type ServerAuth } from '../../node/ota-server.js';
import { UserError } from '../errors.js';
import { printText } from '../output.js';

interface ServeOptions {
  port: string;
  host: string;
  auth?: string;
  token?: string;
  tlsCert?: string;
  tlsKey?: string;
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('serve firmware and manifests to boards over HTTP(S): Range/resume, ETag, HEAD, conditional requests, one log line per request')
    .argument('<dir>', 'the folder to serve (nothing outside it, no dotfiles)')
    .option('--port <n>', 'TCP port (0: any free port)', '8080')
    .option('--host <address>', 'address to listen on (0.0.0.0: every interface)', '0.0.0.0')
    .option('--auth <user:pass>', 'require HTTP basic auth')
    .option('--token <token>', 'require "Authorization: Bearer TOKEN"')
    .option('--tls-cert <file>', 'serve HTTPS with this certificate (PEM)')
    .option('--tls-key <file>', 'the private key of --tls-cert (PEM)')
    .action(async (dir: string, options: ServeOptions) => {
      const port = Number(options.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UserError(`--port must be 0 to 65535, got '${options.port}'`);
      if (options.auth && options.token) throw new UserError('give --auth or --token, not both');
      let auth: ServerAuth | undefined;
      if (options.auth) {
        const colon = options.auth.indexOf(':');
        if (colon <= 0) throw new UserError('--auth must be USER:PASSWORD');
        auth = { kind: 'basic', user: options.auth.slice(0, colon), password: options.auth.slice(colon + 1) };
      } else if (options.token) auth = { kind: 'bearer', token: options.token };
      if (Boolean(options.tlsCert) !== Boolean(options.tlsKey)) throw new UserError('HTTPS needs both --tls-cert and --tls-key');
      const info = await stat(dir).catch(() => undefined);
      if (!info?.isDirectory()) throw new UserError(`${dir}: no such folder`);
      const tls = options.tlsCert && options.tlsKey ? { cert: await readPem(options.tlsCert), key: await readPem(options.tlsKey) } : undefined;
      const server = await startOtaServer({ root: dir, host: options.host, port, ...(auth ? { auth } : {}), ...(tls ? { tls } : {}), log: (line) => printText(line) }).catch(
        (error: NodeJS.ErrnoException) => {
          if (error.code === 'EADDRINUSE') throw new UserError(`port ${port} is in use on ${options.host}: choose another --port`);
          if (error.code === 'EACCES') throw new UserError(`no permission to listen on port ${port} (ports below 1024 need privileges)`);
          if (error.code === 'EADDRNOTAVAIL') throw new UserError(`${options.host} is not an address of this machine`);
          throw error;
        },
      );
      const manifests = (await readdir(dir)).filter((name) => name.endsWith('.json') && !name.startsWith('.'));
      // Listening on every interface: name the addresses a board on the network can use.
      const reachable = /\/\/(0\.0\.0\.0|\[::\]):/.test(server.url)
        ? Object.values(networkInterfaces())
            .flat()
            .filter((address) => address && address.family === 'IPv4' && !address.internal)
            .map((address) => server.url.replace(/\/\/[^/]+:/, `//${address!.address}:`))
        : [server.url];
      const base = reachable[0] ?? server.url;
      printText(
        [
          `Serving ${dir} on ${server.url}${auth ? ` (${auth.kind} auth required)` : ''} — Ctrl-C stops`,
          ...(reachable[0] !== server.url ? reachable.map((url) => `  reachable as ${url}`) : []),
          ...manifests.map((name) => `  manifest: ${base}${encodeURIComponent(name)}`),
          manifests.length ? '' : `  (no .json manifest in ${dir} yet: esp32-ota manifest ${join(dir, 'micropython.bin')})`,
        ]
          .filter((line) => line !== '')
          .join('\n'),
      );
      await new Promise<void>((resolve) => process.once('SIGINT', resolve).once('SIGTERM', resolve));
      await server.close();
    });
}

async function readPem(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch {
    throw new UserError(`${path}: cannot read it (a PEM file is needed)`);
  }
}
