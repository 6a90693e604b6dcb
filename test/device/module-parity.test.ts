/** The rows of docs/module-parity.md that say "same": each checked on the virtual board against known values. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createCipheriv } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { networkBoard, type NetworkBoard } from '../helpers/network-board.js';

let target: NetworkBoard;
before(async () => {
  target = await networkBoard();
});
after(() => target.stop());

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe('module parity with ESP32_GENERIC v1.23', () => {
  it('imports every module a program expects', async () => {
    const out = await target.run(`
for name in ('socket', 'ssl', 'tls', 'select', 'network', 'requests', 'mip', 'ntptime', 'io', 'hashlib', 'cryptolib', 'esp', 'esp32', 'machine', 'errno', 'os', 'binascii', 'deflate', 'json', 'struct', 'time', 'framebuf', 'uctypes', 'asyncio', 'collections', 'heapq', 'random', 'platform', 'gc', 'micropython', 'array', 'math', 'cmath', 're', 'sys', 'vfs', 'flashbdev'):
    __import__(name)
print('ok')
`);
    assert.equal(out, 'ok\n');
  });

  it('io.BufferedWriter onto an esp32.Partition (as the seed writes firmware) reads back byte-equal', async () => {
    const out = await target.run(`
import io, esp32, hashlib, binascii
part = esp32.Partition(esp32.Partition.RUNNING).get_next_update()
class BlockWriter:
    def __init__(self, part):
        self.part, self.block, self.sizes = part, 0, []
    def write(self, data):
        self.sizes.append(len(data))
        self.part.writeblocks(self.block, bytes(data) + b'\\xff' * (-len(data) % 4096))
        self.block += 1
        return len(data)
sink = BlockWriter(part)
writer = io.BufferedWriter(sink, 4096)
expected = hashlib.sha256()
total = 0
for i in range(40):
    piece = bytes((i * 7 + j) & 0xFF for j in range(1000 + i))
    assert writer.write(piece) == len(piece)
    expected.update(piece)
    total += len(piece)
writer.flush()
back = bytearray(total)
part.readblocks(0, back)
print(total, sink.sizes[:3], sink.sizes[-1], hashlib.sha256(back).digest() == expected.digest())
`);
    // 40 pieces of 1000..1039 bytes = 40780 bytes: nine whole 4096-byte blocks, then the flushed rest.
    assert.equal(out, `40780 [4096, 4096, 4096] ${40780 - 9 * 4096} True\n`);
  });

  it('hashlib md5, sha1 and sha256 give the digests of node:crypto', async () => {
    const data = new TextEncoder().encode('The quick brown fox jumps over the lazy dog'.repeat(50));
    const out = await target.run(`
import hashlib, binascii
data = b'The quick brown fox jumps over the lazy dog' * 50
for name in ('md5', 'sha1', 'sha256'):
    h = getattr(hashlib, name)(data[:100])
    h.update(data[100:])
    print(name, binascii.hexlify(h.digest()).decode())
`);
    const expected = ['md5', 'sha1', 'sha256'].map((name) => `${name} ${createHash(name).update(data).digest('hex')}`).join('\n');
    assert.equal(out, `${expected}\n`);
  });

  it('cryptolib.aes ECB, CBC and CTR (chained across calls, CTR across partial blocks) match node:crypto, and round-trip', async () => {
    const key = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
    const iv = Buffer.from('f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff', 'hex');
    const plain = Buffer.alloc(48, 0x5a);
    const run = (name: string, withIv: Buffer | null) => {
      const cipher = createCipheriv(name, key, withIv);
      cipher.setAutoPadding(false);
      return hex(Buffer.concat([cipher.update(plain), cipher.final()]));
    };
    const out = await target.run(`
import cryptolib, binascii
key = bytes(range(16))
iv = bytes(range(0xf0, 0x100))
plain = b'Z' * 48
print(binascii.hexlify(cryptolib.aes(key, cryptolib.MODE_ECB).encrypt(plain)).decode())
c = cryptolib.aes(key, cryptolib.MODE_CBC, iv)
print(binascii.hexlify(c.encrypt(plain[:16]) + c.encrypt(plain[16:])).decode())
print(binascii.hexlify(cryptolib.aes(key, cryptolib.MODE_CTR, iv).encrypt(plain)).decode())
c = cryptolib.aes(key, cryptolib.MODE_CTR, iv)
print(binascii.hexlify(c.encrypt(plain[:5]) + c.encrypt(plain[5:37]) + c.encrypt(plain[37:])).decode())
secret = cryptolib.aes(key, cryptolib.MODE_CBC, iv).encrypt(plain)
d = cryptolib.aes(key, cryptolib.MODE_CBC, iv)
print(d.decrypt(secret[:16]) + d.decrypt(secret[16:]) == plain)
try:
    cryptolib.aes(key, cryptolib.MODE_ECB).encrypt(b'short')
except ValueError as e:
    print('ValueError', e)
`);
    assert.equal(out, `${run('aes-128-ecb', null)}\n${run('aes-128-cbc', iv)}\n${run('aes-128-ctr', iv)}\n${run('aes-128-ctr', iv)}\nTrue\nValueError blksize\n`);
  });

  it('esp.flash_size, flash_user_start and flash_read see the board flash; os.sync saves the files', async () => {
    const vfs = await target.run(`
import esp, esp32, os
print(esp.flash_size(), esp.flash_user_start() == esp32.Partition.find(esp32.Partition.TYPE_DATA, label='vfs')[0].info()[2])
buf = bytearray(4)
esp.flash_read(0x8000, buf)
print(buf)
with open('synced.txt', 'w') as f:
    f.write('saved')
os.sync()
`);
    assert.equal(vfs, `${target.board.flash.size} True\nbytearray(b'\\xaaP\\x01\\x02')\n`);
    assert.equal(new TextDecoder().decode(target.board.readFile('synced.txt')), 'saved');
  });
});

describe('module parity: the build modules and the u names', () => {
  it('the WebAssembly build modules answer as on a board; u-prefixed names reach the board modules', async () => {
    const out = await target.run(`
import binascii, json, struct, re, deflate, io, collections, heapq, random, array, math, cmath, uctypes, framebuf, gc, micropython
print(binascii.hexlify(b'ab'), binascii.crc32(b'esp32'), json.dumps({'a': [1, 2]}), struct.pack('<HI', 1, 2), re.match('a(b+)', 'abbb').group(1))
b = io.BytesIO()
with deflate.DeflateIO(b, deflate.ZLIB) as d:
    d.write(b'x' * 100)
print(deflate.DeflateIO(io.BytesIO(b.getvalue()), deflate.ZLIB).read() == b'x' * 100)
h = [5, 1, 3]
heapq.heapify(h)
print(h[0], collections.OrderedDict([('b', 1), ('a', 2)]), array.array('H', [1, 2]), math.sqrt(16), round(cmath.sqrt(-4).imag))
random.seed(1)
print(0 <= random.getrandbits(8) < 256, uctypes.sizeof({'x': uctypes.UINT32 | 0}), gc.mem_free() > 0, micropython.const(3))
fb = framebuf.FrameBuffer(bytearray(8), 8, 8, framebuf.MONO_VLSB)
fb.pixel(1, 1, 1)
print(fb.pixel(1, 1))
import usocket, urequests, uhashlib, uos, uerrno, socket, requests
print(usocket.socket is socket.socket, urequests.get is requests.get, uhashlib.md5 is not None, uos.sync is not None, uerrno.ETIMEDOUT)
`);
    assert.equal(
      out,
      `b'6162' ${crc32('esp32')} {"a": [1, 2]} b'\\x01\\x00\\x02\\x00\\x00\\x00' bbb\nTrue\n1 OrderedDict({'b': 1, 'a': 2}) array('H', [1, 2]) 4.0 2\nTrue 4 True 3\n1\nTrue True True True 116\n`,
    );
  });
});
