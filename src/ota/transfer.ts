/**
 * Host-driven OTA transfer: uploads the agent (agent.py) through the raw
 * REPL, streams the image to it as CRC-checked binary frames on stdin with a
 * window of unacknowledged bytes, deflate-compressed per 4 KiB block when
 * the board can decompress, and resumes interrupted transfers without
 * sending the blocks the partition already holds. The protocol is described
 * in docs/transfer-protocol.md. It writes the partition and checks it; it
 * never calls set_boot() (the OTA engine does, after checking the result).
 *
 * Browser-safe: no Node imports (the agent source is fetched next to this module there).
 */
import { toHex } from '../format/bytes.js';
import { crc32 } from '../format/crc32.js';
import { sha256 as portableSha256, type Sha256 } from '../format/hash.js';
import type { ByteReader } from '../repl/byte-reader.js';
import { DeviceError, ReplTimeoutError } from '../repl/errors.js';
import type { ReplClient, RunningProgram } from '../repl/repl-client.js';
import { TransportClosedError, type Transport } from '../transport/transport.js';
import { agentProgram, loadAgentSource } from './agent-source.js';
import { BlockDeflater, FLASH_BLOCK_SIZE, MAX_WINDOW_BITS, MIN_WINDOW_BITS, windowBitsForMemory } from './compression.js';
import { AGENT_FAILURES, TransferError } from './errors.js';
import {
  FRAME_HEADER_SIZE,
  FrameType,
  MAX_PAYLOAD,
  PROTOCOL_VERSION,
  TransferMode,
  base64Length,
  encodeWireFrame,
  endPayload,
  parseAgentLine,
  startPayload,
  type AgentMessage,
  type FrameTypeCode,
  type Framing,
} from './frames.js';

export interface TransferProgress {
  /** Image bytes sent in data frames so far (each block counted once). */
  readonly sentBytes: number;
  /** Bytes written to the link so far: agent upload, frames, retransmissions. */
  readonly wireBytes: number;
  readonly imageBytes: number;
  /** Image bytes the board has written to flash and acknowledged (kept blocks of a resume included). */
  readonly ackedBytes: number;
  readonly elapsedMs: number;
}

export interface TransferOptions {
  /**
   * Partition label, or 'next' (default): the OTA slot after the running one.
   * An absolute path writes a file on the board's filesystem instead (under a
   * temporary name, renamed over the file once it reads back right).
   */
  readonly partition?: string;
  /** 'auto' (default): deflate when the firmware has the `deflate` module (MicroPython ≥ 1.21). */
  readonly compress?: 'auto' | 'on' | 'off';
  /**
   * Most bytes in flight (sent, not yet consumed by the agent). Default: what
   * the agent announces, 256 on a board (its UART stdin ring holds 259 bytes
   * while Python writes flash; more is lost), 32768 on the virtual board. Links
   * with flow control (USB-CDC, WebREPL over TCP) may take e.g. 16384.
   */
  readonly window?: number;
  /** Decoder window as log2 bytes (9–15). Default: the largest the board's free heap allows. */
  readonly windowBits?: number;
  /** Keep the blocks the partition already holds (compared by CRC-32) and send only the others. */
  readonly resume?: boolean;
  /** How frames travel (see frames.ts); default 'base64' on a transport that carries only text, else 'binary'. */
  readonly framing?: Framing;
  /**
   * 'block' (default): the agent writes 16 blocks at once where the partition
   * allows, one 64 KiB block erase (150 ms) instead of 16 sector erases
   * (720 ms), if it can allocate the 64 KiB buffer. 'sector': every 4 KiB
   * block erased and written on its own.
   */
  readonly erase?: 'block' | 'sector';
  /**
   * Run the board's REPL UART at this bit rate for the transfer (a serial
   * link only), as esptool does with its loader: the agent announces the
   * switch at the old rate, both ends change, and the host's probe at the new
   * rate must reach the agent within 800 ms, else both go back to the old
   * rate and the transfer goes on there (result.baud says which). The old
   * rate comes back when the agent ends, and with any hard reset.
   */
  readonly baud?: number;
  /** Refuse the image unless its SHA-256 is this (64 hex digits). */
  readonly expectedSha256?: string;
  /** The agent stops when the host is silent this long (default 3000 ms); also how long a takeover waits. */
  readonly idleTimeoutMs?: number;
  /** The host gives up when the board is silent this long (default 20000 ms). */
  readonly stallTimeoutMs?: number;
  /** SHA-256 of the image (default: the portable one; Node callers may pass nativeSha256). */
  readonly sha256?: Sha256;
  /** The agent's source, instead of agent.py next to this module. */
  readonly agentSource?: string;
  readonly onProgress?: (progress: TransferProgress) => void;
  readonly signal?: AbortSignal;
}

export interface TransferResult {
  /** Label of the partition written. */
  readonly partition: string;
  /** Image bytes written to flash by this call (blocks kept by a resume not counted). */
  readonly bytesWritten: number;
  readonly imageBytes: number;
  /** Everything this call wrote to the link, agent upload included. */
  readonly wireBytes: number;
  /** The agent program's share of wireBytes. */
  readonly agentBytes: number;
  readonly sha256Hex: string;
  /** Blocks already right in the partition, not sent again (resume). */
  readonly resumedBlocks: number;
  readonly sentBlocks: number;
  /** Frames sent again after the agent reported damage. */
  readonly retransmits: number;
  readonly compression: 'deflate' | 'none';
  readonly framing: Framing;
  readonly windowBits: number | undefined;
  /** The window used (bytes in flight). */
  readonly window: number;
  /** The UART rate the frames went at (options.baud if the switch worked, else the link's); undefined on links without one. */
  readonly baud: number | undefined;
  /** Bytes the agent erased and wrote at once where it could: 65536, or 4096 (asked for, or no RAM for more). */
  readonly eraseUnit: number;
  readonly elapsedMs: number;
}

export const DEFAULT_IDLE_TIMEOUT_MS = 3000;
export const DEFAULT_STALL_TIMEOUT_MS = 20_000;
/** Silence while the window is full after which the host counts the bytes in flight as lost (longer than any flash operation). */
const CREDIT_TIMEOUT_MS = 1000;
/** After a report that stdin ran dry, how long the agent must read nothing more before the host counts its bytes as lost. */
const STARVING_GRACE_MS = 300;
/** Silence after the last frame was sent after which the host sends again from the first unacknowledged frame (longer than the agent's final checks). */
const END_SILENCE_MS = 4000;
/** Compressed frames kept ready ahead of the link. */
const PRODUCE_AHEAD_BYTES = 512 * 1024;
/** Pieces compressed in advance that are made into frames at a time (so the frames ahead stay near PRODUCE_AHEAD_BYTES). */
const READY_PIECES_PER_STEP = 16;
/** What the host sends at the new UART rate to prove it follows (agent.py _BAUD_PROBE). */
const BAUD_PROBE = new TextEncoder().encode('#esp32-ota-baud#');
/** After the agent announced its switch: time for it to wait out its TX FIFO and switch, before the probe. */
const BAUD_SETTLE_MS = 50;
/** How long the host waits for the agent's answer to the probe (the agent takes probes for 800 ms after switching, and reports a fall back 1,600 ms after it). */
const BAUD_ANSWER_MS = 1000;
const EOT = 0x04;

/**
 * Writes `image` (an app image) into a partition of the board behind
 * `client`. `transport` carries the frames: the client's own transport, or a
 * wrapper of it (e.g. a throttle or a counter). The client must not be in
 * use; on success, and after failures the agent reported, it is left at the
 * raw REPL. After 'link-lost' or 'timeout', connect again and pass
 * `resume: true`: the blocks already written are kept.
 */
export async function transferImage(client: ReplClient, transport: Transport, image: Uint8Array, options: TransferOptions = {}): Promise<TransferResult> {
  const startedAt = performance.now();
  if (image.length === 0) throw new RangeError('the image is empty');
  const hash = options.sha256 ?? portableSha256;
  const digest = hash(image);
  const sha256Hex = toHex(digest);
  if (options.expectedSha256 !== undefined && options.expectedSha256.toLowerCase() !== sha256Hex) {
    throw new TransferError('sha-mismatch', `the image has SHA-256 ${sha256Hex}, not the expected ${options.expectedSha256}; nothing was sent`);
  }
  if (options.windowBits !== undefined && !(options.windowBits >= MIN_WINDOW_BITS && options.windowBits <= MAX_WINDOW_BITS)) {
    throw new RangeError(`windowBits must be ${MIN_WINDOW_BITS}..${MAX_WINDOW_BITS}`);
  }
  if (options.window !== undefined && !(Number.isInteger(options.window) && options.window >= 64)) {
    throw new RangeError('window must be an integer of at least 64 bytes');
  }
  const idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const stallMs = options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
  const blockCount = Math.ceil(image.length / FLASH_BLOCK_SIZE);
  if (2 * blockCount + 2 > 0xffff) throw new RangeError('the image is too large for 16-bit frame numbers');
  if (options.signal?.aborted) throw new TransferError('aborted', 'the transfer was aborted before it started');

  const oldBaud = transport.baudRate;
  if (options.baud !== undefined) {
    if (!transport.setBaudRate || oldBaud === undefined) {
      throw new TransferError('no-baud-change', `the link to ${transport.description} has no UART rate to change: a transfer rate works on a serial port; nothing was sent`);
    }
    if (!(Number.isInteger(options.baud) && options.baud >= 9600 && options.baud <= 5_000_000)) throw new RangeError(`baud must be 9,600 to 5,000,000, not ${options.baud}`);
  }
  const switchBaud = options.baud !== undefined && options.baud !== oldBaud ? options.baud : undefined;
  // Not for a resume: its runs are known only from the agent's report.
  const compressed = !options.resume && options.compress !== 'off' ? await compressAhead(image, options.windowBits ?? MAX_WINDOW_BITS, idleMs, options.signal) : undefined;
  const framing = options.framing ?? (transport.textOnly ? 'base64' : 'binary');
  const source = options.agentSource ?? (await loadAgentSource());
  const program = agentProgram(source, {
    target: options.partition ?? 'next',
    length: image.length,
    window: options.window ?? 0,
    idleMs,
    resume: options.resume ?? false,
    group: eraseGroup(options.erase),
    text: framing === 'base64',
    ...(switchBaud !== undefined && { baud: switchBaud, oldBaud }),
  });
  const agentBytes = new TextEncoder().encode(program).length;

  let running: RunningProgram;
  try {
    await enterRawReplTakingOver(client, transport, idleMs, framing);
    running = await client.startProgram(program, { timeoutMs: stallMs });
  } catch (error) {
    if (error instanceof TransportClosedError || transport.closed) {
      throw new TransferError('link-lost', `the link to ${transport.description} closed before the transfer started`, { cause: error });
    }
    if (error instanceof ReplTimeoutError) throw new TransferError('timeout', `the board did not start the transfer agent: ${error.message}`, { cause: error });
    throw error;
  }
  const session = new Session(running, transport, image, {
    digest,
    compressed,
    stallMs,
    startedAt,
    agentBytes,
    framing,
    switchBaud,
    onProgress: options.onProgress,
    signal: options.signal,
  });
  const outcome = await session.run(options);
  return {
    ...outcome,
    imageBytes: image.length,
    agentBytes,
    sha256Hex,
    elapsedMs: performance.now() - startedAt,
  };
}

/** The start of the whole image as one deflate run (block 0 on): its first pieces, and the deflater to go on with. */
interface CompressedStart {
  readonly windowBits: number;
  readonly pieces: readonly Uint8Array[];
  readonly deflater: BlockDeflater;
}

/** The compressor works ahead of the agent until a segment takes less than this part of the agent's patience. */
const SEGMENT_SHARE_OF_IDLE = 1 / 4;
/** How long compressAhead() works before it lets other tasks run (a page's cancel button, an abort). */
const COMPRESS_SLICE_MS = 50;

/**
 * Compresses the start of the image before the agent runs. Once the agent
 * has said it is ready it waits about idleMs for each read, and the host
 * sends nothing while it compresses a segment (16 KiB, one synchronous
 * step). On a quiet machine a segment takes ~10 ms (~50 ms the first time in
 * a process), but under heavy load the first ones took over a second (the JIT
 * still cold, its compiler threads starved) and a link as fast as the virtual
 * board's then left the agent waiting past an 800 ms idle timeout. So the
 * compressor goes on ahead, before the agent's clock runs, until a segment
 * takes less than a quarter of idleMs; the rest overlaps the link as before.
 * A quiet machine pays one segment; a loaded one compresses as much as it
 * must, up to the whole image: the one run a transfer sends unless it resumes.
 */
async function compressAhead(image: Uint8Array, windowBits: number, idleMs: number, signal: AbortSignal | undefined): Promise<CompressedStart> {
  const deflater = new BlockDeflater(image, { windowBits });
  const pieces: Uint8Array[] = [];
  let sliceStart = performance.now();
  while (!deflater.done) {
    if (signal?.aborted) throw new TransferError('aborted', 'the transfer was aborted before it started');
    const segmentStart = performance.now();
    pieces.push(...deflater.next());
    const now = performance.now();
    if (now - segmentStart < idleMs * SEGMENT_SHARE_OF_IDLE) break;
    if (now - sliceStart > COMPRESS_SLICE_MS) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      sliceStart = performance.now();
    }
  }
  return { windowBits, pieces, deflater };
}

/** 4 KiB blocks the agent collects and writes with one writeblocks(): 16 fill one 64 KiB flash block. */
function eraseGroup(erase: TransferOptions['erase'] = 'block'): number {
  if (erase !== 'block' && erase !== 'sector') throw new RangeError(`erase must be 'block' or 'sector', not ${String(erase)}`);
  return erase === 'block' ? 16 : 1;
}

/**
 * Enters the raw REPL. An agent left running by an interrupted transfer has
 * Ctrl-C switched off and eats what the client sends: then the client fills
 * whatever read the agent is in with spaces (harmless to either REPL) and
 * waits for the agent's idle timeout, after which the board is at its raw REPL.
 */
async function enterRawReplTakingOver(client: ReplClient, transport: Transport, idleMs: number, framing: Framing): Promise<void> {
  try {
    await client.enterRawRepl({ timeoutMs: 1500 });
    return;
  } catch (error) {
    if (!(error instanceof ReplTimeoutError)) throw error;
  }
  // Enough for the longest read of an agent of the same framing (an interrupted transfer is resumed over the same kind of link).
  const longestFrame = framing === 'base64' ? base64Length(FRAME_HEADER_SIZE) + base64Length(MAX_PAYLOAD) : FRAME_HEADER_SIZE + MAX_PAYLOAD;
  await transport.write(new Uint8Array(longestFrame).fill(0x20));
  // The old agent takes the spaces for damage, stops after idleMs of silence and ends as a raw-REPL
  // program does (`\x04` after its error output, then the prompt). Waiting for that end rather than
  // for a quiet link: a starved board can be silent longer than any margin (seen at load 13).
  try {
    await client.reader.readUntil('\x04>', { timeoutMs: 4 * idleMs + 10_000 });
  } catch (error) {
    if (!(error instanceof ReplTimeoutError)) throw error;
  }
  await client.enterRawRepl();
}

interface SessionContext {
  digest: Uint8Array;
  /** The start of the image compressed in advance (unless compression is off). */
  compressed: CompressedStart | undefined;
  stallMs: number;
  startedAt: number;
  agentBytes: number;
  framing: Framing;
  /** Asked the agent to run the UART at this rate. */
  switchBaud: number | undefined;
  onProgress: ((progress: TransferProgress) => void) | undefined;
  signal: AbortSignal | undefined;
}

interface Hello {
  window: number;
  maxPayload: number;
  memFree: number;
  deflate: boolean;
  partition: string;
  partitionSize: number;
  blocks: number;
  group: number;
}

type Outcome = Pick<
  TransferResult,
  'partition' | 'bytesWritten' | 'wireBytes' | 'resumedBlocks' | 'sentBlocks' | 'retransmits' | 'compression' | 'framing' | 'windowBits' | 'window' | 'eraseUnit' | 'baud'
>;

/** A frame and what it carries, for progress. */
interface QueuedFrame {
  bytes: Uint8Array;
  imageBytes: number;
}

/** Wakes whoever waits, once per notify(). */
class Wakeup {
  private waiters: Array<() => void> = [];

  wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Waits for a notify() or `ms`; false on timeout, after letting whatever arrived meanwhile be handled. */
  async waitAtMost(ms: number): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), Math.max(0, ms))));
    const woken = await Promise.race([this.wait(), timeout]);
    clearTimeout(timer);
    if (woken !== 'timeout') return true;
    await new Promise((resolve) => setTimeout(resolve, 0));
    return false;
  }

  notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

/** The agent's report lines, read from the program's output; stops at the end of its output (`\x04`). */
class AgentOutput {
  private text = '';
  private ended = false;

  constructor(
    private readonly reader: ByteReader,
    private readonly stallMs: number,
  ) {}

  /** The next report, or 'ended' once the program's output has ended (the bytes from `\x04` on are left in the reader). */
  async next(timeoutMs = this.stallMs): Promise<AgentMessage | 'ended'> {
    for (;;) {
      const newline = this.text.indexOf('\n');
      if (newline >= 0) {
        const line = this.text.slice(0, newline);
        this.text = this.text.slice(newline + 1);
        const message = parseAgentLine(line);
        if (message) return message;
        continue;
      }
      if (this.ended) return 'ended';
      const chunk =
        this.reader.bufferedLength > 0
          ? this.reader.takeBuffered()
          : await this.reader.readExactly(1, { timeoutMs, waitingFor: 'a report from the transfer agent' });
      const eot = chunk.indexOf(EOT);
      if (eot >= 0) {
        this.reader.unshift(chunk.subarray(eot));
        this.text += latin1(chunk.subarray(0, eot)) + '\n';
        this.ended = true;
      } else {
        this.text += latin1(chunk);
      }
    }
  }
}

class Session {
  private readonly output: AgentOutput;
  private readonly frames: QueuedFrame[] = [];
  private readonly wake = new Wakeup();
  private produced = false;
  private sendIndex = 0;
  private sendOffset = 0;
  /** Highest frame index sent completely, for sentBytes. */
  private sentThrough = -1;
  private sentBytes = 0;
  private sentTotal = 0;
  private wireBytes = 0;
  private reported = 0;
  private window = 0;
  private ackedBytes = 0;
  private retransmits = 0;
  private abortRequested = false;
  /** Where (in bytes sent) each copy of each frame began. */
  private readonly frameStarts: number[][] = [];
  /** Bytes sent that never reached the agent (learnt from its acknowledgements). */
  private lostBytes = 0;
  private lastReportAt = performance.now();
  /** Highest frame the agent acknowledged. */
  private ackedSeq = -1;
  /** The agent's last report that its stdin ran dry, with what the host had sent by then. */
  private starving: { consumed: number; sent: number; at: number } | undefined;
  /** The agent has reported its result or ended. */
  private agentDone = false;
  /** A frame the agent reported damaged: the sender goes back to it at the next frame boundary. */
  private rewindTo: number | undefined;
  private stopped = false;
  private failure: Error | undefined;
  private finished: { sha256Hex: string; length: number } | undefined;
  /** The UART rate both ends run at (undefined: a link without one). */
  private baud: number | undefined;
  private readonly oldBaud: number | undefined;
  /** The rate the frames went at. */
  private framesBaud: number | undefined;

  constructor(
    private readonly program: RunningProgram,
    private readonly transport: Transport,
    private readonly image: Uint8Array,
    private readonly context: SessionContext,
  ) {
    this.output = new AgentOutput(program.output, context.stallMs);
    this.wireBytes = context.agentBytes;
    this.oldBaud = transport.baudRate;
    this.baud = this.oldBaud;
    this.framesBaud = this.oldBaud;
  }

  async run(options: TransferOptions): Promise<Outcome> {
    const unsubscribe = this.transport.onClose((error) => this.fail(this.linkLost(error)));
    const onAbort = (): void => {
      this.abortRequested = true;
      this.wake.notify();
    };
    this.context.signal?.addEventListener('abort', onAbort);
    try {
      const hello = await this.handshake();
      this.window = hello.window;
      if (hello.maxPayload < MAX_PAYLOAD) throw new TransferError('protocol', `the agent takes payloads of at most ${hello.maxPayload} bytes`);
      const kept = options.resume ? await this.readCrcs(hello.blocks) : new Array<boolean>(hello.blocks).fill(false);
      if (this.context.switchBaud !== undefined) await this.switchBaud(this.context.switchBaud);
      await this.expect('ready');
      const compress = options.compress ?? 'auto';
      if (compress === 'on' && !hello.deflate) {
        this.abortAgent('compression needs the deflate module');
        await this.expect('ready').catch(() => undefined); // its '@F aborted', and the end of its output
        throw new TransferError('no-deflate', 'the board has no deflate module (MicroPython 1.21 or later has it); pass compress: "off" or "auto"');
      }
      const useDeflate = compress !== 'off' && hello.deflate;
      const windowBits = useDeflate ? (options.windowBits ?? windowBitsForMemory(hello.memFree)) : undefined;
      const resumedBlocks = kept.filter(Boolean).length;
      for (let k = 0; k < kept.length; k++) if (kept[k]) this.ackedBytes += this.blockLength(k);
      this.progress();

      const sender = this.send();
      const reader = this.read();
      const producer = this.produce(kept, windowBits);
      await Promise.all([producer, sender, reader]);
      if (this.failure) throw this.failure;
      if (!this.finished) throw new TransferError('protocol', 'the agent stopped without a result');
      await this.restoreBaud();
      if (this.finished.length !== this.image.length || this.finished.sha256Hex !== toHex(this.context.digest)) {
        throw new TransferError('sha-mismatch', `the agent confirmed ${this.finished.length} bytes with SHA-256 ${this.finished.sha256Hex}, not the image`);
      }
      await this.program.finish({ timeoutMs: this.context.stallMs });
      const sentBlocks = hello.blocks - resumedBlocks;
      let bytesWritten = 0;
      for (let k = 0; k < kept.length; k++) if (!kept[k]) bytesWritten += this.blockLength(k);
      this.progress();
      return {
        partition: hello.partition,
        bytesWritten,
        wireBytes: this.wireBytes,
        resumedBlocks,
        sentBlocks,
        retransmits: this.retransmits,
        compression: useDeflate ? 'deflate' : 'none',
        framing: this.context.framing,
        windowBits,
        window: this.window,
        eraseUnit: hello.group * FLASH_BLOCK_SIZE,
        baud: this.framesBaud,
      };
    } catch (error) {
      this.stopped = true;
      this.wake.notify();
      const explained = await this.explain(error);
      if (!this.agentDone && explained.code !== 'link-lost' && this.sendOffset === 0) {
        // The host gave up (e.g. a protocol error) while the agent still waits for frames: stop it.
        this.abortAgent(explained.message.slice(0, 200));
        await this.restoreBaud(BAUD_SETTLE_MS);
        await this.program.finish({ timeoutMs: 2000 }).catch(() => undefined);
      }
      throw explained;
    } finally {
      this.stopped = true;
      unsubscribe();
      this.context.signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * The UART rate switch (agent.py _Baud): the agent announces it at the old
   * rate and switches; the host follows and sends the probe at the new rate.
   * The agent's answer at the new rate confirms it; without one (the host's
   * serial port or bridge cannot do the rate, or the probe came through
   * garbled) both ends go back to the old rate, where the agent says so.
   */
  private async switchBaud(rate: number): Promise<void> {
    const announced = await this.expect('baud');
    if (announced.state === 'fail') return; // the agent could not time a fall back (no select): it stayed
    const old = this.baud!;
    let following = false;
    try {
      await this.transport.setBaudRate!(rate);
      following = true;
    } catch {
      // The host's port refuses the rate: stay; the agent, hearing no probe, comes back.
    }
    if (following) {
      await new Promise((resolve) => setTimeout(resolve, BAUD_SETTLE_MS));
      this.write(BAUD_PROBE);
      const answer = await this.expectWithin('baud', BAUD_ANSWER_MS);
      if (answer?.state === 'ok' && answer.rate === rate) {
        this.baud = rate;
        this.framesBaud = rate;
        return;
      }
      await this.transport.setBaudRate!(old);
    }
    const fallback = await this.expect('baud');
    if (fallback.state !== 'fail') throw new TransferError('protocol', `expected the agent to fall back to ${old} baud, got ${JSON.stringify(fallback)}`);
  }

  /** After the agent's last report at the switched rate: back to the old rate before the agent (which waits 300 ms) switches back. */
  private async restoreBaud(afterMs = 0): Promise<void> {
    if (this.baud === this.oldBaud || this.oldBaud === undefined) return;
    if (afterMs > 0) await new Promise((resolve) => setTimeout(resolve, afterMs));
    this.baud = this.oldBaud;
    await this.transport.setBaudRate!(this.oldBaud);
  }

  /** Like expect(), but undefined when no such report comes within `ms`. */
  private async expectWithin<K extends AgentMessage['kind']>(kind: K, ms: number): Promise<Extract<AgentMessage, { kind: K }> | undefined> {
    const deadline = performance.now() + ms;
    for (;;) {
      const left = deadline - performance.now();
      if (left <= 0) return undefined;
      let message: AgentMessage | 'ended';
      try {
        message = await this.output.next(left);
      } catch (error) {
        if (error instanceof ReplTimeoutError) return undefined;
        throw error;
      }
      if (message === 'ended') throw await this.programEnded();
      if (message.kind === 'failed') throw await this.agentFailed(message);
      if (message.kind === kind) return message as Extract<AgentMessage, { kind: K }>;
    }
  }

  private blockLength(k: number): number {
    return Math.min(FLASH_BLOCK_SIZE, this.image.length - k * FLASH_BLOCK_SIZE);
  }

  /** The hello line: what the agent found and can do. */
  private async handshake(): Promise<Hello> {
    const hello = await this.expect('hello');
    if (hello.version !== PROTOCOL_VERSION) {
      throw new TransferError('protocol', `the agent speaks protocol version ${hello.version}, this host ${PROTOCOL_VERSION}`);
    }
    const field = (name: string): number => {
      const value = Number(hello.fields[name]);
      if (!Number.isInteger(value)) throw new TransferError('protocol', `the agent's hello has no ${name}`);
      return value;
    };
    const result: Hello = {
      window: field('win'),
      maxPayload: field('max'),
      memFree: field('mem'),
      deflate: hello.fields['deflate'] === '1' || hello.fields['deflate'] === 'True',
      partition: hello.fields['part'] ?? '?',
      partitionSize: field('size'),
      blocks: field('blocks'),
      group: field('group'),
    };
    if ((hello.fields['framing'] ?? 'binary') !== this.context.framing) {
      throw new TransferError('protocol', `the agent takes ${hello.fields['framing'] ?? 'binary'} frames, not ${this.context.framing} as asked`);
    }
    if (result.blocks !== Math.ceil(this.image.length / FLASH_BLOCK_SIZE) || result.window < 64) {
      throw new TransferError('protocol', `the agent's hello does not fit the image: ${JSON.stringify(hello.fields)}`);
    }
    return result;
  }

  /** Which blocks the partition already holds, from the agent's CRC-32 report. */
  private async readCrcs(blocks: number): Promise<boolean[]> {
    const reported = new Array<number | undefined>(blocks).fill(undefined);
    let count = 0;
    while (count < blocks) {
      const message = await this.expect('crcs');
      message.crcs.forEach((crc, i) => {
        const k = message.first + i;
        if (k < blocks && reported[k] === undefined) count++;
        if (k < blocks) reported[k] = crc;
      });
    }
    const padded = new Uint8Array(FLASH_BLOCK_SIZE);
    return reported.map((crc, k) => {
      const block = this.image.subarray(k * FLASH_BLOCK_SIZE, (k + 1) * FLASH_BLOCK_SIZE);
      let mine: number;
      if (block.length === FLASH_BLOCK_SIZE) mine = crc32(block);
      else {
        padded.fill(0xff);
        padded.set(block);
        mine = crc32(padded);
      }
      return crc === mine;
    });
  }

  /** The next report, which must be of `kind`; failures and the end of the program become errors. */
  private async expect<K extends AgentMessage['kind']>(kind: K): Promise<Extract<AgentMessage, { kind: K }>> {
    for (;;) {
      const message = await this.output.next();
      if (message === 'ended') throw await this.programEnded();
      if (message.kind === 'failed') throw await this.agentFailed(message);
      if (message.kind === kind) return message as Extract<AgentMessage, { kind: K }>;
      if (message.kind === 'credit' || message.kind === 'starving') continue;
      throw new TransferError('protocol', `expected the agent's ${kind} report, got ${message.kind}`);
    }
  }

  /** Makes frames ahead of the link: a start frame per run of blocks to send, one data frame per block, the end frame. */
  private async produce(kept: boolean[], windowBits: number | undefined): Promise<void> {
    const add = (type: FrameTypeCode, payload: Uint8Array, imageBytes = 0): void => {
      this.frames.push({ bytes: encodeWireFrame(this.context.framing, type, this.frames.length, payload), imageBytes });
    };
    const ahead = (): number => {
      let bytes = 0;
      for (let i = this.sendIndex; i < this.frames.length && bytes < PRODUCE_AHEAD_BYTES; i++) bytes += this.frames[i]!.bytes.length;
      return bytes;
    };
    let k = 0;
    while (k < kept.length && !this.stopped) {
      if (kept[k]) {
        k++;
        continue;
      }
      let end = k;
      while (end < kept.length && !kept[end]) end++;
      add(FrameType.Start, startPayload(k, windowBits === undefined ? TransferMode.Plain : TransferMode.Deflate, windowBits ?? 0));
      this.wake.notify();
      if (windowBits === undefined) {
        for (let b = k; b < end; b++) add(FrameType.Data, this.image.subarray(b * FLASH_BLOCK_SIZE, (b + 1) * FLASH_BLOCK_SIZE), this.blockLength(b));
        this.wake.notify();
      } else {
        const { ready, deflater } = this.runPieces(k, end, windowBits);
        let b = k;
        const addPieces = (pieces: readonly Uint8Array[]): void => {
          for (const piece of pieces) {
            if (piece.length > MAX_PAYLOAD) throw new TransferError('protocol', `block ${b} compresses to ${piece.length} bytes, more than a frame holds`);
            add(FrameType.Data, piece, this.blockLength(b));
            b++;
          }
          this.wake.notify();
        };
        for (let i = 0; i < ready.length && !this.stopped; i += READY_PIECES_PER_STEP) {
          while (ahead() >= PRODUCE_AHEAD_BYTES && !this.stopped) await this.wake.wait();
          if (!this.stopped) addPieces(ready.slice(i, i + READY_PIECES_PER_STEP));
        }
        while (!deflater.done && !this.stopped) {
          // Let the sender and the reader run between segments (compressing one takes tens of ms).
          await new Promise((resolve) => setTimeout(resolve, 0));
          while (ahead() >= PRODUCE_AHEAD_BYTES && !this.stopped) await this.wake.wait();
          if (!this.stopped) addPieces(deflater.next());
        }
      }
      k = end;
    }
    add(FrameType.End, endPayload(this.image.length, this.context.digest));
    this.produced = true;
    this.wake.notify();
  }

  /**
   * The run of blocks [first, end): the pieces compressed in advance and the
   * deflater that goes on from there when the run is the whole image with the
   * window guessed in advance; else a new deflater (a resume's runs; a board
   * with too little memory for that window).
   */
  private runPieces(first: number, end: number, windowBits: number): { ready: readonly Uint8Array[]; deflater: BlockDeflater } {
    const compressed = this.context.compressed;
    if (compressed && compressed.windowBits === windowBits && first === 0 && end === compressed.deflater.blockCount) {
      return { ready: compressed.pieces, deflater: compressed.deflater };
    }
    return { ready: [], deflater: new BlockDeflater(this.image.subarray(first * FLASH_BLOCK_SIZE, Math.min(end * FLASH_BLOCK_SIZE, this.image.length)), { windowBits }) };
  }

  /** Writes frames while the window has room; goes back to a frame the agent reports damaged. */
  private async send(): Promise<void> {
    this.lastReportAt = performance.now();
    while (!this.stopped) {
      if (this.rewindTo !== undefined && this.sendOffset === 0) {
        this.sendIndex = this.rewindTo;
        this.rewindTo = undefined;
        this.retransmits++;
      }
      if (this.abortRequested && this.sendOffset === 0) {
        this.abortAgent('aborted by the host');
        return;
      }
      const frame = this.frames[this.sendIndex];
      const room = this.window - this.inFlight();
      if (!frame) {
        await this.waitAfterLastFrame();
        continue;
      }
      if (room <= 0) {
        await this.waitForCredit();
        continue;
      }
      if (this.sendOffset === 0) (this.frameStarts[this.sendIndex] ??= []).push(this.sentTotal);
      const piece = frame.bytes.subarray(this.sendOffset, this.sendOffset + room);
      this.write(piece);
      this.sentTotal += piece.length;
      this.sendOffset += piece.length;
      if (this.sendOffset === frame.bytes.length) {
        if (this.sendIndex > this.sentThrough) {
          this.sentThrough = this.sendIndex;
          this.sentBytes += frame.imageBytes;
        }
        this.sendIndex++;
        this.sendOffset = 0;
        if (this.produced && this.sendIndex === this.frames.length) this.progress();
      }
    }
  }

  /** Handles the agent's reports until its result. */
  private async read(): Promise<void> {
    try {
      while (!this.stopped) {
        const message = await this.output.next();
        if (message === 'ended') throw await this.programEnded();
        this.lastReportAt = performance.now();
        switch (message.kind) {
          case 'credit':
            this.credit(message.consumed);
            break;
          case 'starving':
            // The agent's stdin has been empty for a while: what it had not consumed was lost
            // on the way, unless it reads on (the report may have crossed bytes sent after it).
            this.credit(message.consumed);
            if (this.sentTotal - this.lostBytes > message.consumed) {
              this.starving = { consumed: message.consumed, sent: this.sentTotal, at: performance.now() };
            }
            this.wake.notify();
            break;
          case 'ack':
            this.ackedSeq = Math.max(this.ackedSeq, message.seq);
            this.noteLostBytes(message.seq, message.start);
            this.credit(message.consumed);
            this.ackedBytes += this.frames[message.seq]?.imageBytes ?? 0;
            this.progress();
            break;
          case 'nak':
            // Go back to that frame once the frame in progress is complete: a frame cut short
            // would claim bytes of the next one and could swallow the frame sent again.
            if (message.seq < this.frames.length) this.rewindTo = Math.min(this.rewindTo ?? message.seq, message.seq);
            this.credit(message.consumed);
            break;
          case 'done':
            this.agentDone = true;
            this.finished = { sha256Hex: message.sha256Hex, length: message.length };
            this.stopped = true;
            this.wake.notify();
            return;
          case 'failed':
            throw await this.agentFailed(message);
          default:
            throw new TransferError('protocol', `unexpected ${message.kind} report from the agent during the transfer`);
        }
      }
    } catch (error) {
      this.fail(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /**
   * Bytes lost on the way (a UART that dropped some) are never consumed, and
   * would shrink the window for good. The agent says where in its stdin the
   * frame it took began; the host knows where it sent each copy of it.
   */
  private noteLostBytes(seq: number, agentStart: number): void {
    let best: number | undefined;
    for (const start of this.frameStarts[seq] ?? []) if (start >= agentStart && (best === undefined || start < best)) best = start;
    if (best !== undefined && best - agentStart > this.lostBytes) this.lostBytes = best - agentStart;
  }

  /** Bytes sent and not yet consumed by the agent (nor known to be lost). */
  private inFlight(): number {
    return this.sentTotal - this.lostBytes - this.reported;
  }

  private credit(consumed: number): void {
    if (consumed > this.reported) this.reported = consumed;
    if (this.starving && consumed > this.starving.consumed) this.starving = undefined;
    this.wake.notify();
  }

  /**
   * Everything is sent. If the agent then says nothing for END_SILENCE_MS, a
   * frame it waits for lost bytes on the way (it sits in a read that will
   * never be filled): send again from the first frame it has not
   * acknowledged (what it reads then is damage it reports, or the frame).
   */
  private async waitAfterLastFrame(): Promise<void> {
    if (!this.produced) return this.wake.wait();
    if ((await this.wake.waitAtMost(END_SILENCE_MS)) || this.stopped) return;
    if (performance.now() - this.lastReportAt < END_SILENCE_MS || this.ackedSeq + 1 >= this.frames.length) return;
    this.lostBytes = this.sentTotal - this.reported;
    this.rewindTo = Math.min(this.rewindTo ?? this.ackedSeq + 1, this.ackedSeq + 1);
  }

  /**
   * Waits for the agent to report room. Bytes lost on the way (a UART ring
   * overrun) are never consumed: then the agent reports that its stdin ran
   * dry (@W), and if it reads nothing more for STARVING_GRACE_MS (the report
   * may have crossed bytes sent after it), what it had not consumed then
   * counts as lost. Or it sits in a read that waits for bytes the host counts
   * as in flight and reports nothing: after CREDIT_TIMEOUT_MS of silence,
   * all in flight counts as lost. Either way the host sends on, and the agent
   * finds the frames again or reports damage.
   */
  private async waitForCredit(): Promise<void> {
    const deadline = this.starving ? this.starving.at + STARVING_GRACE_MS : this.lastReportAt + CREDIT_TIMEOUT_MS;
    if (await this.wake.waitAtMost(deadline - performance.now())) return;
    const now = performance.now();
    if (this.starving && now - this.starving.at >= STARVING_GRACE_MS) {
      this.lostBytes = Math.max(this.lostBytes, this.starving.sent - this.starving.consumed);
      this.starving = undefined;
    } else if (now - this.lastReportAt >= CREDIT_TIMEOUT_MS) {
      this.lostBytes = this.sentTotal - this.reported;
    }
  }

  private write(bytes: Uint8Array): void {
    this.wireBytes += bytes.length;
    this.transport.write(bytes).catch((error: unknown) => this.fail(this.linkLost(error instanceof Error ? error : undefined)));
  }

  /** An abort frame (taken with any sequence number): the agent stops and reports 'aborted'. */
  private abortAgent(reason: string): void {
    // The agent answers '@F aborted' and stops; the reader loop (or the caller) receives it.
    this.write(encodeWireFrame(this.context.framing, FrameType.Abort, 0xffff, new TextEncoder().encode(reason)));
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.stopped = true;
    this.wake.notify();
  }

  private linkLost(cause: Error | undefined): TransferError {
    return new TransferError('link-lost', `the link to ${this.transport.description} closed after ${this.ackedBytes} of ${this.image.length} image bytes were written; connect again and pass resume: true`, {
      ackedBytes: this.ackedBytes,
      cause,
    });
  }

  private progress(): void {
    this.context.onProgress?.({
      sentBytes: this.sentBytes,
      wireBytes: this.wireBytes,
      imageBytes: this.image.length,
      ackedBytes: this.ackedBytes,
      elapsedMs: performance.now() - this.context.startedAt,
    });
  }

  /** The agent reported a failure and has stopped: collect the end of its output so the REPL is usable again. */
  private async agentFailed(message: Extract<AgentMessage, { kind: 'failed' }>): Promise<TransferError> {
    this.agentDone = true;
    this.stopped = true;
    this.wake.notify();
    try {
      await this.restoreBaud();
      await this.program.finish({ timeoutMs: this.context.stallMs });
    } catch {
      // The report says enough.
    }
    const code = AGENT_FAILURES[message.code] ?? 'protocol';
    return new TransferError(code, `the board refused the transfer: ${message.message || message.code}`, {
      ackedBytes: this.ackedBytes,
      agentReport: `${message.code} ${message.message}`,
    });
  }

  /** The agent's program ended without a report: it raised (a traceback) or was stopped. */
  private async programEnded(): Promise<TransferError> {
    this.agentDone = true;
    this.stopped = true;
    try {
      await this.program.finish({ timeoutMs: this.context.stallMs });
    } catch (error) {
      if (error instanceof DeviceError) {
        const code = /MemoryError/.test(error.traceback) ? 'out-of-memory' : 'protocol';
        return new TransferError(code, `the transfer agent failed on the board: ${error.message}`, { ackedBytes: this.ackedBytes, cause: error });
      }
    }
    return new TransferError('protocol', 'the transfer agent ended without reporting a result', { ackedBytes: this.ackedBytes });
  }

  private async explain(error: unknown): Promise<TransferError> {
    if (this.failure && error !== this.failure && !(error instanceof TransferError)) error = this.failure;
    if (error instanceof TransferError) return error;
    if (error instanceof TransportClosedError || this.transport.closed) return this.linkLost(error instanceof Error ? error : undefined);
    if (error instanceof ReplTimeoutError) {
      return new TransferError('timeout', `the board sent nothing for ${error.timeoutMs} ms (${this.ackedBytes} of ${this.image.length} image bytes written)`, {
        ackedBytes: this.ackedBytes,
        cause: error,
      });
    }
    return new TransferError('protocol', error instanceof Error ? error.message : String(error), { ackedBytes: this.ackedBytes, cause: error });
  }
}

function latin1(bytes: Uint8Array): string {
  let text = '';
  for (let i = 0; i < bytes.length; i += 8192) text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return text;
}
