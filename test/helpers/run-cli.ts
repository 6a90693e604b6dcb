/** Runs the built CLI as a user would, capturing output and exit code. */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function runCli(args: readonly string[], options: { cwd?: string; env?: Record<string, string> } = {}): CliResult {
  const result = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    timeout: 60_000,
  });
  if (result.error) throw result.error;
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/**
 * Runs the CLI in this process (no child process start-up: fast enough to run
 * hundreds of cases), capturing what it writes to stdout and stderr. A command
 * still running after `timeoutMs` is reported as a hang (code -1).
 */
export async function runCliInProcess(
  args: readonly string[],
  options: { timeoutMs?: number; onStderr?: (text: string) => void } = {},
): Promise<CliResult & { hung: boolean }> {
  const { main } = await import('../../src/cli/program.js');
  const out: string[] = [];
  const err: string[] = [];
  const capture = (into: string[], listener?: (text: string) => void) => ({
    write(chunk: string | Uint8Array) {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      into.push(text);
      listener?.(text);
      return true;
    },
  });
  const streams = { stdout: capture(out), stderr: capture(err, options.onStderr) };
  let timer: NodeJS.Timeout | undefined;
  try {
    const hang = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), options.timeoutMs ?? 20_000)));
    const code = await Promise.race([main(args, streams), hang]);
    return { code: code === 'hung' ? -1 : code, stdout: out.join(''), stderr: err.join(''), hung: code === 'hung' };
  } finally {
    clearTimeout(timer);
  }
}

/** As runCli, without blocking this process: for CLI runs that talk to a server the test itself runs. */
export function runCliAsync(args: readonly string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
