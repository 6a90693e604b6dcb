/**
 * WebREPL file transfer (put, get, version) over the binary frames of the
 * connection, both sides, pure: the board's side as extmod/modwebrepl.c runs
 * it, and the client's side as webrepl_cli.py and webrepl.js drive it. The
 * binary frames form one byte stream on the board: a request may span frames
 * (webrepl_cli sends 10 + 72 bytes) and put data arrives in any framing.
 */
import { concatBytes } from '../format/bytes.js';
import {
  decodeChunkLength,
  decodeName,
  decodeRequest,
  decodeResponse,
  decodeVersion,
  encodeChunk,
  encodeRequest,
  encodeResponse,
  encodeVersion,
  GET_CHUNK_MAX,
  GET_CHUNK_REQUEST,
  MAX_FRAME_PAYLOAD,
  PUT_CHUNK_SIZE,
  REQUEST_SIZE,
  RESPONSE_SIZE,
  WebReplOp,
  WebReplProtocolError,
  type MicroPythonVersion,
} from './webrepl-protocol.js';

// ---- the board's side --------------------------------------------------------------

/** The part of the device's filesystem WebREPL reaches. Names are as the client sent them (relative to the working directory, usually `/`). */
export interface WebReplFileSystem {
  /** undefined when there is no such file. */
  readFile(name: string): Uint8Array | undefined;
  /** Creates or replaces the file; throws when it cannot (e.g. no such directory). */
  writeFile(name: string, data: Uint8Array): void;
}

export interface FileTransferDeviceOptions {
  files: WebReplFileSystem;
  /** MICROPY_VERSION_MAJOR/MINOR/MICRO of the running firmware. */
  version: () => MicroPythonVersion;
  /** Sends one binary frame to the client. */
  send: (frame: Uint8Array) => void;
  /**
   * An exception escaped the board's read method: dupterm deactivates WebREPL and
   * closes the socket. `consoleText` is what the board prints on its console.
   */
  drop: (consoleText: string) => void;
}

type DeviceState =
  | { kind: 'header'; received: Uint8Array; have: number }
  | { kind: 'put'; name: string; remaining: number; parts: Uint8Array[] }
  | { kind: 'get'; data: Uint8Array; position: number }
  /** An op other than 1/2/3: the board answered WB\0\0 and now ignores binary data (hdr_to_recv = data_to_recv = 0). */
  | { kind: 'wedged' }
  | { kind: 'dropped' };

const EXCEPTION_IN_READ = 'dupterm: Exception in read() method, deactivating: ';

/** The board's file-transfer state machine (_webrepl_read after login, handle_op, write_file_chunk). */
export class WebReplFileDevice {
  private state: DeviceState = newHeader();

  constructor(private readonly options: FileTransferDeviceOptions) {}

  /** The payload bytes of binary frames, in order, in any framing. */
  receive(bytes: Uint8Array): void {
    let at = 0;
    while (at < bytes.length) {
      const state = this.state;
      switch (state.kind) {
        case 'header': {
          const take = Math.min(REQUEST_SIZE - state.have, bytes.length - at);
          state.received.set(bytes.subarray(at, at + take), state.have);
          state.have += take;
          at += take;
          if (state.have === REQUEST_SIZE) this.handleRequest(state.received);
          break;
        }
        case 'put': {
          const take = Math.min(state.remaining, bytes.length - at);
          state.parts.push(bytes.slice(at, at + take));
          state.remaining -= take;
          at += take;
          if (state.remaining === 0) this.finishPut(state.name, concatBytes(...state.parts));
          break;
        }
        case 'get':
          // One byte asks for the next chunk. The board asserts it is 0, which release builds do not check.
          at += 1;
          this.sendChunk(state);
          break;
        case 'wedged':
        case 'dropped':
          return;
      }
    }
  }

  private handleRequest(header: Uint8Array): void {
    const request = decodeRequest(header);
    this.state = newHeader();
    // The board checks neither the signature nor the flags; it takes the name up to its NUL.
    if (request.op === WebReplOp.version) {
      this.options.send(encodeVersion(this.options.version()));
      return;
    }
    let name: string;
    try {
      name = decodeName(request.nameBytes);
    } catch {
      return this.fail('UnicodeError: \n');
    }
    if (name === '') return this.fail('OSError: [Errno 2] ENOENT\n');

    if (request.op === WebReplOp.put) {
      // open(name, "wb") creates or truncates the file before the first WB.
      if (!this.write(name, new Uint8Array(0))) return;
      this.options.send(encodeResponse(0));
      if (request.size === 0) {
        this.options.send(encodeResponse(0));
        return;
      }
      this.state = { kind: 'put', name, remaining: request.size, parts: [] };
      return;
    }

    // GET_FILE, and any other op, opens the file for reading.
    let data: Uint8Array | undefined;
    try {
      data = this.options.files.readFile(name);
    } catch (error) {
      return this.fail(`OSError: ${messageOf(error)}\n`);
    }
    if (data === undefined) return this.fail('OSError: [Errno 2] ENOENT\n');
    this.options.send(encodeResponse(0));
    this.state = request.op === WebReplOp.get ? { kind: 'get', data: data.slice(), position: 0 } : { kind: 'wedged' };
  }

  private sendChunk(state: Extract<DeviceState, { kind: 'get' }>): void {
    const chunk = state.data.subarray(state.position, state.position + GET_CHUNK_MAX);
    state.position += chunk.length;
    this.options.send(encodeChunk(chunk));
    if (chunk.length === 0) {
      this.state = newHeader();
      this.options.send(encodeResponse(0));
    }
  }

  private finishPut(name: string, data: Uint8Array): void {
    this.state = newHeader();
    if (this.write(name, data)) this.options.send(encodeResponse(0));
  }

  private write(name: string, data: Uint8Array): boolean {
    try {
      this.options.files.writeFile(name, data);
      return true;
    } catch (error) {
      this.fail(`OSError: ${messageOf(error)}\n`);
      return false;
    }
  }

  private fail(exceptionText: string): void {
    this.state = { kind: 'dropped' };
    this.options.drop(EXCEPTION_IN_READ + exceptionText);
  }
}

function newHeader(): DeviceState {
  return { kind: 'header', received: new Uint8Array(REQUEST_SIZE), have: 0 };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// ---- the client's side -------------------------------------------------------------

export interface FileTransferClientOptions {
  /** Sends one binary frame; resolves once handed on. */
  send: (frame: Uint8Array) => Promise<void>;
  /** Bytes of put data per frame (default 1024, as webrepl_cli and webrepl.js). */
  putChunkSize?: number;
  /** An operation fails when the board sends nothing for this long (default 10 s; 0: wait for ever). */
  replyTimeoutMs?: number;
  /**
   * The channel is out of step with the board (a reply timed out or made no
   * sense): later requests would be misread, so the connection should be closed.
   */
  onDesync?: (error: Error) => void;
}

export class WebReplFileError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WebReplFileError';
  }
}

interface PendingRead {
  count: number;
  resolve: (bytes: Uint8Array) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * The client's file operations. One at a time (they share the binary
 * stream); calls made meanwhile wait their turn. Valid only while no REPL
 * command is mid-flight: the board serves file transfer from the task that
 * runs Python.
 */
export class WebReplFileClient {
  private readonly buffered: Uint8Array[] = [];
  private bufferedLength = 0;
  private pending: PendingRead | undefined;
  private active = false;
  private failure: Error | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly putChunkSize: number;
  private readonly replyTimeoutMs: number;

  constructor(private readonly options: FileTransferClientOptions) {
    this.putChunkSize = options.putChunkSize ?? PUT_CHUNK_SIZE;
    if (!Number.isInteger(this.putChunkSize) || this.putChunkSize < 1 || this.putChunkSize > MAX_FRAME_PAYLOAD) {
      throw new RangeError(`putChunkSize must be 1..${MAX_FRAME_PAYLOAD}`);
    }
    this.replyTimeoutMs = options.replyTimeoutMs ?? 10_000;
  }

  /** True while an operation is under way. */
  get busy(): boolean {
    return this.active;
  }

  /** The payload of a binary frame from the board. Bytes that arrive while no operation runs are dropped. */
  receive(payload: Uint8Array): void {
    if (!this.active || this.failure || payload.length === 0) return;
    this.buffered.push(payload.slice());
    this.bufferedLength += payload.length;
    this.settleRead();
  }

  /** The connection is gone: the operation under way and all later ones fail with this error. */
  fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    const pending = this.pending;
    this.pending = undefined;
    if (pending) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
  }

  /** Writes `data` to the board as file `name` (created or replaced). */
  putFile(name: string, data: Uint8Array): Promise<void> {
    const request = tryEncode({ op: WebReplOp.put, size: data.length, name });
    if (request instanceof Error) return Promise.reject(request);
    return this.run(`put of "${name}"`, 'cannot create the file (e.g. its directory does not exist)', async () => {
      await this.options.send(request);
      await this.expectOk();
      for (let at = 0; at < data.length; at += this.putChunkSize) {
        await this.options.send(data.slice(at, at + this.putChunkSize));
      }
      await this.expectOk();
    });
  }

  /** The content of file `name` on the board. */
  getFile(name: string): Promise<Uint8Array> {
    const request = tryEncode({ op: WebReplOp.get, size: 0, name });
    if (request instanceof Error) return Promise.reject(request);
    return this.run(`get of "${name}"`, 'cannot open the file (e.g. it does not exist)', async () => {
      await this.options.send(request);
      await this.expectOk();
      const parts: Uint8Array[] = [];
      for (;;) {
        await this.options.send(Uint8Array.of(GET_CHUNK_REQUEST));
        const length = decodeChunkLength(await this.read(2));
        if (length === 0) break;
        parts.push(await this.read(length));
      }
      await this.expectOk();
      return concatBytes(...parts);
    });
  }

  /** The board's MicroPython version (MICROPY_VERSION_MAJOR, MINOR, MICRO). */
  version(): Promise<MicroPythonVersion> {
    return this.run('version request', undefined, async () => {
      await this.options.send(encodeRequest({ op: WebReplOp.version, size: 0, name: '' }));
      return decodeVersion(await this.read(3));
    });
  }

  private run<T>(what: string, dropHint: string | undefined, operation: () => Promise<T>): Promise<T> {
    const result = this.queue.then(async () => {
      if (this.failure) throw new WebReplFileError(`WebREPL ${what} failed: ${this.failure.message}`, { cause: this.failure });
      this.active = true;
      try {
        return await operation();
      } catch (error) {
        throw this.explain(what, dropHint, error);
      } finally {
        this.active = false;
        this.buffered.length = 0;
        this.bufferedLength = 0;
      }
    });
    this.queue = result.catch(() => undefined);
    return result;
  }

  private explain(what: string, dropHint: string | undefined, error: unknown): Error {
    if (error instanceof WebReplFileError) return error;
    const cause = error instanceof Error ? error : new Error(String(error));
    if (cause === this.failure) {
      const hint = dropHint ? `; a board closes the WebREPL connection when it ${dropHint}` : '';
      return new WebReplFileError(`WebREPL ${what} failed: ${cause.message}${hint}`, { cause });
    }
    // A timeout or a reply that makes no sense: the binary stream is out of step.
    const failure = new WebReplFileError(`WebREPL ${what} failed: ${cause.message}`, { cause });
    this.fail(failure);
    this.options.onDesync?.(failure);
    return failure;
  }

  private async expectOk(): Promise<void> {
    const status = decodeResponse(await this.read(RESPONSE_SIZE));
    if (status !== 0) throw new WebReplProtocolError(`the board answered status ${status}`);
  }

  private read(count: number): Promise<Uint8Array> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending = { count, resolve, reject, timer: undefined };
      this.armTimer();
      this.settleRead();
    });
  }

  private armTimer(): void {
    const pending = this.pending;
    if (!pending || this.replyTimeoutMs <= 0) return;
    clearTimeout(pending.timer);
    pending.timer = setTimeout(() => {
      if (this.pending !== pending) return;
      this.pending = undefined;
      pending.reject(new WebReplProtocolError(`no reply from the board for ${this.replyTimeoutMs} ms (is a REPL command still running?)`));
    }, this.replyTimeoutMs);
  }

  private settleRead(): void {
    const pending = this.pending;
    if (!pending) return;
    if (this.bufferedLength < pending.count) {
      this.armTimer(); // progress: the timeout counts from the latest byte
      return;
    }
    this.pending = undefined;
    clearTimeout(pending.timer);
    const all = this.buffered.length === 1 ? this.buffered[0]! : concatBytes(...this.buffered);
    this.buffered.length = 0;
    this.bufferedLength = all.length - pending.count;
    if (this.bufferedLength > 0) this.buffered.push(all.slice(pending.count));
    pending.resolve(all.slice(0, pending.count));
  }
}

function tryEncode(request: Parameters<typeof encodeRequest>[0]): Uint8Array | Error {
  try {
    return encodeRequest(request);
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}
