/**
 * A virtual ESP32 running MicroPython: the NOR flash model, the ESP-IDF
 * bootloader model, the real MicroPython interpreter (WebAssembly, in a
 * worker thread) with the ESP32 port's modules, and the board's UART REPL.
 * Hosts talk to it through `connect()`, a Transport like any other, so the
 * same OTA code drives it and a real board.
 */
import { bannerLine, findMicroPythonIdentity } from '../format/micropython-identity.js';
import { chipByName, type Chip } from '../format/chips.js';
import { toHex } from '../format/bytes.js';
import { sha256 } from '../format/hash.js';
import { createLinkedTransports } from '../transport/in-memory.js';
import type { ThrottleOptions } from '../transport/throttled.js';
import { TransportClosedError, TransportEvents, type Transport } from '../transport/transport.js';
import { ConsoleBaud, ConsoleWireClock, DEFAULT_UART_BAUD, consoleStdin, consoleWire, heardAt, type StrictBoardOptions } from './board-console.js';
import { wallClockMs } from './micropython/timed-wire.js';
import type { BoardInit } from './board/esp32-hardware.js';
import { LittleFs, LittleFsError } from '../format/littlefs/index.js';
import { convertSnapshotFilesystem, filesystemPartition, isBlank, mountFlashFilesystem, partitionBlockDevice } from './board/flash-filesystem.js';
import { FormatError } from '../format/errors.js';
import { PARTITION_TABLE_MAX_LENGTH, PARTITION_TABLE_OFFSET, parsePartitionTable, type PartitionTable } from '../format/partition-table.js';
import { NoBootableAppError, runBootloader, type BootedApp, type ResetReason } from './bootloader.js';
import type { SpawnInterpreterThread } from './micropython/interpreter-thread.js';
import { MicroPythonWorker } from './micropython/micropython-worker.js';
import type { DeviceIdentity } from './micropython/identity.js';
import { NorFlash, PowerCutError, type SharedFlash } from './nor-flash.js';
import { ReplMachine, type HardResetReason, type StartupScriptName } from './repl/index.js';
import { WorkerExecutor } from './worker-executor.js';
import type { BoardNetwork, NetRequest } from './board/network-protocol.js';

export type BoardState = 'off' | 'booting' | 'running' | 'halted';

export interface VirtualEsp32Options {
  readonly flash: SharedFlash;
  readonly chip?: string;
  /** CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE (default true, as MicroPython's builds). */
  readonly rollbackEnabled?: boolean;
  /** Sources of the board's Python modules (esp32, machine, flashbdev). */
  readonly pythonModules: BoardInit['pythonModules'];
  /** Makes boots faster in tests and the simulator: the native hash for image verification. */
  readonly sha256?: (data: Uint8Array) => Uint8Array;
  readonly heapSize?: number;
  /**
   * The board's network (Wi-Fi, sockets, TLS), answered on the main thread:
   * HostNetwork (src/node/host-network.ts) in Node. Without it the board has
   * no network modules.
   */
  readonly network?: BoardNetwork;
  /** Where the interpreter runs (default: a Node worker thread; a page passes a Web Worker). */
  readonly spawnInterpreter?: SpawnInterpreterThread;
  /**
   * Board-faithful mode: the console's wire rate and stdin ring (bytes lost
   * or held back as on a board), flash operations that block the interpreter
   * for their datasheet time. Default: a forgiving board (64 KiB of stdin,
   * nothing lost, flash time only accounted).
   */
  readonly strict?: StrictBoardOptions;
  /**
   * What machine.unique_id() returns (the eFuse MAC), as 12 hex digits.
   * Default: the same for every board of one flash size; a fleet gives each board its own.
   */
  readonly uniqueId?: string;
}

/** Not a literal in new URL(…): a page's bundler would copy the file; a page hands the worker its own bundled copy. */
const MODULES_FILE = './board/esp32-hardware.js';
const FILESYSTEM_ROOT = '/flash';
const RESET_CAUSE: Record<ResetReason, number> = { POWERON_RESET: 1, SW_CPU_RESET: 5, RTCWDT_RTC_RESET: 3 };
const encoder = new TextEncoder();

export class VirtualEsp32 {
  readonly flash: NorFlash;
  readonly chip: Chip;
  private readonly rollbackEnabled: boolean;
  private worker: MicroPythonWorker | undefined;
  private readonly executor: WorkerExecutor;
  private readonly repl: ReplMachine;
  private readonly consoleBaud = new ConsoleBaud();
  private readonly consoleWires: ConsoleWireClock[] = [];
  private readonly outputListeners = new Set<(bytes: Uint8Array) => void>();
  private readonly bootListeners = new Set<(booted: BootedApp | undefined) => void>();
  private pendingInput: Uint8Array[] = [];
  private currentState: BoardState = 'off';
  private lastBoot: BootedApp | undefined;
  private currentIdentity: DeviceIdentity | undefined;
  private bootCount = 0;
  /** Serialises power-on and resets. */
  private transition: Promise<void> = Promise.resolve();

  constructor(private readonly options: VirtualEsp32Options) {
    this.flash = new NorFlash(options.flash);
    const chip = chipByName(options.chip ?? 'esp32');
    if (!chip) throw new RangeError(`unknown chip '${options.chip}'`);
    this.chip = chip;
    this.rollbackEnabled = options.rollbackEnabled ?? true;
    if (options.uniqueId !== undefined && !/^[0-9a-f]{12}$/.test(options.uniqueId)) {
      throw new RangeError(`uniqueId must be 12 lower-case hex digits (6 bytes), not '${options.uniqueId}'`);
    }
    this.executor = new WorkerExecutor(() => {
      if (!this.worker) throw new Error('the board is not running');
      return this.worker;
    });
    this.repl = new ReplMachine({
      executor: this.executor,
      write: (bytes) => this.emit(bytes),
      banner: () => (this.currentIdentity ? bannerLine({ ...this.currentIdentity, buildDate: this.currentIdentity.buildDate ?? '' }) : 'MicroPython'),
      readStartupScript: (name) => this.readStartupScript(name),
      onHardReset: (reason) => this.onHardReset(reason),
    });
  }

  get state(): BoardState {
    return this.currentState;
  }

  /** What the bootloader booted last, undefined before the first boot or when nothing was bootable. */
  get booted(): BootedApp | undefined {
    return this.lastBoot;
  }

  /** The MicroPython version and board the running firmware reports. */
  get identity(): DeviceIdentity | undefined {
    return this.currentIdentity;
  }

  /** How many times the bootloader has run since this object was made. */
  get boots(): number {
    return this.bootCount;
  }

  /** Power on (or power-cycle): the ROM and bootloader run, then MicroPython starts. */
  powerOn(): Promise<void> {
    this.flash.restorePower();
    return this.reset('POWERON_RESET');
  }

  /** The EN pin / RTS pulse: a hard reset through the bootloader. */
  reset(reason: ResetReason = 'POWERON_RESET'): Promise<void> {
    // A failed boot must not block later ones: each reset starts from whatever the last one left.
    this.transition = this.transition.catch(() => undefined).then(() => this.boot(reason));
    return this.transition;
  }

  /** Bytes from the host into the board's UART. */
  receive(bytes: Uint8Array): void {
    if (this.currentState === 'running') this.repl.receive(bytes);
    else if (this.currentState === 'booting') this.pendingInput.push(bytes.slice());
  }

  onOutput(listener: (bytes: Uint8Array) => void): () => void {
    this.outputListeners.add(listener);
    return () => this.outputListeners.delete(listener);
  }

  /** Called after every boot with what booted (undefined: nothing bootable). */
  onBoot(listener: (booted: BootedApp | undefined) => void): () => void {
    this.bootListeners.add(listener);
    return () => this.bootListeners.delete(listener);
  }

  /**
   * A host connection to the board's console, as a Transport. Several may be
   * open; all see the output. In board-faithful mode it runs at the console's
   * rate, unless `network` (WebREPL, which does not pass the console's wire).
   */
  connect(description = 'virtual ESP32', { network = false } = {}): Transport {
    const [host, device] = createLinkedTransports(description);
    const unsubscribe = this.onOutput((bytes) => {
      if (!device.closed) void device.write(bytes);
    });
    device.onData((bytes) => this.receive(bytes));
    device.onClose(unsubscribe);
    const strict = this.options.strict;
    return strict && !network ? this.strictConsole(host, consoleWire(strict), strict.console === 'uart') : host;
  }

  /**
   * The console link of a board-faithful board: output at the link's rate;
   * input stamped with the time it reaches the board, then put straight on
   * the interpreter's timed wire while a command runs (so that this thread
   * being busy never holds bytes back and floods the ring later), else given
   * to the REPL at that time. On a UART each end has its own bit rate (the
   * host's setBaudRate, the board's machine.UART(0, baudrate=…)): bytes sent
   * at one rate and heard at another arrive as garbage.
   */
  private strictConsole(host: Transport, wire: ThrottleOptions, uart: boolean): Transport {
    const events = new TransportEvents();
    const input = new ConsoleWireClock(wire);
    const output = new ConsoleWireClock(wire);
    const boardBaud = this.consoleBaud;
    let hostBaud = wire.bitsPerSecond;
    const rate = (): number => (uart ? boardBaud.rate : wire.bitsPerSecond);
    const toRepl: { bytes: Uint8Array; arrivesAt: number }[] = [];
    const toHost: { bytes: Uint8Array; arrivesAt: number }[] = [];
    let replTimer: ReturnType<typeof setTimeout> | undefined;
    let hostTimer: ReturnType<typeof setTimeout> | undefined;
    let hostClosed: { error: Error | undefined } | undefined;
    const deliverToRepl = (): void => {
      replTimer = undefined;
      while (toRepl[0] && toRepl[0].arrivesAt <= wallClockMs()) this.receive(toRepl.shift()!.bytes);
      if (toRepl[0]) replTimer = setTimeout(deliverToRepl, toRepl[0].arrivesAt - wallClockMs());
    };
    const deliverToHost = (): void => {
      hostTimer = undefined;
      while (toHost[0] && toHost[0].arrivesAt <= wallClockMs()) events.emitData(toHost.shift()!.bytes);
      if (toHost[0]) hostTimer = setTimeout(deliverToHost, toHost[0].arrivesAt - wallClockMs());
      else if (hostClosed) events.emitClose(hostClosed.error);
    };
    host.onData((chunk) => {
      const sent = rate();
      for (const run of output.stamp(chunk.slice(), wallClockMs(), sent)) toHost.push({ bytes: heardAt(run.bytes, sent, hostBaud), arrivesAt: run.arrivesAt });
      if (hostTimer === undefined) deliverToHost();
    });
    host.onClose((error) => {
      // Bytes already on the wire still arrive, then the close.
      hostClosed = { error };
      if (hostTimer === undefined) deliverToHost();
    });
    const description = uart ? `${host.description} (UART)` : `${host.description} (USB)`;
    const transport: Transport = {
      description,
      get closed() {
        return events.closed || hostClosed !== undefined;
      },
      write: async (data) => {
        if (transport.closed) throw new TransportClosedError(description);
        const runs = input.stamp(data.slice(), wallClockMs(), hostBaud).map((run) => ({ bytes: heardAt(run.bytes, hostBaud, rate()), arrivesAt: run.arrivesAt }));
        for (const run of runs) {
          if (toRepl.length === 0 && this.worker && this.currentState === 'running' && this.repl.running) this.worker.feedInput(run.bytes, run.arrivesAt);
          else toRepl.push(run);
        }
        if (toRepl.length > 0 && replTimer === undefined) deliverToRepl();
        const last = runs.at(-1)?.arrivesAt ?? 0;
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, last - wallClockMs())));
      },
      onData: (listener) => events.onData(listener),
      onClose: (listener) => events.onClose(listener),
      close: async () => {
        clearTimeout(replTimer);
        clearTimeout(hostTimer);
        events.emitClose();
        await host.close();
      },
    };
    if (uart) {
      Object.defineProperty(transport, 'baudRate', { get: () => hostBaud, enumerable: true });
      transport.setBaudRate = async (baud: number) => {
        consoleWire({ console: 'uart', baud }); // checks the range
        hostBaud = baud;
      };
    }
    this.consoleWires.push(input);
    return transport;
  }

  /** Milliseconds the host→board console wires have carried bytes (board-faithful mode), at the rates they were sent. */
  get consoleWireMs(): number {
    return this.consoleWires.reduce((sum, clock) => sum + clock.busyMs, 0);
  }

  /** Console input lost because the board's stdin ring was full (board-faithful mode). */
  get droppedInput(): number {
    return this.worker?.droppedInput ?? 0;
  }

  /** Waits until the REPL has handled everything it received (for tests and clean shutdown). */
  async idle(): Promise<void> {
    await this.transition;
    if (this.currentState === 'running') await this.repl.idle();
  }

  /**
   * A file on the board's `/`, as the littlefs in the vfs partition holds it:
   * what programs have written and closed (or flushed), as on a board.
   */
  readFile(path: string): Uint8Array | undefined {
    try {
      return this.filesystem()?.readFile(normalisePath(path));
    } catch (error) {
      if (error instanceof LittleFsError) return undefined;
      throw error;
    }
  }

  /**
   * Writes a file (and its directories) into the vfs partition; the
   * interpreter sees it from its next command on. Before the first boot an
   * erased vfs partition is formatted first (as inisetup.py would at boot),
   * so a board can be given its files before it is powered on.
   */
  writeFile(path: string, data: Uint8Array): void {
    const fs = this.filesystem({ formatBlank: true });
    if (!fs) throw new Error('the board has no littlefs filesystem in a vfs partition');
    const parts = normalisePath(path).split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      const directory = '/' + parts.slice(0, i).join('/');
      if (!exists(fs, directory)) fs.mkdir(directory);
    }
    fs.writeFile('/' + parts.join('/'), data.slice(), { mtimeNs: BigInt(Date.now()) * 1_000_000n });
    this.executor.markFilesChanged();
  }

  /** The board's network, as given in the options. */
  get network(): BoardNetwork | undefined {
    return this.options.network;
  }

  /** Stops the interpreter; the flash keeps its contents. */
  async stop(): Promise<void> {
    await this.transition.catch(() => undefined);
    this.repl.stop();
    this.currentState = 'off';
    this.options.network?.reset(() => undefined);
    await this.worker?.terminate();
    this.worker = undefined;
  }

  private async boot(reason: ResetReason): Promise<void> {
    this.repl.stop();
    this.currentState = 'booting';
    // The ROM, the bootloader and uart_stdout_init (once per boot, not per soft reset) set the REPL UART's rate.
    this.consoleBaud.rate = this.options.strict?.baud ?? DEFAULT_UART_BAUD;
    this.bootCount++;
    let booted: BootedApp;
    try {
      booted = runBootloader(this.flash, {
        chip: this.chip,
        rollbackEnabled: this.rollbackEnabled,
        resetReason: reason,
        ...(this.options.sha256 ? { sha256: this.options.sha256 } : {}),
      });
    } catch (error) {
      if (error instanceof PowerCutError) {
        this.currentState = 'off';
        return;
      }
      if (!(error instanceof NoBootableAppError)) throw error;
      this.emit(encoder.encode(error.log));
      this.halt();
      return;
    }
    this.emit(encoder.encode(booted.log));
    this.lastBoot = booted;
    const vfs = filesystemPartition(booted.table);
    if (vfs) convertSnapshotFilesystem(this.flash, vfs);
    this.currentIdentity = identityOf(booted, this.flash);
    const init: BoardInit = {
      flash: this.flash.shared,
      table: booted.table,
      chipId: this.chip.id,
      rollbackEnabled: this.rollbackEnabled,
      runningOffset: booted.partition.offset,
      resetCause: RESET_CAUSE[reason],
      uniqueIdHex: this.options.uniqueId ?? toHex(sha256(encoder.encode(`esp32-ota virtual board ${this.flash.size}`)).subarray(0, 6)),
      pythonModules: this.options.pythonModules,
      network: this.options.network !== undefined,
      consoleBaud: this.consoleBaud.cell.buffer as SharedArrayBuffer,
      ...(this.options.strict && { strict: true, flashTimeScale: this.options.strict.flashTimeScale ?? 1 }),
    };
    // A reset drops every connection, as on a chip.
    this.options.network?.reset(() => this.worker?.wake());
    const stdinModel = this.options.strict && consoleStdin(this.options.strict.console, this.currentIdentity.version);
    if (!this.worker) {
      this.worker = await MicroPythonWorker.start({
        identity: this.currentIdentity,
        modulesUrl: new URL(MODULES_FILE, import.meta.url),
        modulesInit: init,
        filesystemRoot: FILESYSTEM_ROOT,
        ...(this.options.heapSize ? { heapSize: this.options.heapSize } : {}),
        ...(this.options.network && { hostCalls: this.networkCall(this.options.network) }),
        ...(this.options.spawnInterpreter ? { spawnThread: this.options.spawnInterpreter } : {}),
        ...(stdinModel && { stdinModel }),
        onOutput: (bytes) => this.emit(bytes),
      });
    } else {
      this.worker.setStdinModel(stdinModel || undefined);
      await this.worker.restart({ identity: this.currentIdentity, modulesInit: init });
    }
    this.currentState = 'running';
    for (const listener of [...this.bootListeners]) listener(booted);
    this.repl.start();
    const pending = this.pendingInput;
    this.pendingInput = [];
    for (const bytes of pending) this.repl.receive(bytes);
  }

  private networkCall(network: BoardNetwork) {
    return (request: unknown) => network.handle(request as NetRequest);
  }

  private halt(): void {
    this.lastBoot = undefined;
    this.currentState = 'halted';
    for (const listener of [...this.bootListeners]) listener(undefined);
  }

  private onHardReset(reason: HardResetReason): void {
    if (this.flash.poweredOff) {
      // The program died because the power was cut (fault injection): the chip stays off.
      this.repl.stop();
      this.currentState = 'off';
      return;
    }
    void this.reset(reason === 'software' ? 'SW_CPU_RESET' : 'RTCWDT_RTC_RESET');
  }

  private readStartupScript(name: StartupScriptName): string | undefined {
    const data = this.readFile(name);
    return data ? new TextDecoder().decode(data) : undefined;
  }

  /**
   * The board's littlefs, mounted on the main thread (the worker is idle), or
   * undefined when there is none. Before the first boot the partition table
   * is read from the flash.
   */
  private filesystem({ formatBlank = false } = {}): LittleFs | undefined {
    const table = this.lastBoot?.table ?? tableInFlash(this.flash);
    const partition = table ? filesystemPartition(table) : undefined;
    if (!partition) return undefined;
    try {
      return mountFlashFilesystem(this.flash, partition);
    } catch (error) {
      if (!(error instanceof LittleFsError)) throw error;
      if (!formatBlank || this.lastBoot || !isBlank(this.flash, partition)) return undefined;
      LittleFs.format(partitionBlockDevice(this.flash, partition));
      return mountFlashFilesystem(this.flash, partition);
    }
  }

  private emit(bytes: Uint8Array): void {
    for (const listener of [...this.outputListeners]) listener(bytes);
  }
}

/** The firmware's MicroPython identity; for a non-MicroPython app image, what its description says. */
function identityOf(booted: BootedApp, flash: NorFlash): DeviceIdentity {
  const image = flash.read(booted.partition.offset, booted.image.length);
  const found = findMicroPythonIdentity(image);
  if (found) return { version: found.version, machine: found.machine ?? 'ESP32 module with ESP32', buildDate: found.buildDate };
  const version = booted.image.description?.version || 'v0.0.0';
  return { version: /^v?\d+\.\d+\.\d+/.test(version) ? version : 'v0.0.0', machine: 'ESP32 module with ESP32' };
}

function tableInFlash(flash: NorFlash): PartitionTable | undefined {
  try {
    return parsePartitionTable(flash.read(PARTITION_TABLE_OFFSET, PARTITION_TABLE_MAX_LENGTH));
  } catch (error) {
    if (error instanceof FormatError) return undefined;
    throw error;
  }
}

function exists(fs: LittleFs, path: string): boolean {
  try {
    fs.stat(path);
    return true;
  } catch (error) {
    if (error instanceof LittleFsError) return false;
    throw error;
  }
}

function normalisePath(path: string): string {
  return path.split('/').filter((part) => part !== '' && part !== '.').join('/');
}
