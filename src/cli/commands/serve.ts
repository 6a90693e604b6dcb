import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { startOtaServer, type ServerAuth } from '../../node/ota-server.js';
import { UserError } from '../errors.js';
import { readPemFile } from '../files.js';
import { listening, reachableUrls } from '../listening.js';
import { integerOption, parseCredentials } from '../option-values.js';
import { printText } from '../output.js';

interface ServeOptions {
  port: number;
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
    .option('--port <n>', 'TCP port (0: any free port)', integerOption('--port', { max: 65535 }), 8080)
    .option('--host <address>', 'address to listen on (0.0.0.0: every interface)', '0.0.0.0')
    .option('--auth <user:pass>', 'require HTTP basic auth')
    .option('--token <token>', 'require "Authorization: Bearer TOKEN"')
    .option('--tls-cert <file>', 'serve HTTPS with this certificate (PEM)')
    .option('--tls-key <file>', 'the private key of --tls-cert (PEM)')
    .action(async (dir: string, options: ServeOptions) => {
      const port = options.port;
      if (options.auth && options.token) throw new UserError('give --auth or --token, not both');
      let auth: ServerAuth | undefined;
      if (options.auth) auth = { kind: 'basic', ...parseCredentials('--auth', options.auth) };
      else if (options.token) auth = { kind: 'bearer', token: options.token };
      if (Boolean(options.tlsCert) !== Boolean(options.tlsKey)) throw new UserError('HTTPS needs both --tls-cert and --tls-key');
      const info = await stat(dir).catch(() => undefined);
      if (!info?.isDirectory()) throw new UserError(`${dir}: no such folder`);
      const tls = options.tlsCert && options.tlsKey ? { cert: await readPemFile(options.tlsCert), key: await readPemFile(options.tlsKey) } : undefined;
      const server = await listening(
        () => startOtaServer({ root: dir, host: options.host, port, ...(auth ? { auth } : {}), ...(tls ? { tls } : {}), log: (line) => printText(line) }),
        options.host,
        port,
      );
      const manifests = (await readdir(dir)).filter((name) => name.endsWith('.json') && !name.startsWith('.'));
      const reachable = reachableUrls(server.url);
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
