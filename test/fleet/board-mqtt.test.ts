/**
 * umqtt.simple on the virtual board (device/ota/mqtt.py, frozen there as the
 * official firmware freezes micropython-lib's) against a real broker (aedes):
 * the MQTT 3.1.1 bytes it sends and reads are what a standard broker and
 * MQTT.js make of them.
 */
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import mqtt, { type MqttClient } from 'mqtt';
import type { AuthenticateError } from 'aedes';
import { networkBoard, type NetworkBoard } from '../helpers/network-board.js';
import { startTestBroker, type TestBroker } from '../helpers/mqtt-broker.js';

let broker: TestBroker;
let board: NetworkBoard;
let host: MqttClient;
const keepalives: number[] = [];
let pings = 0;

before(async () => {
  broker = await startTestBroker({
    authenticate: (_client, username, password, done) => {
      if (username === 'board' && password?.toString() !== 'secret') {
        const error = new Error('bad password') as AuthenticateError;
        error.returnCode = 4;
        done(error, false);
      } else done(null, true);
    },
    preConnect: (_client, packet, done) => {
      keepalives.push(packet.keepalive ?? -1);
      done(null, true);
    },
  });
  broker.aedes.on('ping', () => pings++);
  board = await networkBoard();
  host = await mqtt.connectAsync(broker.url, { clientId: 'test-host' });
});

after(async () => {
  await host?.endAsync();
  await board?.stop();
  await broker?.close();
});

/** Messages MQTT.js receives on `topic`, as they come. */
async function listen(topic: string): Promise<{ topic: string; payload: string; retain: boolean; qos: number }[]> {
  const received: { topic: string; payload: string; retain: boolean; qos: number }[] = [];
  host.on('message', (name, payload, packet) => {
    if (name.startsWith(topic.replace('#', ''))) received.push({ topic: name, payload: payload.toString(), retain: packet.retain, qos: packet.qos });
  });
  await host.subscribeAsync(topic, { qos: 1 });
  return received;
}

async function until<T>(what: string, value: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = value();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const fixture = (name: string) => readFileSync(new URL(`../../../test/fixtures/tls/${name}`, import.meta.url));

const setup = (clientId: string, extra = '') =>
  [
    'from umqtt.simple import MQTTClient, MQTTException',
    'got = []',
    `c = MQTTClient(${JSON.stringify(clientId)}, "127.0.0.1", ${broker.port}${extra})`,
    'c.set_callback(lambda topic, msg: got.append((topic, msg)))',
  ].join('\n');

describe('umqtt.simple on the virtual board against aedes', () => {
  it('is importable as the official firmware has it (from umqtt.simple import …, import umqtt.simple)', async () => {
    const output = await board.run('import umqtt.simple\nfrom umqtt.simple import MQTTClient\nprint(umqtt.simple.MQTTClient is MQTTClient, MQTTClient("x", "h").port, MQTTClient("x", "h", ssl=object()).port)');
    assert.equal(output, 'True 1883 8883\n');
  });

  it('connects with user and password (refused with MQTTException(4) for a wrong one), keepalive, and pings', async () => {
    const refused = await board.run(`${setup('auth-board', ', user="board", password="wrong"')}\ntry:\n    c.connect()\nexcept MQTTException as e:\n    print("refused", e.args[0])`);
    assert.equal(refused, 'refused 4\n');
    keepalives.length = 0;
    const before = pings;
    const output = await board.run(`${setup('auth-board', ', user="board", password="secret", keepalive=30')}\nprint(c.connect())\nc.ping()\nprint(c.wait_msg())\nc.disconnect()`);
    assert.equal(output, '0\nNone\n', 'a clean session is not present; PINGRESP is read as None');
    assert.deepEqual(keepalives, [30]);
    assert.equal(pings, before + 1);
  });

  it('publishes retained QoS 1 and QoS 0 messages (str or bytes) that MQTT.js receives', async () => {
    const received = await listen('board/out/#');
    await board.run(`${setup('pub-board')}\nc.connect()\nc.publish("board/out/retained", '{"v": "ä"}', retain=True, qos=1)\nc.publish(b"board/out/plain", b"0")\nc.disconnect()`);
    await until('both messages', () => (received.length >= 2 ? true : undefined));
    assert.deepEqual(received.find((m) => m.topic === 'board/out/retained'), { topic: 'board/out/retained', payload: '{"v": "ä"}', retain: false, qos: 1 });
    assert.deepEqual(received.find((m) => m.topic === 'board/out/plain'), { topic: 'board/out/plain', payload: '0', retain: false, qos: 0 });
    const late = await mqtt.connectAsync(broker.url, { clientId: 'late-reader' });
    const retained = new Promise<{ payload: string; retain: boolean }>((resolve) => late.on('message', (_t, payload, packet) => resolve({ payload: payload.toString(), retain: packet.retain })));
    await late.subscribeAsync('board/out/retained', { qos: 1 });
    assert.deepEqual(await retained, { payload: '{"v": "ä"}', retain: true }, 'kept by the broker as retained');
    await late.endAsync();
  });

  it('subscribes at QoS 1, gets retained and new messages through wait_msg and check_msg (None when nothing came)', async () => {
    await host.publishAsync('board/in/cmd', 'retained command', { qos: 1, retain: true });
    const first = await board.run(`${setup('sub-board')}\nc.connect()\nc.subscribe("board/in/#", 1)\nprint(hex(c.wait_msg()), got)\nprint(c.check_msg())`);
    assert.equal(first, "0x33 [(b'board/in/cmd', b'retained command')]\nNone\n", 'a retained QoS 1 PUBLISH: 0x30 | QoS 1 << 1 | retain');
    await host.publishAsync('board/in/new', 'x'.repeat(300), { qos: 1 });
    const second = await board.run('print(hex(c.wait_msg()), got[-1][0], len(got[-1][1]))\nc.publish("board/in/empty", b"", retain=True, qos=1)\nprint(hex(c.wait_msg()), got[-1])\nc.disconnect()');
    assert.equal(second, "0x32 b'board/in/new' 300\n0x32 (b'board/in/empty', b'')\n", 'a 300-byte message needs a two-byte length; an empty message is delivered (not retained: it is live, not kept)');
  });

  it('keeps a persistent session: QoS 1 messages sent while the board is away arrive when it comes back', async () => {
    const first = await board.run(`${setup('persistent-board')}\nprint(c.connect(clean_session=False))\nc.subscribe("board/queue", 1)\nc.disconnect()`);
    assert.equal(first, '0\n');
    await host.publishAsync('board/queue', 'while away', { qos: 1 });
    const second = await board.run('print(c.connect(clean_session=False))\nc.wait_msg()\nprint(got)\nc.disconnect()\nprint(c.connect(clean_session=True))\nc.disconnect()');
    assert.equal(second, "1\n[(b'board/queue', b'while away')]\n0\n", 'session present, the queued message delivered; a clean session drops it');
  });

  it('sets a retained last will that the broker publishes when the board goes away without DISCONNECT', async () => {
    const received = await listen('board/will');
    await board.run(`${setup('will-board')}\nc.set_last_will("board/will", "0", retain=True, qos=1)\nc.connect()\nc.publish("board/will", "1", retain=True, qos=1)\nc.sock.close()`);
    await until('the last will', () => received.find((m) => m.payload === '0'));
    assert.deepEqual(received.map((m) => m.payload), ['1', '0']);
  });

  it('connects over TLS with an SSLContext (ssl=), verifying the broker against its CA, and refuses another CA', async () => {
    const server = createTlsServer({ key: fixture('server.key'), cert: fixture('server.pem') }, broker.aedes.handle);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const client = (ca: string) =>
      [
        'import ssl',
        'from umqtt.simple import MQTTClient',
        'ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)',
        'ctx.verify_mode = ssl.CERT_REQUIRED', // micropython-lib's ssl.SSLContext starts with CERT_NONE
        `ctx.load_verify_locations(cadata=${JSON.stringify(fixture(ca).toString())})`,
        `c = MQTTClient("tls-board", "localhost", ${port}, ssl=ctx)`,
      ].join('\n');
    try {
      const received = await listen('board/tls');
      const output = await board.run(`${client('ca.pem')}\nprint(c.connect())\nc.publish("board/tls", "over tls", qos=1)\nc.disconnect()`);
      assert.equal(output, '0\n');
      await until('the message sent over TLS', () => received.find((m) => m.payload === 'over tls'));
      const refused = await board.run(`${client('other-ca.pem')}\ntry:\n    c.connect()\nexcept OSError as e:\n    print(e.args[0])`);
      assert.equal(refused, '-9984\n', 'mbedTLS: X509 - Certificate verification failed');
    } finally {
      server.close();
    }
  });
});
