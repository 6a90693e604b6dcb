/**
 * Operations made of the FileStore primitives, the same on every store:
 * recursive removal, the tree view, copying a whole tree in and out. Each
 * checks what it can before it changes anything. Pure.
 */
import { Errno, FileStoreError, baseName, joinPath, parentOf, type FileEntry, type FileStore } from './file-store.js';

export async function requireEntry(store: FileStore, path: string): Promise<FileEntry> {
  if (path === '/') return { path: '/', type: 'dir', size: 0 };
  const entry = await store.stat(path);
  if (!entry) throw new FileStoreError(Errno.ENOENT, path);
  return entry;
}

/** A file or a directory with everything below it (children first). */
export async function removeTree(store: FileStore, path: string): Promise<number> {
  const entry = await requireEntry(store, path);
  const below = entry.type === 'dir' ? await store.walk(path) : [];
  for (const child of below.reverse()) await store.remove(child.path);
  if (path !== '/') await store.remove(path);
  return below.length + (path === '/' ? 0 : 1);
}

/** Where `put SOURCE DEST` writes: into DEST when it is a directory. */
export async function destinationPath(store: FileStore, destination: string, sourceName: string): Promise<string> {
  const entry = destination === '/' ? ({ type: 'dir' } as const) : await store.stat(destination);
  return entry?.type === 'dir' ? joinPath(destination, sourceName) : destination;
}

/** Lines of a tree drawing of `path` (as the `tree` command prints it). */
export function treeLines(root: string, entries: readonly FileEntry[]): string[] {
  const children = new Map<string, FileEntry[]>();
  for (const entry of entries) {
    const parent = parentOf(entry.path);
    children.set(parent, [...(children.get(parent) ?? []), entry]);
  }
  const lines = [root];
  const draw = (directory: string, indent: string): void => {
    const list = children.get(directory) ?? [];
    list.forEach((entry, i) => {
      const last = i === list.length - 1;
      lines.push(`${indent}${last ? '└── ' : '├── '}${baseName(entry.path)}${entry.type === 'dir' ? '/' : ''}`);
      if (entry.type === 'dir') draw(entry.path, indent + (last ? '    ' : '│   '));
    });
  };
  draw(root, '');
  return lines;
}

/** A tree of files to put into a store, parents before children (paths relative to the tree's root, '/'-separated). */
export interface TreeItem {
  readonly path: string;
  readonly data?: Uint8Array;
}

/**
 * Puts `items` under `root` (directories made as needed, files replaced).
 * Refuses, before writing anything, when a file would replace a directory
 * or the other way round, or when the data clearly cannot fit.
 */
export async function importTree(store: FileStore, root: string, items: readonly TreeItem[], onFile?: (path: string, size: number) => void): Promise<void> {
  const existing = new Map((root === '/' || (await store.stat(root))?.type === 'dir' ? await store.walk(root) : []).map((entry) => [entry.path, entry]));
  let needed = 0;
  for (const item of items) {
    const path = joinPath(root, item.path);
    const there = existing.get(path);
    if (there && (there.type === 'dir') !== (item.data === undefined)) {
      throw new FileStoreError(there.type === 'dir' ? Errno.EISDIR : Errno.ENOTDIR, path, `is a ${there.type === 'dir' ? 'directory' : 'file'} on the filesystem, a ${item.data ? 'file' : 'directory'} in the import: nothing was written`);
    }
    needed += (item.data?.length ?? 0) - (there?.size ?? 0);
  }
  const usage = await store.usage();
  if (needed > usage.blocksFree * usage.blockSize) {
    throw new FileStoreError(Errno.ENOSPC, root, `the import needs ${needed} bytes more, the filesystem has ${usage.blocksFree * usage.blockSize} free: nothing was written`);
  }
  if (root !== '/' && !existing.size && !(await store.stat(root))) await store.mkdir(root);
  for (const item of items) {
    const path = joinPath(root, item.path);
    if (item.data === undefined) {
      if (!existing.has(path)) await store.mkdir(path);
    } else {
      await store.writeFile(path, item.data);
      onFile?.(path, item.data.length);
    }
  }
}
