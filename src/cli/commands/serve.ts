import cluster, { type Worker } from 'node:cluster';
import type { Address } from 'node:cluster';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { batchedLines } from '../../node/batched-lines.js';
import { startOtaServer, type ServerAuth } from '../../node/ota-server.js';
import { UserError } from '../errors.js';
import { readPemFile } from '../files.js';
import { listening, reachableUrls } from '../listening.js';
import { integerOption, parseCredentials } from '../option-values.js';
import { printNote, printText, stdout } from '../output.js';

interface ServeOptions {
  port: number;
  host: string;
  auth?: string;
  token?: string;
  tlsCert?: string;
  tlsKey?: string;
  workers: number;
}

const stopSignal = () => new Promise<void>((resolve) => process.once('SIGINT', resolve).once('SIGTERM', resolve));

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
    .option('--workers <n>', 'processes that serve (node:cluster), for more than one core', integerOption('--workers', { min: 1, max: 64 }), 1)
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
      const scheme = tls ? 'https' : 'http';

      if (options.workers > 1 && cluster.isPrimary) {
        // The workers run this same command line; the primary only starts them, names the address and stops them.
        const url = await startWorkers(options.workers, scheme);
        await printBanner(dir, url, auth, `${options.workers} worker processes`);
        await stopSignal();
        await stopWorkers();
        return;
      }
      const worker = cluster.worker;
      const log = batchedLines((text) => stdout().write(text));
      const server = await listening(
        () =>
          startOtaServer({
            root: dir,
            host: options.host,
            port,
            ...(auth ? { auth } : {}),
            ...(tls ? { tls } : {}),
            log: worker ? (line) => log.line(`${line} (worker ${worker.id})`) : (line) => log.line(line),
          }),
        options.host,
        port,
      );
      if (!worker) await printBanner(dir, server.url, auth);
      await (worker ? new Promise<void>((resolve) => (worker.once('disconnect', resolve), void stopSignal().then(resolve))) : stopSignal());
      await server.close();
      log.flush();
      if (worker) process.exit(0);
    });
}

/** Forks the workers and waits until each listens; the URL they share. */
async function startWorkers(count: number, scheme: string): Promise<string> {
  const addresses = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Address>((resolve, reject) => {
          const worker = cluster.fork();
          const early = (code: number) => reject(new UserError(`a serve worker exited (code ${code}) before it listened: see its message above`));
          worker.once('exit', early);
          worker.once('listening', (address) => (worker.off('exit', early), resolve(address)));
        }),
    ),
  ).catch(async (error: unknown) => {
    await stopWorkers();
    throw error;
  });
  // A worker that dies while serving is replaced; one stopped by the primary, or by Ctrl-C reaching it directly (exit 0), is not.
  cluster.on('exit', (worker: Worker, code) => {
    if (worker.exitedAfterDisconnect || code === 0) return;
    printNote(`serve: worker ${worker.id} exited (code ${code}); starting another`);
    cluster.fork();
  });
  const address = addresses[0]!;
  const host = address.addressType === 6 ? `[${address.address}]` : address.address;
  return `${scheme}://${host}:${address.port}/`;
}

async function stopWorkers(): Promise<void> {
  const workers = Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => Boolean(worker));
  await Promise.all(workers.map((worker) => new Promise<void>((resolve) => (worker.isDead() ? resolve() : (worker.once('exit', () => resolve()), worker.disconnect())))));
}

async function printBanner(dir: string, url: string, auth: ServerAuth | undefined, how?: string): Promise<void> {
  const manifests = (await readdir(dir)).filter((name) => name.endsWith('.json') && !name.startsWith('.'));
  const reachable = reachableUrls(url);
  const base = reachable[0] ?? url;
  printText(
    [
      `Serving ${dir} on ${url}${auth ? ` (${auth.kind} auth required)` : ''}${how ? ` with ${how}` : ''} — Ctrl-C stops`,
      ...(reachable[0] !== url ? reachable.map((address) => `  reachable as ${address}`) : []),
      ...manifests.map((name) => `  manifest: ${base}${encodeURIComponent(name)}`),
      manifests.length ? '' : `  (no .json manifest in ${dir} yet: esp32-ota manifest ${join(dir, 'micropython.bin')})`,
    ]
      .filter((line) => line !== '')
      .join('\n'),
  );
}
