/** `esp32-ota sim` network flags: the access point the board connects to, faults, and the printed port of a board server. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { openTcpTransport } from '../../src/transport/tcp.js';
import { ReplClient } from '../../src/repl/index.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

describe('esp32-ota sim --wifi', () => {
  it('sets the access point (a wrong key fails as on a board), shows the faults, and prints where a board server is reachable', async () => {
    const child = spawn(process.execPath, [cli, 'sim', '--tcp', '0', '--wifi', 'workshop:correct-horse', '--no-wifi-at-boot', '--latency', '5'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const waitFor = (pattern: RegExp) =>
      new Promise<RegExpExecArray>((resolve, reject) => {
        const timer = setInterval(() => {
          const match = pattern.exec(output);
          if (match) {
            clearInterval(timer);
            resolve(match);
          }
        }, 10);
        child.once('exit', () => reject(new Error(`sim exited early:\n${output}`)));
      });
    try {
      const port = Number((await waitFor(/UART on tcp:127\.0\.0\.1:(\d+)/))[1]);
      assert.match(output, /Wi-Fi: access point 'workshop', station off at boot; faults: latency 5 ms/);
      const client = new ReplClient(await openTcpTransport('127.0.0.1', port));
      await client.enterRawRepl();
      const text = async (code: string) => new TextDecoder().decode(await client.exec(code)).replaceAll('\r\n', '\n');
      assert.equal(
        await text(`
import network
w = network.WLAN(network.STA_IF)
print(w.active(), w.isconnected())
w.active(True)
w.connect('workshop', 'wrong-horse')
print(w.isconnected(), w.status())
w.connect('workshop', 'correct-horse')
print(w.isconnected(), w.config('ssid'))
`),
        'False False\nFalse 202\nTrue workshop\n',
      );
      const program = await client.startProgram(`
import socket
s = socket.socket()
s.bind(('0.0.0.0', 8080))
s.listen(1)
c, a = s.accept()
c.write(b'HTTP/1.0 200 OK\\r\\n\\r\\nfrom the board')
c.close()
s.close()
`);
      const hostPort = Number((await waitFor(/the board listens on port 8080: reach it at 127\.0\.0\.1:(\d+)/))[1]);
      assert.equal(await (await fetch(`http://127.0.0.1:${hostPort}/`)).text(), 'from the board');
      await program.finish();
    } finally {
      child.kill('SIGINT');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  });
});
