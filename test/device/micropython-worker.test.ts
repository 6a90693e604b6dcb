import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { MicroPythonWorker, type ExecutionMode } from '../../src/device/micropython/micropython-worker.js';
import { spawnCollectingThread } from './collecting-interpreter-thread.js';

const decoder = new TextDecoder();
const sha256Hex = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Collects the output of one execute() and lets a test wait for a given text. */
class OutputLog {
  private readonly chunks: Uint8Array[] = [];
  readonly collect = (bytes: Uint8Array): void => void this.chunks.push(bytes);

  bytes(): Uint8Array {
    return new Uint8Array(Buffer.concat(this.chunks));
  }

  text(): string {
    return decoder.decode(this.bytes());
  }

  async waitFor(text: string, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.text().includes(text)) {
      if (Date.now() > deadline) throw new Error(`no ${JSON.stringify(text)} in output ${JSON.stringify(this.text())}`);
      await sleep(2);
    }
  }
}

async function run(interpreter: MicroPythonWorker, code: string, mode: ExecutionMode = 'exec') {
  const output = new OutputLog();
  const result = await interpreter.execute(code, mode, output.collect);
  return { ...result, output: output.text() };
}

const keyboardInterruptAt = (line: number) =>
  `Traceback (most recent call last):\n  File "<stdin>", line ${line}, in <module>\nKeyboardInterrupt: \n`;

describe('MicroPythonWorker', () => {
  let mp: MicroPythonWorker;

  before(async () => {
    mp = await MicroPythonWorker.start({ identity: { version: 'v1.23.0', machine: 'Generic ESP32 module with ESP32', buildDate: '2024-06-02' } });
  });

  after(async () => {
    await mp.terminate();
  });

  it('runs code and returns what it printed, as raw bytes with \\n line endings', async () => {
    const result = await run(mp, 'for i in range(3):\n    print("line", i)');
    assert.deepEqual(result, { output: 'line 0\nline 1\nline 2\n' });
  });

  it('passes stdout bytes through unchanged', async () => {
    const output = new OutputLog();
    await mp.execute('import sys\nsys.stdout.buffer.write(bytes(range(256)))', 'exec', output.collect);
    assert.deepEqual(output.bytes(), Uint8Array.from({ length: 256 }, (_, i) => i));
  });

  it('streams output while the code is still running', async () => {
    const output = new OutputLog();
    let finished = false;
    const execution = mp
      .execute('import sys\nprint("first")\nsys.stdin.buffer.read(1)\nprint("second")', 'exec', output.collect)
      .then((result) => {
        finished = true;
        return result;
      });
    await output.waitFor('first\n');
    assert.equal(finished, false, 'the code is blocked on stdin, yet its first line arrived');
    mp.feedInput(Uint8Array.of(0x41));
    assert.deepEqual(await execution, {});
    assert.equal(output.text(), 'first\nsecond\n');
  });

  it('returns the traceback text exactly as MicroPython prints it', async () => {
    const result = await run(mp, 'def f():\n    raise ValueError("bad value")\nprint("before")\nf()');
    assert.equal(result.output, 'before\n');
    assert.equal(
      result.exception,
      'Traceback (most recent call last):\n' +
        '  File "<stdin>", line 4, in <module>\n' +
        '  File "<stdin>", line 2, in f\n' +
        'ValueError: bad value\n',
    );
  });

  it('reports syntax errors like the REPL', async () => {
    const result = await run(mp, 'x = = 1');
    assert.equal(result.exception, 'Traceback (most recent call last):\n  File "<stdin>", line 1\nSyntaxError: invalid syntax\n');
  });

  it("echoes expression values in 'single' mode only", async () => {
    assert.equal((await run(mp, '1+1', 'single')).output, '2\n');
    assert.equal((await run(mp, "'a' * 3", 'single')).output, "'aaa'\n");
    assert.equal((await run(mp, 'None', 'single')).output, '');
    assert.equal((await run(mp, '1+1', 'exec')).output, '');
  });

  it('keeps globals between runs, as the REPL does', async () => {
    await run(mp, 'kept = [1, 2]');
    assert.equal((await run(mp, 'kept', 'single')).output, '[1, 2]\n');
  });

  it('reads binary stdin exactly: all 256 byte values, with kbd_intr(-1)', async () => {
    const payload = Uint8Array.from({ length: 512 }, (_, i) => (i * 7) % 256);
    const code = [
      'import sys, micropython, hashlib, binascii',
      'micropython.kbd_intr(-1)',
      'print("ready")',
      'data = sys.stdin.buffer.read(512)',
      'print(binascii.hexlify(hashlib.sha256(data).digest()).decode())',
    ].join('\n');
    const output = new OutputLog();
    const execution = mp.execute(code, 'exec', output.collect);
    await output.waitFor('ready\n');
    mp.feedInput(payload.subarray(0, 100));
    mp.feedInput(payload.subarray(100));
    assert.deepEqual(await execution, {});
    assert.equal(output.text(), `ready\n${sha256Hex(payload)}\n`);
  });

  it('gives 0x03 to stdin under kbd_intr(-1), and interrupts again after kbd_intr(3)', async () => {
    const code = [
      'import sys, micropython',
      'micropython.kbd_intr(-1)',
      'print("raw")',
      'print(sys.stdin.buffer.read(2))',
      'micropython.kbd_intr(3)',
      'print("armed")',
      'while True:',
      '    pass',
    ].join('\n');
    const output = new OutputLog();
    const execution = mp.execute(code, 'exec', output.collect);
    await output.waitFor('raw\n');
    mp.feedInput(Uint8Array.of(0x03, 0x04));
    await output.waitFor('armed\n');
    mp.feedInput(Uint8Array.of(0x03));
    assert.deepEqual(await execution, { exception: keyboardInterruptAt(8) });
    assert.equal(output.text(), "raw\nb'\\x03\\x04'\narmed\n");
  });

  it('stops a busy loop on Ctrl-C, and the event loop stays free meanwhile', async () => {
    const output = new OutputLog();
    const execution = mp.execute('print("spinning")\nwhile True:\n    pass', 'exec', output.collect);
    await output.waitFor('spinning\n');
    const timerFiredAt = await new Promise<number>((resolve) => setTimeout(() => resolve(Date.now()), 20));
    let settled = false;
    void execution.finally(() => (settled = true));
    await sleep(0);
    assert.equal(settled, false, 'Python is still looping when the timer fired');
    assert.ok(timerFiredAt > 0);
    mp.feedInput(Uint8Array.of(0x03));
    assert.deepEqual(await execution, { exception: keyboardInterruptAt(3) });
  });

  it('never loses a Ctrl-C sent right after execute(), before the code started', async () => {
    const execution = mp.execute('while True:\n    pass', 'exec', () => {});
    mp.feedInput(Uint8Array.of(0x03));
    assert.deepEqual(await execution, { exception: keyboardInterruptAt(2) });
  });

  it('interrupts time.sleep(100) at the line of the call', async () => {
    const output = new OutputLog();
    const started = Date.now();
    const execution = mp.execute('import time\nprint("sleeping")\ntime.sleep(100)\nprint("not reached")', 'exec', output.collect);
    await output.waitFor('sleeping\n');
    mp.feedInput(Uint8Array.of(0x03));
    assert.deepEqual(await execution, { exception: keyboardInterruptAt(3) });
    assert.ok(Date.now() - started < 5000);
    assert.equal(output.text(), 'sleeping\n');
  });

  it('interrupts a read from stdin that is waiting for data', async () => {
    const output = new OutputLog();
    const execution = mp.execute('import sys\nprint("reading")\nsys.stdin.buffer.read(10)', 'exec', output.collect);
    await output.waitFor('reading\n');
    mp.feedInput(Uint8Array.of(0x31, 0x03));
    assert.deepEqual(await execution, { exception: keyboardInterruptAt(3) });
  });

  it('lets Python catch KeyboardInterrupt and carry on', async () => {
    const code = 'try:\n    print("go")\n    while True:\n        pass\nexcept KeyboardInterrupt:\n    print("caught")\nprint("after")';
    const output = new OutputLog();
    const execution = mp.execute(code, 'exec', output.collect);
    await output.waitFor('go\n');
    mp.feedInput(Uint8Array.of(0x03));
    assert.deepEqual(await execution, {});
    assert.equal(output.text(), 'go\ncaught\nafter\n');
    // No interrupt is left over for the next run.
    assert.deepEqual(await run(mp, 'for i in range(1000):\n    pass\nprint("clean")'), { output: 'clean\n' });
  });

  it('input() edits and echoes the typed line like the board, and returns it', async () => {
    const output = new OutputLog();
    const execution = mp.execute('s = input("name? ")\nprint(repr(s))', 'exec', output.collect);
    await output.waitFor('name? ');
    mp.feedInput(new TextEncoder().encode('bobx\x7f\x1b[D\r'));
    assert.deepEqual(await execution, {});
    assert.equal(output.text(), "name? bobx\b \b\n'bob'\n");
  });

  it('reports an uncaught SystemExit as a soft reset, as pyexec does', async () => {
    assert.deepEqual(await run(mp, 'import sys\nprint("bye")\nsys.exit()'), { reset: 'soft', output: 'bye\n' });
  });

  it('looks like an ESP32 running the configured firmware', async () => {
    const result = await run(
      mp,
      'import sys, os\nprint(sys.platform)\nprint(sys.version)\nprint(sys.implementation.version, sys.implementation._machine)\nprint(os.uname())\nprint(os.uname().release)',
    );
    assert.equal(
      result.output,
      'esp32\n' +
        '3.4.0; MicroPython v1.23.0 on 2024-06-02\n' +
        "(1, 23, 0, '') Generic ESP32 module with ESP32\n" +
        "(sysname='esp32', nodename='esp32', release='1.23.0', version='v1.23.0 on 2024-06-02', machine='Generic ESP32 module with ESP32')\n" +
        '1.23.0\n',
    );
  });

  it('shows an empty file system at / to Python', async () => {
    const result = await run(mp, 'import os\nprint(os.getcwd(), os.listdir("/"))\nopen("f.txt", "w").write("x")\nprint(os.listdir())');
    assert.equal(result.output, "/ []\n['f.txt']\n");
  });

  it('feeds 1 MiB through stdin into hashlib in 4 KiB reads, none lost', async (t) => {
    const size = 1024 * 1024;
    const payload = new Uint8Array(size);
    for (let i = 0; i < size; i++) payload[i] = (i * 2654435761) >>> 24;
    const code = [
      'import sys, micropython, hashlib, binascii',
      'micropython.kbd_intr(-1)',
      'buf = bytearray(4096)',
      'h = hashlib.sha256()',
      'left = ' + size,
      'print("ready")',
      'while left:',
      '    n = sys.stdin.buffer.readinto(buf)',
      '    h.update(memoryview(buf)[:n])',
      '    left -= n',
      'print(binascii.hexlify(h.digest()).decode())',
    ].join('\n');
    const output = new OutputLog();
    const execution = mp.execute(code, 'exec', output.collect);
    await output.waitFor('ready\n');
    const started = performance.now();
    for (let at = 0; at < size; at += 16 * 1024) mp.feedInput(payload.subarray(at, at + 16 * 1024));
    assert.deepEqual(await execution, {});
    const seconds = (performance.now() - started) / 1000;
    assert.equal(output.text(), `ready\n${sha256Hex(payload)}\n`);
    t.diagnostic(`stdin -> sha256 throughput: ${(size / 1e6 / seconds).toFixed(1)} MB/s`);
  });

  it('restart() gives a fresh interpreter without the old globals', async () => {
    await run(mp, 'forgotten = 1');
    await mp.restart();
    const result = await run(mp, 'forgotten');
    assert.match(result.exception ?? '', /NameError: name 'forgotten' isn't defined\n$/);
  });

  it('restart() while code runs replaces the interpreter thread', async () => {
    const output = new OutputLog();
    const execution = mp.execute('print("busy")\nwhile True:\n    pass', 'exec', output.collect);
    await output.waitFor('busy\n');
    const rejected = assert.rejects(execution, /restarted/);
    await mp.restart();
    await rejected;
    assert.equal((await run(mp, '6*7', 'single')).output, '42\n');
  });

  it('refuses a second execute while code runs', async () => {
    const output = new OutputLog();
    const first = mp.execute('import sys\nprint("in")\nsys.stdin.buffer.read(1)', 'exec', output.collect);
    await output.waitFor('in\n');
    await assert.rejects(mp.execute('1', 'exec', () => {}), /already running/);
    mp.feedInput(Uint8Array.of(0x20));
    assert.deepEqual(await first, {});
  });
});

describe('MicroPythonWorker modules hook', () => {
  const moduleSource = `
    export function register(mp, init, runtime) {
      const words = new Int32Array(init.shared);
      mp.registerJsModule('testhw', {
        read: (index) => Atomics.load(words, index),
        fill: (address, length, value) => { runtime.heap().fill(value, address, address + length); return null; },
        reset: (kind) => runtime.reset(kind),
        boom: () => { throw new Error('sensor on fire'); },
        label: init.label,
      });
    }`;
  const modulesUrl = new URL('data:text/javascript,' + encodeURIComponent(moduleSource));
  const shared = new SharedArrayBuffer(16);
  let mp: MicroPythonWorker;

  before(async () => {
    mp = await MicroPythonWorker.start({ modulesUrl, modulesInit: { shared, label: 'first' } });
  });

  after(async () => {
    await mp.terminate();
  });

  it('registers JS modules whose functions read shared memory synchronously', async () => {
    new Int32Array(shared)[2] = 4242;
    const result = await run(mp, 'import testhw\nprint(testhw.read(2), testhw.label)');
    assert.equal(result.output, '4242 first\n');
    new Int32Array(shared)[2] = -7;
    assert.equal((await run(mp, 'testhw.read(2)', 'single')).output, '-7\n');
  });

  it('lets a module fill a Python buffer in place through the heap view', async () => {
    const result = await run(mp, 'import testhw, uctypes\nb = bytearray(6)\ntesthw.fill(uctypes.addressof(b), 4, 0xAB)\nprint(b)');
    assert.equal(result.output, "bytearray(b'\\xab\\xab\\xab\\xab\\x00\\x00')\n");
  });

  it('rejects execute() when a JS error escapes through the interpreter, until restart()', async () => {
    await assert.rejects(run(mp, 'import testhw\ntesthw.boom()'), /crashed: sensor on fire/);
    await assert.rejects(run(mp, '1'), /restart/);
    await mp.restart();
    assert.equal((await run(mp, 'import testhw\nprint(testhw.read(2))')).output, '-7\n');
  });

  it('ends the program on a hard reset and needs a restart, which re-registers the modules', async () => {
    const code = 'import testhw\nprint("resetting")\ntry:\n    testhw.reset("hard")\nfinally:\n    print("finally must not run")';
    assert.deepEqual(await run(mp, code), { reset: 'hard', output: 'resetting\n' });
    await assert.rejects(mp.execute('1', 'exec', () => {}), /restart/);
    await mp.restart({
      identity: { version: 'v1.24.1', machine: 'Generic ESP32S3 module with ESP32S3' },
      modulesInit: { shared, label: 'second' },
    });
    const result = await run(mp, 'import testhw, sys\nprint(testhw.label, sys.implementation._machine, sys.implementation.version)');
    assert.equal(result.output, "second Generic ESP32S3 module with ESP32S3 (1, 24, 1, '')\n");
  });
});

describe('MicroPythonWorker across restarts', () => {
  it('an interpreter is not disturbed when the objects of the one before it are collected', async () => {
    // The thread collects garbage after each start: the proxies of the previous
    // interpreter are finalized while the new one runs.
    const mp = await MicroPythonWorker.start({ spawnThread: spawnCollectingThread });
    try {
      for (let life = 1; life <= 4; life++) {
        assert.deepEqual(await run(mp, `values = [${life}] * 3\nprint(sum(values))`), { output: `${3 * life}\n` }, `life ${life}`);
        await mp.restart();
      }
    } finally {
      await mp.terminate();
    }
  });
});
