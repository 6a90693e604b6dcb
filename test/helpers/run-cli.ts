/** Runs the built CLI as a user would, capturing output and exit code. */
import { spawnSync } from 'node:child_process';
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
export async function runCliInProcess(args: readonly string[], options: { timeoutMs?: number } = {}): Promise<CliResult & { hung: boolean }> {
  const { main } = await import('../../src/cli/program.js');
  const out: string[] = [];
  const err: string[] = [];
  const stdoutWrite = process.stdout.write;
  const stderrWrite = process.stderr.write;
  const capture = (into: string[]) =>
    ((chunk: string | Uint8Array) => {
      into.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return true;
    }) as typeof process.stdout.write;
  process.stdout.write = capture(out);
  process.stderr.write = capture(err);
  let timer: NodeJS.Timeout | undefined;
  try {
    const hang = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), options.timeoutMs ?? 20_000)));
    const code = await Promise.race([main(args), hang]);
    return { code: code === 'hung' ? -1 : code, stdout: out.join(''), stderr: err.join(''), hung: code === 'hung' };
  } finally {
    clearTimeout(timer);
    process.stdout.write = stdoutWrite;
    process.stderr.write = stderrWrite;
  }
}
