import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fromHex, toHex } from '../../src/format/bytes.js';
import {
  bytesToLatin1,
  CONNECTED_PROMPT,
  decodeChunkLength,
  decodeRequest,
  decodeResponse,
  decodeVersion,
  DENIED_PROMPT,
  encodeChunk,
  encodePasswordLine,
  encodeRequest,
  encodeResponse,
  encodeVersion,
  latin1ToBytes,
  LoginWatcher,
  PASSWORD_PROMPT,
  PasswordLine,
  passwordProblem,
  REQUEST_SIZE,
  setupPasswordProblem,
  webReplUrl,
  WebReplOp,
  WebReplProtocolError,
} from '../../src/webrepl/webrepl-protocol.js';

const text = (value: string): Uint8Array => latin1ToBytes(value);

describe('WebREPL file-transfer records', () => {
  it('encodes a put request exactly as struct.pack("<2sBBQLH64s", b"WA", 1, 0, 0, 102400, 13, name)', () => {
    // Bytes printed by CPython 3.11: struct.pack("<2sBBQLH64s", b"WA", 1, 0, 0, 102400, 13, "lib/ota_é.py".encode())
    const python =
      '574101000000000000000000009001000d006c69622f6f74615fc3a92e7079' + '00'.repeat(64 - 13);
    const request = encodeRequest({ op: WebReplOp.put, size: 102400, name: 'lib/ota_é.py' });
    assert.equal(request.length, REQUEST_SIZE);
    assert.equal(toHex(request), python);
  });

  it('lays a get request out field by field: WA, op, flags, u64 offset, u32 size, u16 name length, 64-byte name', () => {
    const request = encodeRequest({ op: WebReplOp.get, size: 0, name: 'main.py' });
    assert.deepEqual([...request.subarray(0, 4)], [0x57, 0x41, 2, 0]);
    assert.deepEqual([...request.subarray(4, 12)], [0, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual([...request.subarray(12, 16)], [0, 0, 0, 0]);
    assert.deepEqual([...request.subarray(16, 18)], [7, 0]);
    assert.equal(new TextDecoder().decode(request.subarray(18, 25)), 'main.py');
    assert.ok(request.subarray(25).every((byte) => byte === 0));
  });

  it('encodes a version request as op 3 with an empty name (webrepl_cli get_ver)', () => {
    assert.equal(toHex(encodeRequest({ op: WebReplOp.version, size: 0, name: '' })), '5741030000000000000000000000000000' + '00'.repeat(65));
  });

  it('round-trips any request', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 255 }),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        fc.integer({ min: 0, max: 0xffff_ffff }),
        fc.string({ maxLength: 20 }).filter((name) => !name.includes('\0')),
        (op, flags, offset, size, name) => {
          const decoded = decodeRequest(encodeRequest({ op, flags, offset, size, name }));
          assert.deepEqual(
            { op: decoded.op, flags: decoded.flags, offset: decoded.offset, size: decoded.size, name: decoded.name, signature: decoded.signature },
            { op, flags, offset, size, name, signature: 'WA' },
          );
          assert.equal(decoded.nameLength, new TextEncoder().encode(name).length);
        },
      ),
    );
  });

  it('takes the name up to its first NUL, as the board reads it (fname_len is ignored)', () => {
    const request = encodeRequest({ op: WebReplOp.get, size: 0, name: 'boot.py' });
    request[16] = 60; // a lying fname_len
    request[18 + 4] = 0; // "boot\0py"
    const decoded = decodeRequest(request);
    assert.equal(decoded.name, 'boot');
    assert.equal(decoded.nameLength, 60);
  });

  it('refuses names the board cannot read back: over 63 bytes, or with NUL', () => {
    assert.doesNotThrow(() => encodeRequest({ op: 1, size: 0, name: 'x'.repeat(63) }));
    assert.throws(() => encodeRequest({ op: 1, size: 0, name: 'x'.repeat(64) }), /64 bytes.*at most 63/);
    assert.throws(() => encodeRequest({ op: 1, size: 0, name: 'é'.repeat(32) }), /64 bytes/);
    assert.throws(() => encodeRequest({ op: 1, size: 0, name: 'a\0b' }), /NUL/);
    assert.throws(() => encodeRequest({ op: 1, size: 2 ** 32, name: 'a' }), /size/);
    assert.throws(() => decodeRequest(new Uint8Array(81)), /82 bytes/);
  });

  it('encodes WB responses as struct.pack("<2sH", b"WB", code)', () => {
    assert.equal(toHex(encodeResponse(0)), '57420000');
    assert.equal(toHex(encodeResponse(0x1234)), '57423412');
    assert.equal(decodeResponse(fromHex('57423412')), 0x1234);
    assert.throws(() => decodeResponse(fromHex('57410000')), WebReplProtocolError);
    assert.throws(() => decodeResponse(fromHex('574200')), WebReplProtocolError);
  });

  it('frames get chunks as u16 LE length + bytes, length 0 ending the file', () => {
    const chunk = encodeChunk(Uint8Array.from({ length: 256 }, (_, i) => i));
    assert.deepEqual([...chunk.subarray(0, 2)], [0x00, 0x01]);
    assert.equal(chunk.length, 258);
    assert.equal(chunk[2 + 255], 255);
    assert.deepEqual([...encodeChunk(new Uint8Array(0))], [0, 0]);
    assert.equal(decodeChunkLength(Uint8Array.of(0x34, 0x12)), 0x1234);
  });

  it('answers the version as 3 bare bytes', () => {
    assert.deepEqual([...encodeVersion([1, 23, 0])], [1, 23, 0]);
    assert.deepEqual(decodeVersion(Uint8Array.of(1, 27, 2)), [1, 27, 2]);
    assert.throws(() => encodeVersion([1, 256, 0]), /minor/);
  });
});

describe('WebREPL login', () => {
  it('uses the board’s exact prompts', () => {
    assert.equal(PASSWORD_PROMPT, 'Password: ');
    assert.equal(CONNECTED_PROMPT, '\r\nWebREPL connected\r\n>>> ');
    assert.equal(DENIED_PROMPT, '\r\nAccess denied\r\n');
  });

  it('sends the password line as webrepl_cli: UTF-8 + CR', () => {
    assert.equal(bytesToLatin1(encodePasswordLine('abcd')), 'abcd\r');
    assert.deepEqual([...encodePasswordLine('pé12')], [0x70, 0xc3, 0xa9, 0x31, 0x32, 0x0d]);
  });

  it('checks passwords without ever quoting them', () => {
    for (const [password, reason] of [
      ['ten-chars!', /10 bytes.*at most 9/],
      ['ab\rcd', /CR, LF or NUL/],
      ['ab\0cd', /CR, LF or NUL/],
      ['ééééé', /10 bytes/],
    ] as const) {
      const problem = passwordProblem(password);
      assert.match(problem ?? '', reason);
      assert.ok(!problem!.includes(password));
      assert.throws(() => encodePasswordLine(password), (error: Error) => !error.message.includes(password));
    }
    assert.equal(passwordProblem('123456789'), undefined);
    assert.equal(passwordProblem('abc'), undefined, 'webrepl.start(password="abc") works on a board');
    assert.match(setupPasswordProblem('abc') ?? '', /4 to 9/);
    assert.equal(setupPasswordProblem('abcd'), undefined);
  });

  it('checks a typed line like the board: CR or LF ends it, the rest is normal traffic', () => {
    const line = new PasswordLine('secret');
    assert.deepEqual(line.feed(text('sec')), { done: false });
    const result = line.feed(text('ret\r1+1\r'));
    assert.ok(result.done);
    assert.equal(result.accepted, true);
    assert.equal(bytesToLatin1(result.rest), '1+1\r');
    const lf = new PasswordLine('secret').feed(text('secret\n'));
    assert.ok(lf.done && lf.accepted);
  });

  it('rejects a wrong, shorter, longer or prefixed password', () => {
    for (const typed of ['secreT', 'secre', 'secret1', 'xsecret', '', 'secret678901234']) {
      const result = new PasswordLine('secret').feed(text(`${typed}\r`));
      assert.ok(result.done);
      assert.equal(result.accepted, false, typed);
    }
  });

  it('keeps only the first 10 typed bytes, so a 9-byte password followed by more never matches', () => {
    const result = new PasswordLine('123456789').feed(text('1234567890\r'));
    assert.ok(result.done && !result.accepted);
    const ok = new PasswordLine('123456789').feed(text('123456789\r'));
    assert.ok(ok.done && ok.accepted);
  });

  it('compares like strcmp: typed bytes after a NUL do not count', () => {
    const result = new PasswordLine('abcd').feed(text('abcd\0zz\r'));
    assert.ok(result.done && result.accepted);
  });

  it('follows the board’s login from the client side, in any split', () => {
    const stream = text(`${PASSWORD_PROMPT}${CONNECTED_PROMPT}extra`);
    for (let split = 1; split < stream.length; split++) {
      const watcher = new LoginWatcher();
      const events = [watcher.feed(stream.subarray(0, split)), watcher.feed(stream.subarray(split)), watcher.feed(new Uint8Array(0))].filter(Boolean);
      assert.deepEqual(events, ['password-prompt', 'connected'], `split at ${split}`);
      assert.equal(bytesToLatin1(watcher.surplus), 'extra');
    }
    const denied = new LoginWatcher();
    assert.equal(denied.feed(text(PASSWORD_PROMPT)), 'password-prompt');
    assert.equal(denied.passwordSent, true);
    assert.equal(denied.feed(text('\r\nAccess')), undefined);
    assert.equal(denied.feed(text(' denied\r\n')), 'denied');
  });
});

describe('WebREPL helpers', () => {
  it('maps every byte to one char and back', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const chars = bytesToLatin1(all);
    assert.equal(chars.length, 256);
    assert.equal(chars.charCodeAt(0x80), 0x80, 'not windows-1252');
    assert.deepEqual(latin1ToBytes(chars), all);
    assert.throws(() => latin1ToBytes('€'), /not a byte/);
  });

  it('makes ws:// URLs with port 8266 by default and no credentials', () => {
    assert.equal(webReplUrl('192.168.4.1').href, 'ws://192.168.4.1:8266/');
    assert.equal(webReplUrl('esp32.local:9000').href, 'ws://esp32.local:9000/');
    assert.equal(webReplUrl('ws://10.0.0.2').href, 'ws://10.0.0.2:8266/');
    assert.equal(webReplUrl('ws://10.0.0.2:80/').href, 'ws://10.0.0.2/');
    assert.equal(webReplUrl('ws://user:pw@10.0.0.2:8266/').href, 'ws://10.0.0.2:8266/');
    assert.equal(webReplUrl('[::1]').href, 'ws://[::1]:8266/');
    assert.throws(() => webReplUrl('http://10.0.0.2'), /not a WebSocket address/);
  });
});
