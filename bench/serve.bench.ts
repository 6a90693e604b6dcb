/**
 * esp32-ota serve against Debian's nginx serving the same files on loopback,
 * in the same run, under the same load generator (wrk): requests/s and
 * bytes/s for the real 1.6 MB app image and for its small manifest (goal:
 * ≥ 0.8x nginx); 200 concurrent downloads of the image checked byte for byte
 * (goal: no failure); and the block-deflate file's size against the image.
 * nginx runs from a config of its own in a temporary folder (never the
 * system's), on an ephemeral port; both write an access log line per request.
 * serve runs as the CLI in a process of its own, as users run it (not in the
 * bench's event loop). Two rounds: one process each (nginx with one worker,
 * serve as one Node process), then two each (worker_processes 2 against
 * serve --workers 2). A bare node:http server writing the same bytes from
 * memory gives Node's own ceiling on this machine. When nginx or wrk is
 * missing, the bench installs them with apt-get (Debian) or says it cannot.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent, get } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { extractApp } from '../src/format/firmware-file.js';
import { nativeSha256 } from '../src/node/native-hash.js';
import { blockDeflateFile, describeImage } from '../src/ota/manifest.js';
import { prepareImage } from '../src/ota/preflight.js';
import { FIRMWARE } from './formats.bench.js';

const WRK_SECONDS = 5;
const WRK_CONNECTIONS = 32;
const CONCURRENT_DOWNLOADS = 200;

function have(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`]).status === 0 || existsSync(`/usr/sbin/${command}`);
}

function ensureTools(): string | undefined {
  if (have('nginx') && have('wrk')) return undefined;
  if (process.getuid?.() === 0 && have('apt-get')) {
    spawnSync('apt-get', ['install', '-y', 'nginx-light', 'wrk'], { stdio: 'ignore' });
    if (!(have('nginx') && have('wrk'))) spawnSync('apt-get', ['install', '-y', 'nginx', 'wrk'], { stdio: 'ignore' });
  }
  return have('nginx') && have('wrk') ? undefined : 'nginx and wrk are not installed and apt-get could not install them (needs root on Debian): serve vs nginx skipped';
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function startNginx(root: string, work: string, workers: number): Promise<{ url: string; process: ChildProcess }> {
  const port = await freePort();
  const conf = join(work, 'nginx.conf');
  const temp = (name: string) => `${name}_temp_path ${join(work, name)};`;
  await writeFile(
    conf,
    `worker_processes ${workers};
daemon off;
pid ${join(work, `nginx${workers}.pid`)};
error_log ${join(work, 'error.log')};
events { worker_connections 4096; }
http {
  types { application/octet-stream bin deflate; application/json json; }
  default_type application/octet-stream;
  access_log ${join(work, 'nginx-access.log')};
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 30;
  ${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(temp).join('\n  ')}
  server { listen 127.0.0.1:${port}; root ${root}; }
}
`,
  );
  const nginx = spawn(have('nginx') && spawnSync('sh', ['-c', 'command -v nginx']).status === 0 ? 'nginx' : '/usr/sbin/nginx', ['-c', conf, '-p', work], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}/`;
  for (let i = 0; i < 100; i++) {
    if (await fetch(`${url}micropython.json`).then((r) => r.ok).catch(() => false)) return { url, process: nginx };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  nginx.kill();
  throw new Error(`nginx did not start (see ${join(work, 'error.log')})`);
}

/** esp32-ota serve as users run it: the CLI in a process of its own, its log lines straight into a file (as nginx's). */
async function startServe(root: string, logFile: string, workers: number): Promise<{ url: string; process: ChildProcess }> {
  const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
  return startNode(logFile, [cli, 'serve', root, '--port', '0', '--host', '127.0.0.1', '--workers', String(workers)]);
}

/** A Node server in a process of its own that prints "on URL" (or "listening on URL") into logFile when it listens. */
async function startNode(logFile: string, args: string[]): Promise<{ url: string; process: ChildProcess }> {
  const log = openSync(logFile, 'w');
  const child = spawn(process.execPath, args, { stdio: ['ignore', log, 'inherit'] });
  closeSync(log);
  for (let i = 0; i < 200 && child.exitCode === null; i++) {
    const match = /on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(await readFile(logFile, 'utf8'));
    if (match) return { url: match[1]!, process: child };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill();
  throw new Error(`${args.join(' ')} did not start: ${await readFile(logFile, 'utf8')}`);
}

interface WrkResult {
  requestsPerSecond: number;
  bytesPerSecond: number;
  errors: number;
  /** CPU time (user + system) the server's processes spent per request, in microseconds. */
  cpuMicrosPerRequest: number;
}

/** /proc/PID/stat's utime + stime of a process and all its descendants, in ms (Linux; clock ticks of 10 ms). */
function processTreeCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const own = (Number(fields[11]) + Number(fields[12])) * 10;
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    return own + children.reduce((sum, child) => sum + processTreeCpuMs(child), 0);
  } catch {
    return 0;
  }
}

/**
 * wrk against url. The server's CPU time per request is the figure a shared
 * machine disturbs least: requests/s falls when other work takes the cores,
 * the work done per request does not.
 */
async function wrk(url: string, server: ChildProcess): Promise<WrkResult> {
  const cpuBefore = processTreeCpuMs(server.pid!);
  const child = spawn('wrk', ['-t2', `-c${WRK_CONNECTIONS}`, `-d${WRK_SECONDS}s`, url]);
  const run = { stdout: '', stderr: '' };
  child.stdout.on('data', (chunk) => (run.stdout += chunk));
  child.stderr.on('data', (chunk) => (run.stderr += chunk));
  await new Promise((resolve) => child.on('close', resolve));
  const cpuMs = processTreeCpuMs(server.pid!) - cpuBefore;
  const total = /(\d+) requests in/.exec(run.stdout);
  const requests = /Requests\/sec:\s+([\d.]+)/.exec(run.stdout);
  const transfer = /Transfer\/sec:\s+([\d.]+)(B|KB|MB|GB)/.exec(run.stdout);
  if (!requests || !transfer || !total) throw new Error(`wrk gave no figures for ${url}:\n${run.stdout}${run.stderr}`);
  const unit = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[transfer[2] as 'B'];
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(run.stdout);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(run.stdout);
  return {
    requestsPerSecond: Number(requests[1]),
    bytesPerSecond: Number(transfer[1]) * unit,
    errors: Number(errors?.[1] ?? 0) + (socketErrors ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0),
    cpuMicrosPerRequest: (cpuMs * 1000) / Math.max(1, Number(total[1])),
  };
}

/** CONCURRENT_DOWNLOADS parallel GETs of the image, each checked for length and SHA-256. */
async function concurrentDownloads(url: string, expectedSha: string, length: number): Promise<{ failures: number; ms: number }> {
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
  const started = performance.now();
  const one = () =>
    new Promise<boolean>((resolve) => {
      get(url, { agent }, (response) => {
        const hash = createHash('sha256');
        let bytes = 0;
        response.on('data', (chunk: Buffer) => {
          hash.update(chunk);
          bytes += chunk.length;
        });
        response.on('end', () => resolve(response.statusCode === 200 && bytes === length && hash.digest('hex') === expectedSha));
        response.on('error', () => resolve(false));
      }).on('error', () => resolve(false));
    });
  const results = await Promise.all(Array.from({ length: CONCURRENT_DOWNLOADS }, one));
  agent.destroy();
  return { failures: results.filter((ok) => !ok).length, ms: performance.now() - started };
}

const mb = (bytesPerSecond: number) => `${(bytesPerSecond / 1024 ** 2).toFixed(0)} MiB/s`;

export async function benchServe(): Promise<string[]> {
  const app = extractApp(new Uint8Array(await readFile(FIRMWARE))).bytes;
  const manifest = describeImage(prepareImage(app, { sha256: nativeSha256 }), 'micropython.bin', nativeSha256);
  const compressed = blockDeflateFile(app);
  const lines = [
    `serve: the real app image (${app.length.toLocaleString('en')} bytes) and its manifest on loopback`,
    `  compressed download (block-deflate, window 2^15): ${compressed.length.toLocaleString('en')} bytes = ${(compressed.length / app.length).toFixed(3)} of the plain ${app.length.toLocaleString('en')}`,
  ];
  const missing = ensureTools();
  if (missing) return [...lines, `  ${missing}`];
  const work = await mkdtemp(join(tmpdir(), 'esp32-ota-bench-serve-'));
  const root = join(work, 'site');
  await mkdir(root);
  await chmod(work, 0o755); // nginx's workers run as another user (www-data) when it starts as root
  await writeFile(join(root, 'micropython.bin'), app);
  await writeFile(join(root, 'micropython.json'), JSON.stringify(manifest));
  const bare = await startNode(join(work, 'bare.log'), [fileURLToPath(new URL('./bare-http-server.js', import.meta.url)), root]);
  const row = (name: string, result: WrkResult) =>
    `${name} ${result.requestsPerSecond.toFixed(0).padStart(6)} req/s ${mb(result.bytesPerSecond).padStart(9)} ${result.cpuMicrosPerRequest.toFixed(0).padStart(5)} µs CPU/req`;
  try {
    lines.push(`  wrk -t2 -c${WRK_CONNECTIONS} -d${WRK_SECONDS}s; nginx with sendfile; nginx and serve log each request; bare: node:http writing the bytes from memory, no log`);
    for (const processes of [1, 2]) {
      const ours = await startServe(root, join(work, `serve-access-${processes}.log`), processes);
      const nginx = await startNginx(root, work, processes);
      try {
        lines.push(`  ${processes === 1 ? 'one process each (nginx: 1 worker; serve: one Node process)' : `${processes} processes each (nginx: worker_processes ${processes}; serve --workers ${processes})`}`);
        for (const file of ['micropython.bin', 'micropython.json']) {
          // nginx first, then ours (and the bare server), then nginx again: the ratio uses nginx's better run.
          const peerA = await wrk(`${nginx.url}${file}`, nginx.process);
          const mine = await wrk(`${ours.url}${file}`, ours.process);
          const ceiling = processes === 1 ? await wrk(`${bare.url}${file}`, bare.process) : undefined;
          const peerB = await wrk(`${nginx.url}${file}`, nginx.process);
          const peer = peerA.requestsPerSecond >= peerB.requestsPerSecond ? peerA : peerB;
          const ratio = mine.requestsPerSecond / peer.requestsPerSecond;
          const cpuRatio = peer.cpuMicrosPerRequest / mine.cpuMicrosPerRequest;
          const errors = mine.errors + peer.errors + (ceiling?.errors ?? 0);
          lines.push(
            `    ${file.padEnd(17)} ${row('serve', mine)}   ${row('nginx', peer)}   req/s ratio ${ratio.toFixed(2)}x (goal ≥ 0.80: ${ratio >= 0.8 ? 'met' : 'NOT met'}), nginx CPU/req ÷ serve's ${cpuRatio.toFixed(2)}x` +
              (ceiling ? `\n      ${''.padEnd(17)} ${row('bare ', ceiling)} = ${(ceiling.requestsPerSecond / peer.requestsPerSecond).toFixed(2)}x nginx's req/s` : '') +
              (errors ? `, errors: serve ${mine.errors}, nginx ${peer.errors}${ceiling ? `, bare ${ceiling.errors}` : ''}` : ''),
          );
        }
        for (const [name, url] of [
          ['serve', ours.url],
          ['nginx', nginx.url],
        ] as const) {
          const result = await concurrentDownloads(`${url}micropython.bin`, manifest.sha, app.length);
          lines.push(
            `    ${CONCURRENT_DOWNLOADS} concurrent downloads from ${name}: ${result.failures} failed, ${(result.ms / 1000).toFixed(2)} s` +
              `${name === 'serve' ? ` (goal: no failure: ${result.failures === 0 ? 'met' : 'NOT met'})` : ''}`,
          );
        }
      } finally {
        nginx.process.kill();
        ours.process.kill();
        await Promise.all([nginx.process, ours.process].map((child) => (child.exitCode === null ? new Promise((resolve) => child.once('exit', resolve)) : undefined)));
      }
    }
  } finally {
    bare.process.kill();
    await rm(work, { recursive: true, force: true });
  }
  return lines;
}
