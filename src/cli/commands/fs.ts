/**
 * esp32-ota fs: the same file commands on a littlefs image file, the
 * filesystem partition of a flash dump or combined image, or a live board (-d).
 */
import { mkdir, readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { buildLittleFsImage, LittleFs, LittleFsError, MICROPYTHON_ESP32_LITTLEFS, memoryBlockDevice } from '../../format/littlefs/index.js';
import { hex } from '../../format/bytes.js';
import { humanSize, withThousands } from '../../format/units.js';
import { Errno, FileStoreError, baseName, normalisePath, type FileEntry, type FileStore } from '../../fs/file-store.js';
import { destinationPath, importTree, removeTree, requireEntry, treeLines, type TreeItem } from '../../fs/file-operations.js';
import { describeLocation } from '../../fs/filesystem-location.js';
import { addDeviceOptions } from '../device-options.js';
import { UserError } from '../errors.js';
import { parseByteSize } from '../byte-size.js';
import { readInputFile, writeOutputFile, writeOutputFileWhole } from '../files.js';
import { locate, withFileStore, type TargetOptions } from '../fs-target.js';
import { printJson, printText } from '../output.js';
import { progressReporter } from '../progress.js';
import { renderTable } from '../text-table.js';

interface FsOptions extends TargetOptions {
  json?: boolean;
  recursive?: boolean;
  size?: string;
  force?: boolean;
}

/** The default size of a new bare image: the virtual board's default vfs partition (448 KiB). */
const DEFAULT_IMAGE_SIZE = 0x70000;

interface FsCommand {
  name: string;
  /** The arguments after the target, as shown in help. */
  usage: string;
  description: string;
  /** How many arguments after the target: [min, max]. */
  count: [number, number];
  changes: boolean;
  recursive?: string;
  run: (store: FileStore, args: string[], options: FsOptions) => Promise<void>;
}

const COMMANDS: FsCommand[] = [
  {
    name: 'ls',
    usage: '[PATH]',
    description: 'list a directory (default /)',
    count: [0, 1],
    changes: false,
    recursive: 'list everything below it',
    run: async (store, [path = '/'], options) => {
      const at = normalisePath(path);
      const entry = await requireEntry(store, at);
      const entries = entry.type === 'file' ? [entry] : options.recursive ? await store.walk(at) : await store.list(at);
      if (options.json) return printJson(entries.map(entryJson));
      if (entries.length === 0) return printText(`${at}: empty`);
      const prefix = entry.type === 'dir' && at !== '/' ? `${at}/` : '/';
      printText(
        renderTable(
          [{ header: 'Size', align: 'right' }, { header: 'Modified' }, { header: 'Name' }],
          entries.map((e) => [e.type === 'dir' ? '-' : withThousands(e.size), e.mtime ? formatTime(e.mtime) : '', name(e, entry.type === 'file' ? '' : prefix)]),
        ),
      );
    },
  },
  {
    name: 'tree',
    usage: '[PATH]',
    description: 'draw the tree below a directory (default /)',
    count: [0, 1],
    changes: false,
    run: async (store, [path = '/'], options) => {
      const at = normalisePath(path);
      await requireEntry(store, at);
      const entries = await store.walk(at);
      if (options.json) return printJson(entries.map(entryJson));
      const files = entries.filter((e) => e.type === 'file');
      printText(
        [...treeLines(at, entries), '', `${entries.length - files.length} directories, ${files.length} files, ${withThousands(files.reduce((n, e) => n + e.size, 0))} bytes`].join('\n'),
      );
    },
  },
  {
    name: 'cat',
    usage: 'PATH',
    description: "write a file's contents to stdout",
    count: [1, 1],
    changes: false,
    run: async (store, [path]) => {
      const data = await store.readFile(normalisePath(path!));
      await new Promise<void>((resolve, reject) => process.stdout.write(data, (error) => (error ? reject(error) : resolve())));
    },
  },
  {
    name: 'get',
    usage: 'PATH [LOCAL]',
    description: 'copy a file to this computer (default: its name, in the current folder)',
    count: [1, 2],
    changes: false,
    run: async (store, [path, local], options) => {
      const from = normalisePath(path!);
      const data = await withProgress(options, (onProgress) => store.readFile(from, onProgress));
      const to = local ?? baseName(from);
      await writeOutputFile(to, data);
      report(options, { get: from, to, bytes: data.length }, `${from} → ${to}: ${withThousands(data.length)} bytes`);
    },
  },
  {
    name: 'put',
    usage: 'LOCAL [PATH]',
    description: 'copy a file from this computer (default: / with its name; into PATH when that is a directory)',
    count: [1, 2],
    changes: true,
    run: async (store, [local, path], options) => {
      const data = await readInputFile(local!);
      const to = await destinationPath(store, normalisePath(path ?? '/'), baseName(local!.split(sep).join('/')));
      if ((await store.stat(to))?.type === 'dir') throw new FileStoreError(Errno.EISDIR, to);
      const started = performance.now();
      await withProgress(options, (onProgress) => store.writeFile(to, data, onProgress));
      const seconds = (performance.now() - started) / 1000;
      report(options, { put: local, to, bytes: data.length, seconds }, `${local} → ${to}: ${withThousands(data.length)} bytes in ${seconds.toFixed(1)} s`);
    },
  },
  {
    name: 'rm',
    usage: 'PATH',
    description: 'remove a file or an empty directory',
    count: [1, 1],
    changes: true,
    recursive: 'remove a directory and everything in it',
    run: async (store, [path], options) => {
      const at = normalisePath(path!);
      if (options.recursive) {
        const removed = await removeTree(store, at);
        return report(options, { removed: at, entries: removed }, `removed ${at} (${removed} entr${removed === 1 ? 'y' : 'ies'})`);
      }
      if (at === '/') throw new FileStoreError(Errno.EINVAL, at, 'is the root: use rm -r / to empty the filesystem');
      await store.remove(at);
      report(options, { removed: at, entries: 1 }, `removed ${at}`);
    },
  },
  {
    name: 'mkdir',
    usage: 'PATH',
    description: 'make a directory',
    count: [1, 1],
    changes: true,
    run: async (store, [path], options) => {
      await store.mkdir(normalisePath(path!));
      report(options, { created: normalisePath(path!) }, `made ${normalisePath(path!)}/`);
    },
  },
  {
    name: 'mv',
    usage: 'FROM TO',
    description: 'rename or move a file or directory (replaces a file at TO)',
    count: [2, 2],
    changes: true,
    run: async (store, [from, to], options) => {
      const source = normalisePath(from!);
      await requireEntry(store, source);
      const target = await destinationPath(store, normalisePath(to!), baseName(source));
      await store.rename(source, target);
      report(options, { moved: source, to: target }, `${source} → ${target}`);
    },
  },
  {
    name: 'df',
    usage: '',
    description: 'size, used and free space (blocks of the filesystem)',
    count: [0, 0],
    changes: false,
    run: async (store, _args, options) => {
      const usage = await store.usage();
      const bytes = (blocks: number) => blocks * usage.blockSize;
      if (options.json) return printJson({ ...usage, sizeBytes: bytes(usage.blockCount), usedBytes: bytes(usage.blocksUsed), freeBytes: bytes(usage.blocksFree) });
      const row = (label: string, blocks: number) => [label, withThousands(blocks), hex(bytes(blocks)), withThousands(bytes(blocks)), humanSize(bytes(blocks))];
      printText(
        `${store.description}: littlefs, blocks of ${withThousands(usage.blockSize)} bytes\n` +
          renderTable(
            [{ header: '' }, { header: 'Blocks', align: 'right' }, { header: 'Bytes', align: 'right' }, { header: '', align: 'right' }, { header: '', align: 'right' }],
            [row('Size', usage.blockCount), row('Used', usage.blocksUsed), row('Free', usage.blocksFree)],
          ),
      );
    },
  },
  {
    name: 'export',
    usage: 'DIR',
    description: 'copy every file and directory to the folder DIR on this computer (new or empty)',
    count: [1, 1],
    changes: false,
    run: async (store, [folder], options) => {
      if (existsSync(folder!) && (await readdir(folder!).catch(() => ['(not a folder)'])).length > 0) {
        throw new UserError(`${folder} is not an empty folder: export into a new or empty one, so nothing there is overwritten`);
      }
      const entries = await store.walk('/');
      await mkdir(folder!, { recursive: true });
      let bytes = 0;
      for (const entry of entries) {
        const local = join(folder!, ...entry.path.split('/').filter(Boolean));
        if (entry.type === 'dir') await mkdir(local, { recursive: true });
        else {
          const data = await store.readFile(entry.path);
          await writeOutputFile(local, data);
          bytes += data.length;
        }
      }
      const files = entries.filter((e) => e.type === 'file').length;
      report(options, { exported: folder, files, directories: entries.length - files, bytes }, `exported ${files} files, ${entries.length - files} directories, ${withThousands(bytes)} bytes to ${folder}`);
    },
  },
  {
    name: 'import',
    usage: 'DIR',
    description: 'copy the folder DIR of this computer into / (replacing files of the same name)',
    count: [1, 1],
    changes: true,
    run: async (store, [folder], options) => {
      const items = await readLocalTree(folder!);
      await importTree(store, '/', items);
      const files = items.filter((i) => i.data).length;
      const bytes = items.reduce((n, i) => n + (i.data?.length ?? 0), 0);
      report(options, { imported: folder, files, directories: items.length - files, bytes }, `imported ${files} files, ${items.length - files} directories, ${withThousands(bytes)} bytes from ${folder}`);
    },
  },
];

export function registerFsCommand(program: Command): void {
  const fs = program
    .command('fs')
    .description('files of a MicroPython / (littlefs): in an image file, in a flash dump or combined image, or on a board (-d)')
    .addHelpText(
      'after',
      '\nTARGET is a littlefs image (vfs.bin), or a flash dump or combined firmware image (its vfs partition,\nor -p LABEL). With -d DEVICE the commands work on the board instead, and TARGET is left out:\n  esp32-ota fs ls vfs.bin /lib      esp32-ota fs put dump.bin main.py      esp32-ota fs ls -d /dev/ttyUSB0',
    );
  for (const command of COMMANDS) {
    const sub = fs
      .command(command.name)
      .usage(`[options] [TARGET] ${command.usage}`.trimEnd())
      .description(command.description)
      .argument('[args...]')
      .option('-p, --partition <label>', 'the filesystem partition of a dump or combined image (default vfs, else ffat)')
      .option('--json', 'machine-readable output');
    if (command.recursive) sub.option('-r, --recursive', command.recursive);
    addDeviceOptions(sub).action(async (args: string[], options: FsOptions) => {
      const rest = [...args];
      const file = options.device ? undefined : rest.shift();
      if (!options.device && file === undefined) throw new UserError(`fs ${command.name}: give a TARGET file (an image, dump or combined image) or -d DEVICE`);
      const [min, max] = command.count;
      if (rest.length < min || rest.length > max) {
        throw new UserError(`fs ${command.name} takes ${command.usage || 'no arguments'} after the target, got ${rest.length === 0 ? 'none' : rest.map((a) => `'${a}'`).join(' ')}`);
      }
      await withFileStore(file, options, command.changes, (store) => command.run(store, rest, options));
    });
  }
  const mkfs = fs
    .command('mkfs')
    .usage('[options] TARGET')
    .description('make a fresh, empty littlefs: a new image file, or the vfs partition of a dump or combined image')
    .argument('<target>')
    .option('-p, --partition <label>', 'the filesystem partition of a dump or combined image (default vfs, else ffat)')
    .option('--size <bytes>', `size of a new image file (default ${hex(DEFAULT_IMAGE_SIZE)}, the virtual board's vfs)`)
    .option('--force', 'replace a filesystem that holds files')
    .option('--json', 'machine-readable output');
  mkfs.action((target: string, options: FsOptions) => makeFilesystem(target, options));
}

async function makeFilesystem(target: string, options: FsOptions): Promise<void> {
  const exists = existsSync(target);
  let bytes: Uint8Array;
  let start = 0;
  let length: number;
  let where = target;
  if (!exists) {
    if (options.partition !== undefined) throw new UserError(`${target} does not exist: -p applies to an existing dump or combined image`);
    length = options.size === undefined ? DEFAULT_IMAGE_SIZE : parseByteSize(options.size);
    bytes = new Uint8Array(length).fill(0xff);
  } else {
    const original = await readInputFile(target);
    const location = locate(original, target, options.partition);
    where = describeLocation(location, target);
    const files = filesIn(original.subarray(location.start, location.start + location.length));
    if (files > 0 && !options.force) {
      throw new UserError(`${where} holds a filesystem with ${files} entr${files === 1 ? 'y' : 'ies'}: add --force to replace it (they are lost), or esp32-ota fs export it first`);
    }
    if (location.kind === 'image') {
      length = options.size !== undefined ? parseByteSize(options.size) : original.length;
      bytes = length === original.length ? original : new Uint8Array(length).fill(0xff);
    } else {
      if (options.size !== undefined) throw new UserError(`--size applies to image files: the partition table sets the size of ${where}`);
      start = location.start;
      length = location.length;
      bytes = original;
      if (location.beyondEnd) {
        bytes = new Uint8Array(start + length).fill(0xff);
        bytes.set(original);
      }
    }
  }
  if (length % MICROPYTHON_ESP32_LITTLEFS.blockSize !== 0 || length < 2 * MICROPYTHON_ESP32_LITTLEFS.blockSize) {
    throw new UserError(`the size must be a multiple of ${MICROPYTHON_ESP32_LITTLEFS.blockSize} bytes and at least two blocks, got ${length} (${hex(length)})`);
  }
  bytes.set(buildLittleFsImage(length, []), start);
  await writeOutputFileWhole(target, bytes);
  report(options, { formatted: where, sizeBytes: length }, `made an empty littlefs in ${where}: ${withThousands(length)} bytes (${humanSize(length)}), ${length / MICROPYTHON_ESP32_LITTLEFS.blockSize} blocks`);
}

/** Entries under / of the littlefs in `region`, 0 when it holds none. */
function filesIn(region: Uint8Array): number {
  if (region.length === 0 || region.length % MICROPYTHON_ESP32_LITTLEFS.blockSize !== 0) return 0;
  try {
    return LittleFs.mount(memoryBlockDevice(region.slice(), MICROPYTHON_ESP32_LITTLEFS.blockSize)).readdir('/').length;
  } catch (error) {
    if (error instanceof LittleFsError) return 0;
    throw error;
  }
}

async function readLocalTree(folder: string): Promise<TreeItem[]> {
  const info = await stat(folder).catch(() => undefined);
  if (!info?.isDirectory()) throw new UserError(`${folder}: no such folder`);
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  const items: TreeItem[] = [];
  for (const entry of entries) {
    const full = join(entry.parentPath, entry.name);
    const path = relative(folder, full).split(sep).join('/');
    if (entry.isDirectory()) items.push({ path });
    else if (entry.isFile()) items.push({ path, data: await readInputFile(full) });
  }
  return items.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function entryJson(entry: FileEntry) {
  return { path: entry.path, type: entry.type, size: entry.size, mtime: entry.mtime ?? null };
}

function name(entry: FileEntry, prefix: string): string {
  const shown = prefix && entry.path.startsWith(prefix) ? entry.path.slice(prefix.length) : entry.path;
  return entry.type === 'dir' ? `${shown}/` : shown;
}

function formatTime(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace('T', ' ').slice(0, 19);
}

function report(options: FsOptions, json: Record<string, unknown>, text: string): void {
  if (options.json) printJson(json);
  else printText(text);
}

/** Progress (bytes, rate, ETA) on stderr while a board moves a file; nothing for image files, which take no time. */
async function withProgress<T>(options: FsOptions, work: (onProgress?: (done: number, total: number) => void) => Promise<T>): Promise<T> {
  if (options.json || !options.device) return work();
  const progress = progressReporter();
  const started = performance.now();
  try {
    return await work((done, total) => progress.update({ sentBytes: done, wireBytes: done, imageBytes: total, ackedBytes: done, elapsedMs: performance.now() - started }));
  } finally {
    progress.stop();
  }
}
