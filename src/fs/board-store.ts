/**
 * The files of a live board, through its raw REPL as mpremote reaches them:
 * small helper functions (board/fs.py) defined once per connection, then one
 * short command per operation. File contents go through the transfer of
 * host-driven OTA: `put` streams CRC-checked, deflate-compressed frames to the
 * agent (src/ota/agent.py with a file as its target), `get` reads the file
 * compressed on the board as CRC-checked hex lines. Browser-safe.
 */
import { fromHex, toHex } from '../format/bytes.js';
import { sha256 as portableSha256, type Sha256 } from '../format/hash.js';
import { compactPython } from '../ota/agent-source.js';
import { loadShippedText } from '../ota/shipped-text.js';
import { transferImage } from '../ota/transfer.js';
import { TransferError } from '../ota/errors.js';
import { crc32 } from '../format/crc32.js';
import { DeviceError } from '../repl/errors.js';
import type { ReplClient } from '../repl/repl-client.js';
import type { Transport } from '../transport/transport.js';
import { Errno, FileStoreError, type FileEntry, type FileProgress, type FileStore, type FileStoreUsage } from './file-store.js';

export interface BoardStoreOptions {
  /** Carries the transfer frames: the client's own transport, or a wrapper of it (a throttle, a counter). */
  readonly transport?: Transport;
  /** Passed to the transfer (e.g. 16384 on links with flow control); default: what the agent announces. */
  readonly window?: number;
  readonly sha256?: Sha256;
  /** Per-operation time limit (default 20 s). */
  readonly timeoutMs?: number;
}

type EntryRow = [string, 'file' | 'dir', number, number];

/** Deflate window of `get`: 1 KiB, small next to a board's free heap. */
const GET_WINDOW_BITS = 10;

export class BoardFileStore implements FileStore {
  readonly description: string;
  private ready = false;
  private readonly transport: Transport;
  private readonly timeoutMs: number;

  constructor(
    private readonly client: ReplClient,
    private readonly options: BoardStoreOptions = {},
  ) {
    this.transport = options.transport ?? client.transport;
    this.description = client.transport.description;
    this.timeoutMs = options.timeoutMs ?? 20_000;
  }

  async stat(path: string): Promise<FileEntry | undefined> {
    const row = await this.call<EntryRow | null>(path, `_fso_stat(${quote(path)})`);
    return row ? entryOf(row) : undefined;
  }

  async list(path: string): Promise<FileEntry[]> {
    return (await this.call<EntryRow[]>(path, `_fso_list(${quote(path)})`)).map(entryOf);
  }

  async walk(path: string): Promise<FileEntry[]> {
    const rows = await this.call<EntryRow[]>(path, `_fso_walk(${quote(path)})`);
    return rows.map(entryOf).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  async usage(): Promise<FileStoreUsage> {
    const [blockSize, blockCount, blocksUsed, blocksFree] = await this.call<number[]>('/', '_fso_usage()');
    return { blockSize: blockSize!, blockCount: blockCount!, blocksUsed: blocksUsed!, blocksFree: blocksFree! };
  }

  async mkdir(path: string): Promise<void> {
    await this.run(path, `import os;os.mkdir(${quote(path)})`);
  }

  async remove(path: string): Promise<void> {
    await this.run(path, `import os\ntry:\n os.remove(${quote(path)})\nexcept OSError as e:\n if e.args[0]!=21 and not os.stat(${quote(path)})[0]&0x4000:raise\n os.rmdir(${quote(path)})`);
  }

  async rename(from: string, to: string): Promise<void> {
    await this.run(from, `import os;os.rename(${quote(from)},${quote(to)})`);
  }

  async writeFile(path: string, data: Uint8Array, onProgress?: FileProgress): Promise<void> {
    if (data.length === 0) {
      await this.run(path, `open(${quote(path)},'wb').close()`);
      onProgress?.(0, 0);
      return;
    }
    try {
      await transferImage(this.client, this.transport, data, {
        partition: path,
        ...(this.options.window ? { window: this.options.window } : {}),
        ...(this.options.sha256 ? { sha256: this.options.sha256 } : {}),
        ...(onProgress ? { onProgress: (progress) => onProgress(progress.ackedBytes, progress.imageBytes) } : {}),
      });
    } catch (error) {
      if (error instanceof TransferError) {
        if (error.code === 'no-space') throw new FileStoreError(Errno.ENOSPC, path, `${data.length} bytes do not fit: ${error.agentReport ?? error.message}`);
        const errno = errnoOf(error.agentReport ?? error.message);
        if (error.code === 'flash' && errno !== undefined) throw new FileStoreError(errno, path);
      }
      throw error;
    }
  }

  async readFile(path: string, onProgress?: FileProgress): Promise<Uint8Array> {
    const entry = await this.stat(path);
    if (!entry) throw new FileStoreError(Errno.ENOENT, path);
    if (entry.type === 'dir') throw new FileStoreError(Errno.EISDIR, path);
    let size = entry.size;
    const pieces: Uint8Array[] = [];
    let end: { sha: string; length: number } | undefined;
    let text = '';
    let damage: string | undefined;
    const onStdout = (bytes: Uint8Array): void => {
      text += new TextDecoder('latin1').decode(bytes);
      let newline: number;
      while ((newline = text.indexOf('\n')) >= 0) {
        const line = text.slice(0, newline).trim();
        text = text.slice(newline + 1);
        const [tag, first, second, third] = line.split(' ');
        if (tag === '@S') size = Number(first);
        else if (tag === '@G') {
          const hex = second ?? '';
          const piece = /^(?:[0-9a-f]{2})*$/.test(hex) ? fromHex(hex) : undefined;
          if (!piece || crc32(piece) !== parseInt(first ?? '', 16)) damage ??= `a piece of ${path} arrived damaged: try again`;
          else {
            pieces.push(piece);
            onProgress?.(Math.min(Number(third), size), size);
          }
        } else if (tag === '@E') end = { sha: first ?? '', length: Number(second) };
      }
    };
    try {
      // Hex lines of compressed data: at least ~1 KB/s of file even on a slow link with data that does not compress.
      await this.client.exec(`_fso_get(${quote(path)},${GET_WINDOW_BITS})`, { onStdout, timeoutMs: this.timeoutMs + size });
    } catch (error) {
      throw this.translate(path, error);
    }
    if (damage) throw new Error(damage);
    if (!end) throw new Error(`the board did not finish sending ${path}`);
    // MicroPython's compressor writes nothing at all for an empty file.
    const data = end.length === 0 ? new Uint8Array(0) : await inflateRaw(pieces);
    const hash = this.options.sha256 ?? portableSha256;
    if (data.length !== end.length || toHex(hash(data)) !== end.sha) {
      throw new Error(`${path} arrived as ${data.length} bytes that do not match the board's SHA-256 (${end.length} bytes): try again`);
    }
    onProgress?.(data.length, data.length);
    return data;
  }

  /** Defines the helpers of fs.py on the board (once per connection). */
  private async define(): Promise<void> {
    if (this.ready) return;
    const source = await loadShippedText(new URL('./board/fs.py', import.meta.url));
    await this.client.exec(compactPython(source, 'fs.py').join('\n') + '\n', { timeoutMs: this.timeoutMs });
    this.ready = true;
  }

  private async run(path: string, code: string): Promise<Uint8Array> {
    await this.define();
    try {
      return await this.client.exec(code, { timeoutMs: this.timeoutMs });
    } catch (error) {
      throw this.translate(path, error);
    }
  }

  private async call<T>(path: string, code: string): Promise<T> {
    const stdout = new TextDecoder().decode(await this.run(path, code));
    const line = stdout.trim().split(/\r?\n/).at(-1) ?? '';
    return JSON.parse(line) as T;
  }

  private translate(path: string, error: unknown): unknown {
    if (error instanceof DeviceError) {
      const errno = errnoOf(error.message);
      if (errno !== undefined) return new FileStoreError(errno, path);
    }
    return error;
  }
}

function entryOf([path, type, size, mtime]: EntryRow): FileEntry {
  return { path, type, size, ...(mtime ? { mtime } : {}) };
}

/** A Python string literal (JSON's escapes are Python's too). */
function quote(text: string): string {
  return JSON.stringify(text);
}

/** The errno of 'OSError: [Errno 2] ENOENT', 'OSError: 28' or the agent's 'OSError(28,)'. */
export function errnoOf(text: string): number | undefined {
  const match = /OSError(?::\s*\[Errno (\d+)\]|:\s*(\d+)|\((-?\d+),?)/.exec(text);
  const value = match ? Number(match[1] ?? match[2] ?? match[3]) : NaN;
  return Number.isInteger(value) && value > 0 ? value : undefined;
}

async function inflateRaw(pieces: Uint8Array[]): Promise<Uint8Array> {
  const stream = new Blob(pieces).stream().pipeThrough(new DecompressionStream('deflate-raw'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
