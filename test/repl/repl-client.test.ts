/**
 * ReplClient against the board's REPL state machine (ReplMachine, byte-exact to
 * a MicroPython v1.23 ESP32 UART) with the fake interpreter, over in-memory links.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { DeviceError, ReplClient, ReplTimeoutError } from '../../src/repl/index.js';
import { createLinkedTransports } from '../../src/transport/in-memory.js';
import { throttle } from '../../src/transport/throttled.js';
import { bytesOf, latin1 } from '../fixtures/repl/board-session.js';
import { connectBoard, connectMachine, recordWrites, stopBoards } from './board-link.js';
import { loadMicroPythonExecutor } from './micropython-executor.js';
import { RawPasteAudit } from './raw-paste-audit.js';

const BUSY_MAIN = { 'main.py': 'while True: pass' };

afterEach(stopBoards);

/** A script of `lines` assignments and a print of the last, about 14 bytes a line. */
function longScript(lines: number): string {
  const body = Array.from({ length: lines }, (_, i) => `v${i} = ${i} * 2`).join('\n');
  return `${body}\nprint(v${lines - 1})\n`;
}

describe('ReplClient: entering and leaving the raw REPL', () => {
  it('enters the raw REPL from a board busy in main.py, then runs code', async () => {
    const { board, host } = connectBoard({ scripts: BUSY_MAIN });
    const client = new ReplClient(host, { timeoutMs: 2_000 });
    await client.enterRawRepl();
    assert.equal(board.machine.mode, 'raw');
    assert.equal(client.inRawRepl, true);
    assert.equal(latin1(await client.exec('print(6*7)')), '42\r\n');
    assert.deepEqual(
      board.executor.calls.map((call) => [call.sourceName, call.code]),
      [
        ['main.py', 'while True: pass'],
        ['<stdin>', 'print(6*7)'],
      ],
    );
  });

  it('soft-resets on request: a fresh interpreter, boot.py again, raw REPL kept', async () => {
    const { board, host } = connectBoard({ scripts: { 'boot.py': 'print("booting")' } });
    const client = new ReplClient(host, { timeoutMs: 2_000 });
    await client.enterRawRepl();
    await client.exec('x = 5');
    assert.equal(latin1(await client.exec('print(x)')), '5\r\n');
    await client.enterRawRepl({ softReset: true });
    assert.equal(board.executor.softResets, 1);
    assert.equal(board.executor.calls.filter((call) => call.sourceName === 'boot.py').length, 2);
    assert.equal(board.machine.mode, 'raw');
    await assert.rejects(client.exec('print(x)'), (error: unknown) => {
      assert.ok(error instanceof DeviceError);
      assert.equal(error.message, "NameError: name 'x' isn't defined");
      return true;
    });
  });

  it('goes back to the friendly REPL with exitRawRepl', async () => {
    const { board, host } = connectBoard();
    const client = new ReplClient(host, { timeoutMs: 2_000 });
    await client.enterRawRepl();
    await client.exec('print(1)');
    await client.exitRawRepl();
    assert.equal(board.machine.mode, 'friendly');
    assert.equal(client.inRawRepl, false);
    await assert.rejects(client.exec('print(1)'), /enterRawRepl/);
  });

  it('interrupt() stops a running program and returns what the board printed', async () => {
    const { board, host } = connectBoard({ scripts: BUSY_MAIN });
    const client = new ReplClient(host, { timeoutMs: 2_000, quietMs: 30 });
    const drained = latin1(await client.interrupt());
    assert.match(drained, /File "main\.py", line 1, in <module>\r\nKeyboardInterrupt: \r\n/);
    assert.ok(drained.endsWith('>>> '), drained);
    await board.machine.idle();
    assert.equal(board.machine.mode, 'friendly');
  });
});

describe('ReplClient: exec', () => {
  it('returns the cooked stdout and streams it to onStdout', async () => {
    const { host } = connectBoard();
    const client = new ReplClient(host, { timeoutMs: 2_000 });
    await client.enterRawRepl();
    const chunks: Uint8Array[] = [];
    const stdout = await client.exec('print(1)\nsleep(3)\nprint("two")', { onStdout: (bytes) => chunks.push(bytes) });
    assert.equal(latin1(stdout), '1\r\ntwo\r\n');
    assert.equal(chunks.map(latin1).join(''), '1\r\ntwo\r\n');
    assert.ok(chunks.length >= 2, 'output arrives as the program prints it');
  });

  it('raises DeviceError with the last line as message and the whole traceback', async () => {
    const { host } = connectBoard();
    const client = new ReplClient(host, { timeoutMs: 2_000 });
    await client.enterRawRepl();
    await assert.rejects(client.exec('x = 1\nprint(x)\n1/0'), (error: unknown) => {
      assert.ok(error instanceof DeviceError);
      assert.equal(error.message, 'ZeroDivisionError: divide by zero');
      assert.equal(
        error.traceback,
        'Traceback (most recent call last):\n  File "<stdin>", line 3, in <module>\nZeroDivisionError: divide by zero\n',
      );
      assert.equal(latin1(error.stdout), '1\r\n');
      return true;
    });
    assert.equal(latin1(await client.exec('print(x + 1)')), '2\r\n', 'the client is back at the raw prompt');
  });

  it('sends a script of many raw-paste windows without overrunning the window', { timeout: 60_000 }, async (t) => {
    const { board, host } = connectBoard({ stdinBufferSize: 64 });
    const audit = new RawPasteAudit(host);
    const client = new ReplClient(audit, { timeoutMs: 5_000 });
    // The ~90 window round trips and 200 statements run on microtasks and setImmediate only: on a
    // mocked clock the client's deadline measures no wall time, which a loaded machine stretched
    // past 5 s. A deadlock still fails: with nothing left pending, or at the test's own timeout.
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    await client.enterRawRepl();
    const script = longScript(200);
    assert.ok(script.length > 2_500);
    assert.equal(latin1(await client.exec(script)), '398\r\n');
    assert.equal(client.rawPasteSupported, true);
    assert.equal(board.executor.calls.at(-1)?.code, script);
    assert.equal(audit.windowSize, 32);
    assert.equal(audit.overruns, 0);
    assert.ok(audit.payloadBytes >= script.length);
  });

  it('falls back to the plain raw REPL after R\\x00, asks only once, and sends 256-byte chunks', async () => {
    const { board, host } = connectBoard({ rawPaste: false });
    const { transport, writes } = recordWrites(host);
    const client = new ReplClient(transport, { timeoutMs: 5_000 });
    await client.enterRawRepl();
    const script = longScript(80);
    assert.equal(latin1(await client.exec(script)), '158\r\n');
    assert.equal(client.rawPasteSupported, false);
    assert.equal(latin1(await client.exec('print(v3)')), '6\r\n');
    assert.equal(board.executor.calls.at(-2)?.code, script);
    assert.equal(writes.filter((write) => latin1(write) === '\x05A\x01').length, 1);
    const codeWrites = writes.filter((write) => write.length > 3);
    assert.ok(codeWrites.length >= Math.ceil(script.length / 256));
    assert.ok(codeWrites.every((write) => write.length <= 256));
  });

  it('falls back when firmware older than raw paste takes the request as code and Ctrl-A', async () => {
    // A scripted raw REPL of MicroPython < 1.14: Ctrl-A reprints the header; Ctrl-D answers OK, the command as output, \x04\x04>.
    const [host, device] = createLinkedTransports('old firmware');
    let command = '';
    device.onData((chunk) => {
      for (const byte of chunk) {
        if (byte === 0x01 || byte === 0x03) command = '';
        if (byte === 0x01) void device.write(bytesOf('raw REPL; CTRL-B to exit\r\n>'));
        else if (byte === 0x04) {
          void device.write(bytesOf(`OK${command}\x04\x04>`));
          command = '';
        } else if (byte !== 0x03) command += String.fromCharCode(byte);
      }
    });
    const client = new ReplClient(host, { timeoutMs: 2_000 });
    await client.enterRawRepl();
    assert.equal(latin1(await client.exec('print(1)')), 'print(1)');
    assert.equal(client.rawPasteSupported, false);
    assert.equal(latin1(await client.exec('print(2)')), 'print(2)');
  });

  it('answers a board that stops reading mid-paste, and reports its error', async () => {
    // A scripted raw-paste board whose compiler fails after 10 bytes (mp_reader_stdin_close in pyexec.c):
    // it sends \x04, skips input up to the host's \x04, then prints "\x04", the traceback, "\x04>".
    const [host, device] = createLinkedTransports('scripted board');
    const { transport, writes } = recordWrites(host);
    let phase: 'command' | 'paste' | 'draining' = 'command';
    let codeBytes = 0;
    device.onData((chunk) => {
      for (const byte of chunk) {
        if (phase === 'command') {
          if (byte === 0x01 && codeBytes === 2) {
            phase = 'paste';
            codeBytes = 0;
            void device.write(Uint8Array.of(0x52, 0x01, 16, 0, 0x01));
          } else if (byte === 0x01) void device.write(bytesOf('raw REPL; CTRL-B to exit\r\n>'));
          else if (byte === 0x05 || codeBytes === 1) codeBytes++;
        } else if (phase === 'paste' && ++codeBytes === 10) {
          phase = 'draining';
          void device.write(Uint8Array.of(0x04));
        } else if (phase === 'draining' && byte === 0x04) {
          phase = 'command';
          codeBytes = 0;
          void device.write(bytesOf('\x04Traceback (most recent call last):\r\n  File "<stdin>", line 1\r\nSyntaxError: invalid syntax\r\n\x04>'));
        }
      }
    });
    const client = new ReplClient(transport, { timeoutMs: 2_000 });
    await client.enterRawRepl();
    await assert.rejects(client.exec(longScript(50)), { name: 'DeviceError', message: 'SyntaxError: invalid syntax' });
    const afterRequest = writes.slice(writes.findIndex((write) => latin1(write) === '\x05A\x01') + 1);
    const sent = afterRequest.reduce((sum, write) => sum + write.length, 0);
    assert.ok(sent < 100, `the host stopped sending after the abort (${sent} bytes sent)`);
    assert.equal(latin1(afterRequest.at(-1)!), '\x04', 'and answered it with \\x04');
  });

  it('rejects empty code, which the raw REPL would take as a soft reset', async () => {
    const { board, host } = connectBoard();
    const client = new ReplClient(host, { timeoutMs: 2_000 });
    await client.enterRawRepl();
    await assert.rejects(client.exec(''), RangeError);
    assert.equal(board.executor.softResets, 0);
    assert.equal(latin1(await client.exec('print(3)')), '3\r\n');
  });
});

describe('ReplClient: timeouts', () => {
  it('reports what was received when the raw REPL header never comes', async () => {
    const [host, device] = createLinkedTransports('a silent device');
    // Something that answers Ctrl-A like a friendly REPL that ignores it.
    device.onData((chunk) => {
      if (chunk.includes(0x01)) void device.write(bytesOf('\r\n>>> '));
    });
    const client = new ReplClient(host, { timeoutMs: 2_000 });
    await assert.rejects(client.enterRawRepl({ timeoutMs: 150 }), (error: unknown) => {
      assert.ok(error instanceof ReplTimeoutError);
      assert.equal(error.timeoutMs, 150);
      assert.equal(latin1(error.received), '\r\n>>> ');
      assert.equal(
        error.message,
        'timed out after 150 ms waiting for the raw REPL header and prompt from a silent device; received 6 bytes: "\\r\\n>>> "',
      );
      return true;
    });
  });

  it('times out a program that does not end, and recovers with enterRawRepl', async (t) => {
    const { board, host } = connectBoard();
    const client = new ReplClient(host, { timeoutMs: 2_000 });
    await client.enterRawRepl();
    // The 200 ms pass on a mocked clock once the program has printed, however slowly the machine runs.
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const started = new Promise<void>((resolve) => board.subscribe((bytes) => latin1(bytes).includes('started') && resolve()));
    const execution = client.exec('print("started")\nwhile True: pass', { timeoutMs: 200 });
    await started;
    t.mock.timers.tick(200);
    await assert.rejects(execution, (error: unknown) => {
      assert.ok(error instanceof ReplTimeoutError);
      assert.match(error.message, /waiting for the end of the program's output \("\\x04"\)/);
      assert.equal(latin1(error.received), 'started\r\n');
      return true;
    });
    assert.equal(client.inRawRepl, false);
    await client.enterRawRepl();
    assert.equal(latin1(await client.exec('print(1)')), '1\r\n');
  });
});

describe('ReplClient: programs that own the byte stream', () => {
  const ECHO_PROGRAM = ['import sys', 'a = sys.stdin.read(3)', "print(a + '!')", 'b = sys.stdin.read(2)', 'print(b)'].join('\n');

  it('starts a program, lets the caller talk to it, then collects the rest', async () => {
    const { host } = connectBoard();
    const client = new ReplClient(host, { timeoutMs: 2_000 });
    await client.enterRawRepl();
    const program = await client.startProgram(ECHO_PROGRAM);
    await assert.rejects(client.exec('print(1)'), /finishProgram/);
    await program.write(bytesOf('abc'));
    assert.equal(latin1(await program.output.readUntil('\r\n', { timeoutMs: 1_000 })), 'abc!\r\n');
    await program.write(bytesOf('de'));
    assert.equal(latin1(await program.finish()), 'de\r\n');
    assert.equal(latin1(await client.exec('print(a + b)')), 'abcde\r\n');
  });

  it('works the same in the plain raw REPL', async () => {
    const { host } = connectBoard({ rawPaste: false });
    const client = new ReplClient(host, { timeoutMs: 2_000 });
    await client.enterRawRepl();
    const program = await client.startProgram(ECHO_PROGRAM);
    await program.write(bytesOf('xyz'));
    assert.equal(latin1(await program.output.readExactly(6, { timeoutMs: 1_000 })), 'xyz!\r\n');
    await program.write(bytesOf('12'));
    assert.equal(latin1(await client.finishProgram()), '12\r\n');
    assert.equal(client.rawPasteSupported, false);
  });

  it('finish() raises the program exception', async () => {
    const { host } = connectBoard();
    const client = new ReplClient(host, { timeoutMs: 2_000 });
    await client.enterRawRepl();
    const program = await client.startProgram('import sys\nn = sys.stdin.read(1)\nraise ValueError');
    await program.write(bytesOf('z'));
    await assert.rejects(program.finish(), { name: 'DeviceError', message: 'ValueError:' });
    await assert.rejects(client.finishProgram(), /no program is running/);
  });
});

describe('ReplClient over a throttled link', () => {
  it('runs commands over a 115200-baud link at that speed', async () => {
    const { board, host } = connectBoard({ scripts: BUSY_MAIN });
    const link = throttle(host, { bitsPerSecond: 115_200 });
    const client = new ReplClient(link, { timeoutMs: 5_000 });
    await client.enterRawRepl({ softReset: true });
    const script = longScript(150);
    const started = performance.now();
    assert.equal(latin1(await client.exec(script)), '298\r\n');
    const elapsedMs = performance.now() - started;
    assert.ok(elapsedMs >= (script.length / 11_520) * 1000 * 0.9, `${script.length} bytes took only ${elapsedMs.toFixed(0)} ms`);
    assert.equal(board.executor.calls.at(-1)?.code, script);
    assert.equal(client.rawPasteSupported, true);
  });
});

describe('ReplClient with the real MicroPython interpreter', () => {
  it('evalJson returns the value of an expression', async () => {
    const { host } = connectMachine({ executor: await loadMicroPythonExecutor() });
    const client = new ReplClient(host, { timeoutMs: 2_000 });
    await client.enterRawRepl();
    assert.deepEqual(await client.evalJson("{'a': [1, 2.5, 'x\\n'], 'b': None, 'c': True}"), { a: [1, 2.5, 'x\n'], b: null, c: true });
    await client.exec('import sys\ndef hello():\n    print("side effect")\n    return sys.implementation.name');
    assert.equal(await client.evalJson('hello()'), 'micropython');
  });

  it('evalJson raises DeviceError with the real traceback', async () => {
    const { host } = connectMachine({ executor: await loadMicroPythonExecutor() });
    const client = new ReplClient(host, { timeoutMs: 2_000 });
    await client.enterRawRepl();
    await assert.rejects(client.evalJson('1/0'), (error: unknown) => {
      assert.ok(error instanceof DeviceError);
      assert.equal(error.message, 'ZeroDivisionError: divide by zero');
      assert.match(error.traceback, /^Traceback \(most recent call last\):\n {2}File "<stdin>", line 1/);
      return true;
    });
  });
});
