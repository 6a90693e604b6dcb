/**
 * Runs in the interpreter's worker: registers `_esp32_hw`, the hardware
 * calls behind the board's Python modules (esp32, machine, flashbdev in
 * ./python/), and installs those modules. Buffers cross from Python by
 * address (uctypes.addressof) and are copied with the interpreter's heap.
 */
import type { MicroPython } from '@micropython/micropython-webassembly-pyscript';
import type { InterpreterRuntime, RegisterDeviceModules } from '../micropython/device-modules.js';
import { FlashBusyClock, NorFlash, PowerCutError, type SharedFlash } from '../nor-flash.js';
import type { PartitionTable } from '../../format/partition-table.js';
import { EspErr, EspIdfApi } from './esp-idf-api.js';
import { networkModule } from './network-module.js';
import { libraryModule } from './library-module.js';
import { boardFilesystem, type FilesystemStore, type FileTree } from './filesystem-image.js';

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
  /** Directory of the interpreter's file system that Python sees as `/`. */
  readonly filesystemRoot: string;
  /** The board has a network (the main thread answers `_esp32_net`'s host calls). */
  readonly network: boolean;
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
  const files = new BoardFiles(mp.FS as unknown as EmscriptenFs, board.filesystemRoot, boardFilesystem(flash, board.table));
  files.load();
  mp.registerJsModule('_esp32_hw', hardwareModule(api, board, runtime, files));
  mp.registerJsModule('_esp32_lib', libraryModule(runtime, flash));
  if (board.network) mp.registerJsModule('_esp32_net', networkModule(runtime));
  installPythonModules(mp, board.pythonModules.filter((module) => board.network || !module.needsNetwork));
};

function hardwareModule(api: EspIdfApi, board: BoardInit, runtime: InterpreterRuntime, files: BoardFiles) {
  /** A power cut stops the chip dead: end the program; the device sees the flash powered off. */
  const guarded = <A extends unknown[]>(call: (...args: A) => number) => (...args: A): number => {
    try {
      return call(...args);
    } catch (error) {
      if (error instanceof PowerCutError) runtime.reset('hard');
      throw error;
    }
  };
  const partitionAt = (address: number) => api.partitionAt(address);
  const heapBytes = (pointer: number, length: number) => runtime.heap().subarray(pointer, pointer + length);
  return {
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
    reset: (kind: string) => {
      files.save();
      return runtime.reset(kind === 'soft' ? 'soft' : 'hard');
    },
    /** Saves `/` to the vfs partition if it changed; 1 when it wrote. */
    fs_sync: guarded(() => (files.save() ? 1 : 0)),
    /** Reloads `/` from the vfs partition (after the host changed files there). */
    fs_reload: () => {
      files.load();
      return 0;
    },
    reset_cause: () => board.resetCause,
    /** 1 in board-faithful mode: no more stdin than a board's ring (the transfer agent asks). */
    strict: () => (board.strict ? 1 : 0),
    unique_id_hex: () => board.uniqueIdHex,
  };
}

/** Tracebacks through the board's modules name this file; the REPL leaves those frames out, as a board's C modules have none. */
export const BOARD_SOURCE_NAME = '<board>';

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
  }
  lines.push('del _namespace, _BuiltinModule, sys');
  mp.runPython(lines.join('\n'));
}

/** The part of Emscripten's FS API used here. */
interface EmscriptenFs {
  readdir(path: string): string[];
  stat(path: string): { mode: number };
  isDir(mode: number): boolean;
  readFile(path: string): Uint8Array;
  writeFile(path: string, data: Uint8Array): void;
  mkdir(path: string): void;
  rmdir(path: string): void;
  unlink(path: string): void;
  analyzePath(path: string): { exists: boolean };
}

/** The files Python sees at `/`, kept in the vfs partition between interpreter lives. */
class BoardFiles {
  constructor(
    private readonly fs: EmscriptenFs,
    private readonly root: string,
    private readonly store: FilesystemStore | undefined,
  ) {}

  load(): void {
    if (!this.store) return;
    this.clear(this.root);
    for (const [path, entry] of [...this.store.load()].sort(([a], [b]) => a.localeCompare(b))) {
      const full = `${this.root}/${path}`;
      if (entry === 'directory') this.makeDirectory(full);
      else {
        this.makeDirectory(full.slice(0, full.lastIndexOf('/')));
        this.fs.writeFile(full, entry);
      }
    }
  }

  save(): boolean {
    return this.store?.save(this.tree()) ?? false;
  }

  private tree(): FileTree {
    const tree = new Map<string, Uint8Array | 'directory'>();
    const walk = (directory: string, prefix: string) => {
      for (const name of this.fs.readdir(directory)) {
        if (name === '.' || name === '..') continue;
        const full = `${directory}/${name}`;
        const path = prefix + name;
        if (this.fs.isDir(this.fs.stat(full).mode)) {
          tree.set(path, 'directory');
          walk(full, `${path}/`);
        } else {
          tree.set(path, this.fs.readFile(full));
        }
      }
    };
    walk(this.root, '');
    return tree;
  }

  private clear(directory: string): void {
    for (const name of this.fs.readdir(directory)) {
      if (name === '.' || name === '..') continue;
      const full = `${directory}/${name}`;
      if (this.fs.isDir(this.fs.stat(full).mode)) {
        this.clear(full);
        this.fs.rmdir(full);
      } else {
        this.fs.unlink(full);
      }
    }
  }

  private makeDirectory(path: string): void {
    let at = '';
    for (const part of path.split('/').filter(Boolean)) {
      at += `/${part}`;
      if (!this.fs.analyzePath(at).exists) this.fs.mkdir(at);
    }
  }
}
