/**
 * Runs in the interpreter's worker: registers `_esp32_hw`, the hardware
 * calls behind the board's Python modules (esp32, machine, flashbdev in
 * ./python/), and installs those modules. Buffers cross from Python by
 * address (uctypes.addressof) and are copied with the interpreter's heap.
 */
import type { MicroPython } from '@micropython/micropython-webassembly-pyscript';
import type { InterpreterRuntime, RegisterDeviceModules } from '../micropython/device-modules.js';
import { FlashBusyClock, NorFlash, PowerCutError, type SharedFlash } from '../nor-flash.js';
import type { Partition, PartitionTable } from '../../format/partition-table.js';
import { EspErr, EspIdfApi } from './esp-idf-api.js';
import { ConsoleBaud } from '../board-console.js';
import { BOARD_SOURCE_NAME } from '../micropython/board-frames.js';
import { networkModule } from './network-module.js';
import { libraryModule } from './library-module.js';
import { LittleFs, LittleFsError } from '../../format/littlefs/index.js';
import { FilesystemCalls } from './filesystem-calls.js';
import { filesystemPartition, isBlank, mountFlashFilesystem, partitionBlockDevice } from './flash-filesystem.js';

export interface BoardPythonModule {
  readonly name: string;
  readonly source: string;
  /** Installed only on a board with a network (socket, ssl, requests...). */
  readonly needsNetwork?: boolean;
  /** Another name it answers to, as a board's C modules answer `import usocket` and `urequests` is frozen. */
  readonly alias?: string;
}

/** Everything the worker needs to know about the board; structured-cloned into the worker. */
export interface BoardInit {
  readonly flash: SharedFlash;
  readonly table: PartitionTable;
  readonly chipId: number;
  readonly rollbackEnabled: boolean;
  /** Flash offset of the partition the bootloader booted. */
  readonly runningOffset: number;
  /** machine.reset_cause() value of this boot. */
  readonly resetCause: number;
  readonly uniqueIdHex: string;
  /** Python sources of the board's built-in modules, installed in this order. */
  readonly pythonModules: readonly BoardPythonModule[];
  /** The board has a network (the main thread answers `_esp32_net`'s host calls). */
  readonly network: boolean;
  /** The REPL UART's bit rate (board-console.ts ConsoleBaud): machine.UART(0, baudrate=…) sets it. */
  readonly consoleBaud: SharedArrayBuffer;
  /** Board-faithful mode: flash operations block the interpreter for their datasheet time times this factor. */
  readonly flashTimeScale?: number;
  /** Board-faithful mode: the board is no more forgiving than a real one (the agent announces a board's window). */
  readonly strict?: boolean;
}

export const register: RegisterDeviceModules = (mp, init, runtime) => {
  const board = init as BoardInit;
  const flash = new NorFlash(board.flash, board.flashTimeScale ? new FlashBusyClock(board.flashTimeScale) : undefined);
  const running = board.table.partitions.find((p) => p.offset === board.runningOffset);
  if (!running) throw new Error(`no partition at the running offset 0x${board.runningOffset.toString(16)}`);
  const api = new EspIdfApi({ flash, table: board.table, chipId: board.chipId, rollbackEnabled: board.rollbackEnabled, running });
  const heapBytes = (pointer: number, length: number) => runtime.heap().subarray(pointer, pointer + length);
  const partition = filesystemPartition(board.table);
  const root = partition ? mountRoot(flash, partition) : undefined;
  const files = root && root !== 'corrupt' ? new FilesystemCalls(root.fs, heapBytes) : undefined;
  const boardFiles = files && { calls: files, remount: () => files.remount(mountFlashFilesystem(flash, partition!)) };
  mp.registerJsModule('_esp32_hw', hardwareModule(api, board, runtime, heapBytes, boardFiles));
  mp.registerJsModule('_esp32_lib', libraryModule(runtime, flash));
  if (board.network) mp.registerJsModule('_esp32_net', networkModule(runtime));
  installPythonModules(mp, board.pythonModules.filter((module) => board.network || !module.needsNetwork));
  if (root === 'corrupt') mp.runPython(`print(${JSON.stringify(FS_CORRUPTED)})`);
  else if (root) mp.runPython(mountPython(root.formatted));
};

/** What ports/esp32/modules/inisetup.py prints when the vfs partition holds something that does not mount (a board repeats it every 3 s). */
const FS_CORRUPTED =
  'The filesystem appears to be corrupted. If you had important data there, you\n' +
  'may want to make a flash snapshot to try to recover it. Otherwise, perform\n' +
  'factory reprogramming of MicroPython firmware (completely erase flash, followed\n' +
  'by firmware programming).\n';

/** The boot.py that inisetup.py writes on a freshly formatted filesystem. */
const INITIAL_BOOT_PY =
  '# This file is executed on every boot (including wake-boot from deepsleep)\n#import esp\n#esp.osdebug(None)\n#import webrepl\n#webrepl.start()\n';

/**
 * _boot.py of the ESP32 port: mount the vfs partition's littlefs; when that
 * fails on an erased partition, inisetup.py formats it (and later writes boot.py).
 */
function mountRoot(flash: NorFlash, partition: Partition): { fs: LittleFs; formatted: boolean } | 'corrupt' {
  try {
    return { fs: mountFlashFilesystem(flash, partition), formatted: false };
  } catch (error) {
    if (!(error instanceof LittleFsError)) throw error;
    if (!isBlank(flash, partition)) return 'corrupt';
    LittleFs.format(partitionBlockDevice(flash, partition));
    return { fs: mountFlashFilesystem(flash, partition), formatted: true };
  }
}

/** Replaces the engine's VfsPosix at / with the littlefs of the flash; after a format, inisetup.py's message and boot.py. */
function mountPython(formatted: boolean): string {
  const lines = ['import vfs, os, _flashfs', "vfs.umount('/')", "vfs.mount(_flashfs.FlashFs(), '/')", "os.chdir('/')"];
  if (formatted) {
    lines.push('print("Performing initial setup")', `with open("boot.py", "w") as f:`, `    f.write(${JSON.stringify(INITIAL_BOOT_PY)})`);
  }
  lines.push('del vfs, os, _flashfs');
  return lines.join('\n');
}

interface BoardFiles {
  readonly calls: FilesystemCalls;
  /** Mount again after the host changed the partition. */
  remount(): void;
}

function hardwareModule(
  api: EspIdfApi,
  board: BoardInit,
  runtime: InterpreterRuntime,
  heapBytes: (pointer: number, length: number) => Uint8Array,
  files: BoardFiles | undefined,
) {
  const consoleBaud = new ConsoleBaud(board.consoleBaud);
  /** A power cut stops the chip dead: end the program; the device sees the flash powered off. */
  const guarded = <A extends unknown[], R>(call: (...args: A) => R) => (...args: A): R => {
    try {
      return call(...args);
    } catch (error) {
      if (error instanceof PowerCutError) runtime.reset('hard');
      throw error;
    }
  };
  const partitionAt = (address: number) => api.partitionAt(address);
  const filesystem = Object.fromEntries(Object.entries(files?.calls.calls() ?? {}).map(([name, call]) => [name, guarded(call as (...args: unknown[]) => unknown)]));
  return {
    ...filesystem,
    partitions: () =>
      JSON.stringify(api.table.partitions.map((p) => [p.type, p.subtype, p.offset, p.size, p.label, p.encrypted])),
    read: guarded((address: number, offset: number, pointer: number, length: number) => {
      const partition = partitionAt(address);
      return partition ? api.read(partition, offset, heapBytes(pointer, length)) : EspErr.INVALID_ARG;
    }),
    write: guarded((address: number, offset: number, pointer: number, length: number) => {
      const partition = partitionAt(address);
      return partition ? api.write(partition, offset, heapBytes(pointer, length).slice()) : EspErr.INVALID_ARG;
    }),
    erase: guarded((address: number, offset: number, length: number) => {
      const partition = partitionAt(address);
      return partition ? api.erase(partition, offset, length) : EspErr.INVALID_ARG;
    }),
    boot_partition: () => api.bootPartition()?.offset ?? -1,
    running_partition: () => api.running.offset,
    next_update_partition: (address: number) => {
      const start = partitionAt(address);
      return (start && api.nextUpdatePartition(start)?.offset) ?? -1;
    },
    set_boot: guarded((address: number) => {
      const partition = partitionAt(address);
      return partition ? api.setBootPartition(partition) : EspErr.INVALID_ARG;
    }),
    mark_app_valid_cancel_rollback: guarded(() => api.markAppValidCancelRollback()),
    reset: (kind: string) => runtime.reset(kind === 'soft' ? 'soft' : 'hard'),
    /** Mounts `/` again from the vfs partition (after the host changed files there). */
    fs_reload: guarded(() => {
      files?.remount();
      return 0;
    }),
    reset_cause: () => board.resetCause,
    /** 1 in board-faithful mode: no more stdin than a board's ring (the transfer agent asks). */
    strict: () => (board.strict ? 1 : 0),
    /** The REPL UART's rate: read (0) or set (ports/esp32 machine_uart.c, uart_set_baudrate). */
    uart_repl_baud: (baud: number) => {
      if (baud > 0) consoleBaud.rate = baud;
      return consoleBaud.rate;
    },
    unique_id_hex: () => board.uniqueIdHex,
    /** select.poll on stdin alone: waits as the board's main task does (main-task.ts); 1 when stdin has bytes. */
    stdin_poll: (timeoutMs: number) => (runtime.waitForStdin(timeoutMs) ? 1 : 0),
    /** machine.Timer: a hardware alarm that schedules `fire` (ports/esp32/machine_timer.c). */
    timer_start: (id: number, periodMs: number, periodic: number, fire: () => unknown) =>
      runtime.timers.set(id, periodMs, periodic !== 0, () => void fire()),
    timer_stop: (id: number) => runtime.timers.clear(id),
    timer_value: (id: number) => runtime.timers.value(id),
  };
}

/**
 * MicroPython cannot create module objects from Python, and the board's
 * modules must not appear in the user's filesystem, so each source runs in
 * its own namespace, published in sys.modules as a module-like object.
 */
function installPythonModules(mp: MicroPython, modules: BoardInit['pythonModules']): void {
  const lines = [
    'import sys',
    'class _BuiltinModule:',
    '    def __init__(self, name, namespace):',
    '        self.__name__ = name',
    '        for key, value in namespace.items():',
    '            setattr(self, key, value)',
    '    def __repr__(self):',
    '        return "<module \'%s\'>" % self.__name__',
  ];
  for (const { name, source, alias } of modules) {
    lines.push(`_namespace = {'__name__': ${JSON.stringify(name)}}`);
    lines.push(`exec(compile(${JSON.stringify(source)}, ${JSON.stringify(BOARD_SOURCE_NAME)}, 'exec'), _namespace)`);
    lines.push(`sys.modules[${JSON.stringify(name)}] = _BuiltinModule(${JSON.stringify(name)}, _namespace)`);
    if (alias) lines.push(`sys.modules[${JSON.stringify(alias)}] = sys.modules[${JSON.stringify(name)}]`);
    const dot = name.lastIndexOf('.');
    if (dot > 0) {
      // A module of a package (umqtt.simple): the package is a module too, with the module as its attribute.
      const parent = JSON.stringify(name.slice(0, dot));
      lines.push(`if ${parent} not in sys.modules: sys.modules[${parent}] = _BuiltinModule(${parent}, {})`);
      lines.push(`setattr(sys.modules[${parent}], ${JSON.stringify(name.slice(dot + 1))}, sys.modules[${JSON.stringify(name)}])`);
    }
  }
  lines.push('del _namespace, _BuiltinModule, sys');
  mp.runPython(lines.join('\n'));
}
