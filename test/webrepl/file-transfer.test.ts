import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toHex } from '../../src/format/bytes.js';
import { WebReplFileClient, WebReplFileDevice, type WebReplFileSystem } from '../../src/webrepl/file-transfer.js';
import { encodeRequest, WebReplOp } from '../../src/webrepl/webrepl-protocol.js';

class MapFiles implements WebReplFileSystem {
  readonly files = new Map<string, Uint8Array>();
  readonly writes: Array<[string, number]> = [];

  readFile(name: string): Uint8Array | undefined {
    return this.files.get(name);
  }

  writeFile(name: string, data: Uint8Array): void {
    if (name.startsWith('nodir/')) throw new Error('[Errno 2] ENOENT');
    this.writes.push([name, data.length]);
    this.files.set(name, data.slice());
  }
}

/** A device state machine whose frames are recorded. */
function device(files = new MapFiles()): { device: WebReplFileDevice; frames: string[]; drops: string[]; files: MapFiles } {
  const frames: string[] = [];
  const drops: string[] = [];
  const machine = new WebReplFileDevice({
    files,
    version: () => [1, 23, 0],
    send: (frame) => frames.push(toHex(frame)),
    drop: (text) => drops.push(text),
  });
  return { device: machine, frames, drops, files };
}

function pattern(length: number, seed = 7): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff);
}

describe('WebREPL file transfer, the board’s side', () => {
  it('answers a version request with 3 bytes and nothing else', () => {
    const { device: machine, frames } = device();
    machine.receive(encodeRequest({ op: WebReplOp.version, size: 0, name: '' }));
    assert.deepEqual(frames, ['011700']);
  });

  it('takes a request split across frames, as webrepl_cli sends it (10 + 72 bytes)', () => {
    const { device: machine, frames } = device();
    const request = encodeRequest({ op: WebReplOp.version, size: 0, name: '' });
    machine.receive(request.subarray(0, 10));
    assert.deepEqual(frames, []);
    machine.receive(request.subarray(10));
    assert.deepEqual(frames, ['011700']);
  });

  it('puts: WB 0 after the request, the data in any framing, WB 0 at the end', () => {
    const { device: machine, frames, files } = device();
    const data = pattern(3000);
    machine.receive(encodeRequest({ op: WebReplOp.put, size: data.length, name: 'app.bin' }));
    assert.deepEqual(frames, ['57420000']);
    assert.deepEqual(files.files.get('app.bin'), new Uint8Array(0), 'open("wb") truncates at once');
    for (let at = 0; at < data.length; at += 777) machine.receive(data.subarray(at, at + 777));
    assert.deepEqual(frames, ['57420000', '57420000']);
    assert.deepEqual(files.files.get('app.bin'), data);
    assert.deepEqual(files.writes, [
      ['app.bin', 0],
      ['app.bin', 3000],
    ]);
  });

  it('handles request, data and the next request in one frame, the binary frames being one stream', () => {
    const { device: machine, frames, files } = device();
    machine.receive(Uint8Array.from([...encodeRequest({ op: WebReplOp.put, size: 3, name: 'a' }), 1, 2, 3, ...encodeRequest({ op: WebReplOp.version, size: 0, name: '' })]));
    assert.deepEqual(frames, ['57420000', '57420000', '011700']);
    assert.deepEqual(files.files.get('a'), Uint8Array.of(1, 2, 3));
  });

  it('answers a put of 0 bytes with two WB 0 at once (modwebrepl fix 9b2a97a)', () => {
    const { device: machine, frames, files } = device();
    machine.receive(encodeRequest({ op: WebReplOp.put, size: 0, name: 'empty' }));
    assert.deepEqual(frames, ['57420000', '57420000']);
    assert.deepEqual(files.files.get('empty'), new Uint8Array(0));
  });

  it('gets: WB 0, then one chunk of at most 256 bytes per request byte, a 0-length chunk, WB 0', () => {
    const files = new MapFiles();
    const data = pattern(600);
    files.files.set('f', data);
    const { device: machine, frames } = device(files);
    machine.receive(encodeRequest({ op: WebReplOp.get, size: 0, name: 'f' }));
    assert.deepEqual(frames, ['57420000']);
    machine.receive(Uint8Array.of(0));
    assert.equal(frames[1], '0001' + toHex(data.subarray(0, 256)));
    machine.receive(Uint8Array.of(0));
    assert.equal(frames[2], '0001' + toHex(data.subarray(256, 512)));
    machine.receive(Uint8Array.of(0));
    assert.equal(frames[3], '5800' + toHex(data.subarray(512)));
    assert.equal(frames.length, 4, 'no chunk without a request');
    machine.receive(Uint8Array.of(0));
    assert.deepEqual(frames.slice(4), ['0000', '57420000']);
    // Back to requests: the next 82 bytes are a header.
    machine.receive(encodeRequest({ op: WebReplOp.version, size: 0, name: '' }));
    assert.deepEqual(frames.slice(6), ['011700']);
  });

  it('drops the connection, as a board does, when a file cannot be opened', () => {
    const missing = device();
    missing.device.receive(encodeRequest({ op: WebReplOp.get, size: 0, name: 'missing.py' }));
    assert.deepEqual(missing.frames, [], 'no WB at all');
    assert.deepEqual(missing.drops, ['dupterm: Exception in read() method, deactivating: OSError: [Errno 2] ENOENT\n']);
    missing.device.receive(encodeRequest({ op: WebReplOp.version, size: 0, name: '' }));
    assert.deepEqual(missing.frames, [], 'nothing after the drop');

    const noDirectory = device();
    noDirectory.device.receive(encodeRequest({ op: WebReplOp.put, size: 5, name: 'nodir/x' }));
    assert.deepEqual(noDirectory.frames, []);
    assert.equal(noDirectory.drops.length, 1);

    const badName = device();
    const request = encodeRequest({ op: WebReplOp.get, size: 0, name: 'ab' });
    request[18] = 0xff; // not UTF-8: MicroPython raises UnicodeError making the str
    badName.device.receive(request);
    assert.match(badName.drops[0] ?? '', /UnicodeError/);
  });

  it('after an unknown op answers WB 0 and ignores binary data, as the board does', () => {
    const files = new MapFiles();
    files.files.set('x', Uint8Array.of(1));
    const { device: machine, frames } = device(files);
    machine.receive(encodeRequest({ op: 9, size: 0, name: 'x' }));
    assert.deepEqual(frames, ['57420000']);
    machine.receive(encodeRequest({ op: WebReplOp.version, size: 0, name: '' }));
    assert.deepEqual(frames, ['57420000']);
  });
});

describe('WebREPL file transfer, both sides together', () => {
  /** Client and device joined by asynchronous "frames"; returns what went each way. */
  function pair(options: { putChunkSize?: number; replyTimeoutMs?: number } = {}) {
    const files = new MapFiles();
    const toDevice: number[] = [];
    const desyncs: Error[] = [];
    const machine: WebReplFileDevice = new WebReplFileDevice({
      files,
      version: () => [1, 27, 0],
      send: (frame) => queueMicrotask(() => client.receive(frame)),
      drop: (text) => queueMicrotask(() => client.fail(new Error(`connection closed (${text.trim()})`))),
    });
    const client = new WebReplFileClient({
      ...options,
      send: async (frame) => {
        toDevice.push(frame.length);
        queueMicrotask(() => machine.receive(frame));
      },
      onDesync: (error) => desyncs.push(error),
    });
    return { client, files, toDevice, desyncs };
  }

  it('puts, gets and asks the version', async () => {
    const { client, files, toDevice } = pair();
    const data = pattern(5000, 3);
    await client.putFile('/lib/big.bin', data);
    assert.deepEqual(files.files.get('/lib/big.bin'), data);
    assert.deepEqual(toDevice, [82, ...Array(4).fill(1024), 5000 - 4096], 'request, then 1024-byte frames');
    assert.deepEqual(await client.getFile('/lib/big.bin'), data);
    assert.deepEqual(await client.version(), [1, 27, 0]);
    await client.putFile('zero', new Uint8Array(0));
    assert.deepEqual(await client.getFile('zero'), new Uint8Array(0));
  });

  it('runs concurrent calls one after the other', async () => {
    const { client, files } = pair();
    const a = pattern(700, 1);
    const b = pattern(900, 2);
    const [, , gotA, version] = await Promise.all([client.putFile('a', a), client.putFile('b', b), client.getFile('a'), client.version()]);
    assert.deepEqual(gotA, a);
    assert.deepEqual(files.files.get('b'), b);
    assert.deepEqual(version, [1, 27, 0]);
  });

  it('reports a dropped connection with the reason a board has for it, and fails later calls', async () => {
    const { client } = pair();
    await assert.rejects(client.getFile('nope.py'), (error: Error) => {
      assert.match(error.message, /get of "nope\.py" failed: connection closed/);
      assert.match(error.message, /cannot open the file \(e\.g\. it does not exist\)/);
      return true;
    });
    await assert.rejects(client.version(), /version request failed: connection closed/);
  });

  it('refuses a bad name before sending anything', async () => {
    const { client, toDevice, desyncs } = pair();
    await assert.rejects(client.putFile('x'.repeat(64), new Uint8Array(1)), /at most 63/);
    assert.deepEqual(toDevice, []);
    assert.deepEqual(desyncs, []);
    assert.deepEqual(await client.version(), [1, 27, 0], 'still usable');
  });

  it('fails and reports the channel out of step when the board does not answer', async () => {
    const desyncs: Error[] = [];
    const client = new WebReplFileClient({ send: async () => undefined, replyTimeoutMs: 50, onDesync: (error) => desyncs.push(error) });
    await assert.rejects(client.version(), /version request failed: no reply from the board for 50 ms/);
    assert.equal(desyncs.length, 1);
  });

  it('fails on a reply that is not WB', async () => {
    const desyncs: Error[] = [];
    const client: WebReplFileClient = new WebReplFileClient({
      send: async () => queueMicrotask(() => client.receive(Uint8Array.of(0x58, 0x59, 0, 0))),
      onDesync: (error) => desyncs.push(error),
    });
    await assert.rejects(client.getFile('x'), /expected a WB response, got 58 59 00 00/);
    assert.equal(desyncs.length, 1);
  });
});
