import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import type { VirtualEsp32 } from '../../src/device/virtual-esp32.js';
import { BoardFileStore, errnoOf } from '../../src/fs/board-store.js';
import { FileStoreError } from '../../src/fs/file-store.js';
import { importTree, removeTree } from '../../src/fs/file-operations.js';
import { nativeSha256 } from '../../src/node/native-hash.js';
import { ReplClient } from '../../src/repl/index.js';
import { bootedBoard } from '../helpers/virtual-board.js';
import { countingTransport } from '../ota/transfer-helpers.js';

describe('BoardFileStore on the virtual board', () => {
  let board: VirtualEsp32;
  let store: BoardFileStore;
  let client: ReplClient;
  before(async () => {
    board = await bootedBoard();
    client = new ReplClient(board.connect());
    await client.enterRawRepl();
    store = new BoardFileStore(client, { sha256: nativeSha256 });
  });
  after(() => board.stop());

  it('puts a file through the compressed frames and reads it back, byte for byte', async () => {
    const text = new TextEncoder().encode('print("hello from the host")\n'.repeat(2000));
    const counted = countingTransport(client.transport);
    const sending = new BoardFileStore(client, { sha256: nativeSha256, transport: counted.transport });
    await sending.writeFile('/big.py', text);
    assert.ok(counted.written() < text.length / 3, `compressed on the wire: ${counted.written()} of ${text.length}`);
    assert.deepEqual(await store.readFile('/big.py'), text);
    const entry = await store.stat('/big.py');
    assert.deepEqual([entry?.path, entry?.type, entry?.size], ['/big.py', 'file', text.length]);
  });

  it('reads incompressible data back exactly', async () => {
    const random = new Uint8Array(9000).map((_, i) => (i * 2654435761) >>> 24);
    await store.writeFile('/random.bin', random);
    assert.deepEqual(await store.readFile('/random.bin'), random);
  });

  it('makes, lists, renames and removes, with the errno the board raised', async () => {
    await store.mkdir('/lib');
    await store.writeFile('/lib/a.py', new TextEncoder().encode('a = 1\n'));
    await store.writeFile('/lib/empty.txt', new Uint8Array(0));
    assert.deepEqual((await store.list('/lib')).map((e) => [e.path, e.type, e.size]), [
      ['/lib/a.py', 'file', 6],
      ['/lib/empty.txt', 'file', 0],
    ]);
    assert.deepEqual(await store.readFile('/lib/empty.txt'), new Uint8Array(0));
    await store.rename('/lib/a.py', '/lib/b.py');
    assert.equal(await store.stat('/lib/a.py'), undefined);
    await assert.rejects(store.mkdir('/lib'), (error: unknown) => error instanceof FileStoreError && error.errno === 17);
    await assert.rejects(store.readFile('/nope'), (error: unknown) => error instanceof FileStoreError && error.errno === 2);
    await assert.rejects(store.remove('/lib'), (error: unknown) => error instanceof FileStoreError && (error.errno === 39 || error.errno === 90));
    assert.equal(await removeTree(store, '/lib'), 3);
    assert.equal(await store.stat('/lib'), undefined);
  });

  it('imports a tree, and refuses one that replaces a directory with a file before writing anything', async () => {
    await importTree(store, '/', [{ path: 'pkg' }, { path: 'pkg/__init__.py', data: new Uint8Array([0x23]) }]);
    assert.equal((await store.stat('/pkg/__init__.py'))?.size, 1);
    await assert.rejects(importTree(store, '/', [{ path: 'new.txt', data: new Uint8Array(3) }, { path: 'pkg', data: new Uint8Array(1) }]), FileStoreError);
    assert.equal(await store.stat('/new.txt'), undefined);
  });

  it('parses the errno of every form a board prints', () => {
    assert.equal(errnoOf('OSError: [Errno 2] ENOENT'), 2);
    assert.equal(errnoOf('OSError: 28'), 28);
    assert.equal(errnoOf("OSError(28,)"), 28);
    assert.equal(errnoOf('ValueError: x'), undefined);
  });
});
