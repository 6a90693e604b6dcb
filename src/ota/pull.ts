/**
 * esp32-ota update --pull: the board downloads the firmware itself over its
 * own network with its `ota` package (installed or brought up to date in
 * /lib/ota first), which checks the manifest (chip, signature), writes,
 * verifies length, SHA-256 and a read-back, and sets the partition to boot;
 * the host shows the board's progress, then resets, checks and confirms as
 * the host-driven update does.
 */
import type { Sha256 } from '../format/hash.js';
import { DeviceError, type ReplClient } from '../repl/index.js';
import { installBoardPackage } from './board-package.js';
import { deviceProgram } from './device-programs.js';
import { OtaError, readStatus, type BoardLink, type BoardStatus } from './engine.js';
import { isHttpUrl } from './manifest.js';
import type { TransferProgress } from './transfer.js';
import { bootNewFirmware } from './update.js';

export interface PullOptions {
  /** The manifest (a .json URL) or the firmware URL, as the board reaches it. */
  readonly source: string;
  readonly sha?: string;
  readonly length?: number;
  /** Write the manifest's firmware even when the board already runs its version. */
  readonly force?: boolean;
  /** Sent by the board: HTTP basic auth, or a bearer token. */
  readonly auth?: { readonly user: string; readonly password: string };
  readonly token?: string;
  readonly reboot?: boolean;
  readonly confirm?: boolean;
  readonly sha256?: Sha256;
  readonly onStep?: (message: string) => void;
  /** sentBytes and ackedBytes: image bytes written; wireBytes: bytes the board downloaded. */
  readonly onProgress?: (progress: TransferProgress) => void;
  /** For the whole download (default 30 minutes). */
  readonly timeoutMs?: number;
}

export interface PullResult {
  readonly before: BoardStatus;
  /** false: the board already runs the manifest's version (nothing written). */
  readonly changed: boolean;
  readonly target: string;
  readonly written: number;
  readonly downloaded: number;
  readonly sha256: string | null;
  readonly elapsedMs: number;
  readonly after: BoardStatus | undefined;
  readonly confirmed: boolean;
}

interface BoardResult {
  changed: boolean;
  target: string;
  written: number;
  downloaded: number;
  sha: string | null;
  version: string | null;
  ms: number;
}

export async function pullUpdate(link: BoardLink, client: ReplClient, options: PullOptions): Promise<PullResult> {
  const step = options.onStep ?? (() => undefined);
  if (!isHttpUrl(options.source)) throw new OtaError(`with --pull the board downloads the firmware itself: give an http(s) URL it can reach, not '${options.source}'`);
  const before = await readStatus(client);
  if (!before.ready) throw new OtaError(`the board cannot take an OTA update: ${before.otadata ? (before.nextUpdateError ?? 'no next OTA partition') : 'it has no otadata partition'}`);
  const installed = await installBoardPackage(client, { ...(options.sha256 ? { sha256: options.sha256 } : {}), onStep: step });
  step(installed.written.length ? `Installed the ota package ${installed.version} in /lib/ota` : `The ota package ${installed.version} in /lib/ota is current`);

  const boardOptions = {
    ...(options.sha ? { sha: options.sha } : {}),
    ...(options.length ? { length: options.length } : {}),
    ...(options.force ? { force: true } : {}),
    request: { ...(options.auth ? { auth: [options.auth.user, options.auth.password] } : {}), ...(options.token ? { token: options.token } : {}) },
  };
  const program = `${await deviceProgram('pull')}\nimport json\n_esp32_ota_pull(${JSON.stringify(options.source)}, json.loads(${JSON.stringify(JSON.stringify(boardOptions))}))\n`;
  let pending = '';
  let result: BoardResult | undefined;
  const onLine = (line: string) => {
    if (line.startsWith('\x01progress ')) {
      const [written, total, downloaded, ms] = line.slice(10).split(' ').map(Number) as [number, number, number, number];
      options.onProgress?.({ sentBytes: written, ackedBytes: written, imageBytes: total, wireBytes: downloaded, elapsedMs: ms });
    } else if (line.startsWith('\x01result ')) result = JSON.parse(line.slice(8)) as BoardResult;
    else if (line.trim()) step(`  board: ${line.trim()}`);
  };
  try {
    await client.exec(program, {
      timeoutMs: options.timeoutMs ?? 30 * 60_000,
      onStdout: (bytes) => {
        pending += new TextDecoder().decode(bytes);
        const lines = pending.split(/\r?\n/);
        pending = lines.pop() ?? '';
        lines.forEach(onLine);
      },
    });
  } catch (error) {
    if (error instanceof DeviceError) {
      const lines = error.message.trim().split('\n');
      throw new OtaError(`the board's update failed: ${lines[lines.length - 1]}; the boot partition is unchanged`);
    }
    throw error;
  }
  if (pending) onLine(pending);
  if (!result) throw new OtaError('the board finished without reporting a result');
  const base = { before, changed: result.changed, target: result.target, written: result.written, downloaded: result.downloaded, sha256: result.sha, elapsedMs: result.ms };
  if (!result.changed || options.reboot === false) return { ...base, after: undefined, confirmed: false };
  step(`'${result.target}' is set to boot next`);
  const { after, confirmed } = await bootNewFirmware(link, client, { target: result.target, version: result.version ?? undefined, confirm: options.confirm === true, step });
  return { ...base, after, confirmed };
}
