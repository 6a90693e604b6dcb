/**
 * Byte-for-byte transcripts of the board's REPL protocols. The expected bytes
 * come from reading MicroPython v1.23 (shared/runtime/pyexec.c,
 * shared/readline/readline.c, ports/esp32/main.c) and docs/reference/repl.rst.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BANNER, BANNER_LINE, BoardSession, RAW_HEADER, bytesOf, latin1, nextTurn } from '../fixtures/repl/board-session.js';

const TRACEBACK = 'Traceback (most recent call last):\r\n';
const ZERO_DIVISION = `${TRACEBACK}  File "<stdin>", line 1, in <module>\r\nZeroDivisionError: divide by zero\r\n`;
const PASTE_HEADER = '\r\npaste mode; Ctrl-C to cancel, Ctrl-D to finish\r\n=== ';

async function friendlyBoard(options = {}): Promise<BoardSession> {
  const board = new BoardSession(options);
  assert.equal(await board.boot(), BANNER);
  return board;
}

async function rawBoard(options = {}): Promise<BoardSession> {
  const board = await friendlyBoard(options);
  assert.equal(await board.exchange('\x01'), `\r\n${RAW_HEADER}`);
  return board;
}

describe('friendly REPL transcripts', () => {
  it('boots to the banner and prompt', async () => {
    const board = new BoardSession();
    assert.equal(await board.boot(), `${BANNER_LINE}\r\nType "help()" for more information.\r\n>>> `);
  });

  it('echoes a line, runs it in single mode and prints cooked output before the next prompt', async () => {
    const board = await friendlyBoard();
    assert.equal(await board.exchange('print(1+2)\r'), 'print(1+2)\r\n3\r\n>>> ');
    assert.equal(await board.exchange('7*6\r'), '7*6\r\n42\r\n>>> ');
    assert.deepEqual(
      board.executor.calls.map((call) => [call.code, call.mode]),
      [
        ['print(1+2)', 'single'],
        ['7*6', 'single'],
      ],
    );
  });

  it('prints an exception as a cooked traceback', async () => {
    const board = await friendlyBoard();
    assert.equal(await board.exchange('1/0\r'), `1/0\r\n${ZERO_DIVISION}>>> `);
  });

  it('handles backspace, cursor keys and history with VT100 redraws', async () => {
    const board = await friendlyBoard();
    assert.equal(await board.exchange('12\x7f3\r'), '12\b\x1b[K3\r\n13\r\n>>> ');
    // Left arrow then insert: the tail is redrawn and the cursor stepped back over it.
    assert.equal(await board.exchange('ac\x1b[Db'), 'ac\bbc\b');
    assert.equal(await board.exchange('\r'), `\r\n${TRACEBACK}  File "<stdin>", line 1, in <module>\r\nNameError: name 'abc' isn't defined\r\n>>> `);
    // Up arrow recalls the newest line, down arrow returns to the empty line.
    assert.equal(await board.exchange('\x1b[A'), 'abc');
    assert.equal(await board.exchange('\x1b[A'), '\b\b\b\x1b[K13');
    assert.equal(await board.exchange('\x1b[B\x1b[B'), '\b\babc\b\b\b\x1b[K');
  });

  it('answers Ctrl-C at the prompt and on a typed line with a fresh prompt', async () => {
    const board = await friendlyBoard();
    assert.equal(await board.exchange('\x03'), '\r\n>>> ');
    assert.equal(await board.exchange('abc\x03'), 'abc\r\n>>> ');
    assert.equal(await board.exchange('\r'), '\r\n>>> ');
    assert.equal(board.executor.calls.length, 0);
  });

  it('reprints the banner on Ctrl-B', async () => {
    const board = await friendlyBoard();
    assert.equal(await board.exchange('\x02'), `\r\n${BANNER}`);
  });

  it('soft-resets on Ctrl-D at an empty prompt: fresh interpreter, banner, prompt', async () => {
    const board = await friendlyBoard();
    await board.exchange('x = 5\r');
    assert.equal(await board.exchange('\x04'), `\r\nMPY: soft reboot\r\n${BANNER}`);
    assert.equal(board.executor.softResets, 1);
    assert.match(await board.exchange('x\r'), /NameError: name 'x' isn't defined\r\n>>> $/);
  });

  it('treats Ctrl-D on a typed line as delete-at-cursor, not as a reset', async () => {
    const board = await friendlyBoard();
    assert.equal(await board.exchange('ab\x1b[D\x04'), 'ab\b\x1b[K');
    assert.equal(board.executor.softResets, 0);
  });

  it('continues compound statements with auto-indent and runs them after the blank lines', async () => {
    const board = await friendlyBoard();
    assert.equal(await board.exchange('if 1:\r'), 'if 1:\r\n...     ');
    assert.equal(await board.exchange('print(5)\r'), 'print(5)\r\n...     ');
    // RETURN twice ends the indentation (docs/reference/repl.rst), the third press runs.
    assert.equal(await board.exchange('\r'), '\r\n...     ');
    assert.equal(await board.exchange('\r'), '\r\n... ');
    assert.equal(await board.exchange('\r'), '\r\n5\r\n>>> ');
    assert.equal(board.executor.calls[0]?.code, 'if 1:\n    print(5)\n    \n    \n');
  });

  it('removes a whole indent level with one backspace and runs on an empty continuation line', async () => {
    const board = await friendlyBoard();
    await board.exchange('if 1:\rprint(5)\r');
    assert.equal(await board.exchange('\x7f'), '\b\b\b\b\x1b[K');
    assert.equal(await board.exchange('\r'), '\r\n5\r\n>>> ');
    assert.equal(board.executor.calls[0]?.code, 'if 1:\n    print(5)\n');
  });

  it('continues open brackets without indent', async () => {
    const board = await friendlyBoard();
    assert.equal(await board.exchange('(1 +\r2)\r'), '(1 +\r\n... 2)\r\n3\r\n>>> ');
  });

  it('cancels a continuation with Ctrl-C and runs it at once with Ctrl-D', async () => {
    const board = await friendlyBoard();
    assert.equal(await board.exchange('if 1:\r\x03'), 'if 1:\r\n...     \r\n>>> ');
    // pyexec.c runs the statement on Ctrl-D without printing a newline first.
    assert.equal(
      await board.exchange('(1 +\r\x04'),
      `(1 +\r\n... ${TRACEBACK}  File "<stdin>", line 1\r\nSyntaxError: invalid syntax\r\n>>> `,
    );
    assert.deepEqual(
      board.executor.calls.map((call) => call.code),
      ['(1 +\n'],
    );
  });

  it('pastes with Ctrl-E: echo, === prompts, Ctrl-D runs the block printing expression values', async () => {
    const board = await friendlyBoard();
    assert.equal(await board.exchange('\x05'), PASTE_HEADER);
    assert.equal(await board.exchange('x = 6\r7*x\r'), 'x = 6\r\n=== 7*x\r\n=== ');
    assert.equal(await board.exchange('\x04'), '\r\n42\r\n>>> ');
    assert.deepEqual(board.executor.calls, [{ code: 'x = 6\r7*x\r', mode: 'paste', sourceName: '<stdin>' }]);
  });

  it('echoes pasted line feeds raw and cancels paste mode with Ctrl-C', async () => {
    const board = await friendlyBoard();
    assert.equal(await board.exchange('\x05print(1)\r\nprint(2)\x03'), `${PASTE_HEADER}print(1)\r\n=== \nprint(2)\r\n>>> `);
    assert.equal(board.executor.calls.length, 0);
  });

  it('interrupts running code with Ctrl-C and prints the KeyboardInterrupt traceback', async () => {
    const board = await friendlyBoard();
    // `while` starts a compound statement: an empty line ends it.
    board.send('while True: pass\r\r');
    for (let turn = 0; turn < 5; turn++) await nextTurn();
    assert.equal(board.take(), 'while True: pass\r\n... \r\n');
    assert.equal(
      await board.exchange('\x03'),
      `${TRACEBACK}  File "<stdin>", line 1, in <module>\r\nKeyboardInterrupt: \r\n>>> `,
    );
  });

  it('keeps what was typed while code ran and echoes it after the prompt', async () => {
    const board = await friendlyBoard();
    assert.equal(await board.exchange('sleep(3)\rprint(9)\r'), 'sleep(3)\r\n>>> print(9)\r\n9\r\n>>> ');
  });

  it('gives bytes sent while code runs to its stdin', async () => {
    const board = await friendlyBoard();
    assert.equal(await board.exchange('x = sys.stdin.read(3)\rab\rx\r'), "x = sys.stdin.read(3)\r\n>>> x\r\n'ab\\n'\r\n>>> ");
  });

  it('soft-resets from machine.soft_reset()', async () => {
    const board = await friendlyBoard();
    assert.equal(await board.exchange('machine.soft_reset()\r'), `machine.soft_reset()\r\nMPY: soft reboot\r\n${BANNER}`);
    assert.equal(board.executor.softResets, 1);
  });

  it('stops at machine.reset() and starts over when the device calls start()', async () => {
    const board = await friendlyBoard();
    assert.equal(await board.exchange('print(1)\rmachine.reset()\r'), 'print(1)\r\n1\r\n>>> machine.reset()\r\n');
    assert.deepEqual(board.hardResets, ['software']);
    assert.equal(board.machine.isRunning, false);
    assert.equal(await board.exchange('print(2)\r'), '');
    assert.equal(await board.boot(), BANNER);
  });
});

describe('raw REPL transcripts', () => {
  it('enters with Ctrl-A, runs a command without echo: OK, stdout, EOF, EOF, prompt', async () => {
    const board = await rawBoard();
    assert.equal(await board.exchange('x = 2\nprint(x*3)\nprint(7)'), '');
    assert.equal(await board.exchange('\x04'), 'OK6\r\n7\r\n\x04\x04>');
    assert.deepEqual(board.executor.calls, [{ code: 'x = 2\nprint(x*3)\nprint(7)', mode: 'exec', sourceName: '<stdin>' }]);
  });

  it('reports an exception between the two EOF markers', async () => {
    const board = await rawBoard();
    assert.equal(await board.exchange('1/0\x04'), `OK\x04${ZERO_DIVISION}\x04>`);
  });

  it('clears the command on Ctrl-C and restarts the raw REPL on Ctrl-A', async () => {
    const board = await rawBoard();
    assert.equal(await board.exchange('print(1)\x03print(2)\x04'), 'OK2\r\n\x04\x04>');
    assert.equal(await board.exchange('print(3)\x01'), RAW_HEADER);
    assert.equal(await board.exchange('print(4)\x04'), 'OK4\r\n\x04\x04>');
  });

  it('soft-resets on Ctrl-D with an empty command and stays in raw mode', async () => {
    const board = await rawBoard();
    assert.equal(await board.exchange('\x04'), `OK\r\nMPY: soft reboot\r\n${RAW_HEADER}`);
    assert.equal(board.machine.mode, 'raw');
    assert.equal(board.executor.softResets, 1);
  });

  it('soft-resets from machine.soft_reset() after both EOF markers', async () => {
    const board = await rawBoard();
    assert.equal(await board.exchange('machine.soft_reset()\x04'), `OK\x04\x04MPY: soft reboot\r\n${RAW_HEADER}`);
  });

  it('ends output without markers on machine.reset()', async () => {
    const board = await rawBoard();
    assert.equal(await board.exchange('print(1)\nmachine.reset()\x04'), 'OK1\r\n');
    assert.deepEqual(board.hardResets, ['software']);
  });

  it('returns to the friendly REPL on Ctrl-B', async () => {
    const board = await rawBoard();
    assert.equal(await board.exchange('junk\x02'), `\r\n${BANNER}`);
    assert.equal(board.machine.mode, 'friendly');
    assert.equal(await board.exchange('print(1)\r'), 'print(1)\r\n1\r\n>>> ');
  });
});

describe('raw-paste transcripts', () => {
  it('matches the example of docs/reference/repl.rst byte for byte', async () => {
    const board = await friendlyBoard();
    assert.equal(
      await board.exchange('\x01\x05A\x01print(123)\x04'),
      '\r\nraw REPL; CTRL-B to exit\r\n>R\x01\x80\x00\x01\x04123\r\n\x04\x04>',
    );
  });

  it('grants a new window after each 128 bytes consumed', async () => {
    const board = await rawBoard();
    assert.equal(await board.exchange('\x05A\x01'), 'R\x01\x80\x00\x01');
    const line = 'x = 1 + 1 + 1 + 1 + 1 + 1 + 1\n'; // 30 bytes
    const script = line.repeat(10) + 'print(x)'; // 308 bytes
    assert.equal(await board.exchange(script.slice(0, 127)), '');
    assert.equal(await board.exchange(script.slice(127, 128)), '\x01');
    assert.equal(await board.exchange(script.slice(128, 255)), '');
    assert.equal(await board.exchange(script.slice(255)), '\x01');
    assert.equal(await board.exchange('\x04'), '\x047\r\n\x04\x04>');
    assert.equal(board.executor.calls[0]?.code, script);
  });

  it('uses half the stdin buffer as window', async () => {
    const board = await rawBoard({ stdinBufferSize: 64 });
    assert.equal(await board.exchange('\x05A\x01'), 'R\x01\x20\x00\x01');
    assert.equal(await board.exchange('x'.repeat(32)), '\x01');
  });

  it('raises KeyboardInterrupt on Ctrl-C while receiving, without running anything', async () => {
    const board = await rawBoard();
    assert.equal(await board.exchange('\x05A\x01print(1)\x03'), 'R\x01\x80\x00\x01\x04\x04KeyboardInterrupt: \r\n\x04>');
    assert.equal(board.executor.calls.length, 0);
    assert.equal(await board.exchange('print(2)\x04'), 'OK2\r\n\x04\x04>');
  });

  it('reports a compile error after acknowledging the end of data', async () => {
    const board = await rawBoard();
    assert.equal(
      await board.exchange('\x05A\x01print(1\x04'),
      `R\x01\x80\x00\x01\x04\x04${TRACEBACK}  File "<stdin>", line 1\r\nSyntaxError: invalid syntax\r\n\x04>`,
    );
  });

  it('answers an unknown request with R\\x00 and a new prompt', async () => {
    const board = await rawBoard();
    assert.equal(await board.exchange('\x05B\x01'), 'R\x00>');
  });

  it('treats Ctrl-E A followed by anything but Ctrl-A as ordinary command bytes', async () => {
    const board = await rawBoard();
    assert.equal(await board.exchange('\x05Ax\x01'), RAW_HEADER);
    assert.equal(
      await board.exchange('\x05A\x04'),
      `OK\x04${TRACEBACK}  File "<stdin>", line 1\r\nSyntaxError: invalid syntax\r\n\x04>`,
    );
    assert.equal(board.executor.calls[0]?.code, '\x05A');
  });

  it('refuses with R\\x00 when raw paste is off; the host then continues in plain raw mode', async () => {
    const board = await rawBoard({ rawPaste: false });
    assert.equal(await board.exchange('\x05A\x01'), 'R\x00');
    assert.equal(await board.exchange('print(4)\x04'), 'OK4\r\n\x04\x04>');
  });
});

describe('start-up scripts', () => {
  it('runs boot.py then main.py before the banner on power-on, cooking their output', async () => {
    const board = new BoardSession({ scripts: { 'boot.py': 'print(1)', 'main.py': 'print(2)\nprint(3)' } });
    assert.equal(await board.boot(), `1\r\n2\r\n3\r\n${BANNER}`);
    assert.deepEqual(
      board.executor.calls.map((call) => [call.sourceName, call.mode]),
      [
        ['boot.py', 'exec'],
        ['main.py', 'exec'],
      ],
    );
  });

  it('skips main.py after a soft reset in raw mode', async () => {
    const board = new BoardSession({ scripts: { 'boot.py': 'print(1)', 'main.py': 'print(2)' } });
    assert.equal(await board.boot(), `1\r\n2\r\n${BANNER}`);
    assert.equal(await board.exchange('\x01'), `\r\n${RAW_HEADER}`);
    assert.equal(await board.exchange('\x04'), `OK\r\nMPY: soft reboot\r\n1\r\n${RAW_HEADER}`);
  });

  it('skips main.py when boot.py raises, and names the script in the traceback', async () => {
    const board = new BoardSession({ scripts: { 'boot.py': 'raise OSError', 'main.py': 'print(2)' } });
    assert.equal(
      await board.boot(),
      `${TRACEBACK}  File "boot.py", line 1, in <module>\r\nOSError: \r\n${BANNER}`,
    );
  });

  it('can interrupt main.py from the host', async () => {
    const board = new BoardSession({ scripts: { 'main.py': 'while True: pass' } });
    board.machine.start();
    for (let turn = 0; turn < 5; turn++) await nextTurn();
    assert.equal(board.take(), '');
    assert.equal(
      await board.exchange('\x03'),
      `${TRACEBACK}  File "main.py", line 1, in <module>\r\nKeyboardInterrupt: \r\n${BANNER}`,
    );
  });

  it('soft-resets again when boot.py calls machine.soft_reset()', async () => {
    let boots = 0;
    const board = new BoardSession({
      scripts: (name) => (name === 'boot.py' && boots++ === 0 ? 'machine.soft_reset()' : undefined),
    });
    assert.equal(await board.boot(), `MPY: soft reboot\r\n${BANNER}`);
    assert.equal(board.executor.softResets, 1);
  });
});

/**
 * The host side of a serial line: what the host writes reaches the board one
 * scheduler turn later; what the board writes waits in the host's input buffer.
 */
class SerialLink {
  readonly fromBoard: string[] = [];
  private inbox = '';
  private wake: (() => void) | undefined;

  constructor(private readonly board: BoardSession) {
    board.subscribe((bytes) => {
      const text = latin1(bytes);
      this.fromBoard.push(text);
      this.inbox += text;
      this.wake?.();
    });
  }

  write(text: string): void {
    setImmediate(() => this.board.send(bytesOf(text)));
  }

  inWaiting(): number {
    return this.inbox.length;
  }

  discardInput(): void {
    this.inbox = '';
  }

  async read(count: number): Promise<string> {
    while (this.inbox.length < count) await this.waitForData();
    const data = this.inbox.slice(0, count);
    this.inbox = this.inbox.slice(count);
    return data;
  }

  async readUntil(ending: string): Promise<string> {
    let data = '';
    while (!data.endsWith(ending)) data += await this.read(1);
    return data;
  }

  private waitForData(): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`board went quiet; host still waiting after ${JSON.stringify(this.fromBoard.join('').slice(-80))}`)), 2000);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }
}

/** The byte-level algorithm of mpremote's SerialTransport (tools/mpremote/mpremote/transport_serial.py). */
class MpremoteHost {
  private useRawPaste = true;

  constructor(private readonly link: SerialLink) {}

  async enterRawRepl(): Promise<void> {
    this.link.write('\r\x03');
    this.link.discardInput();
    this.link.write('\r\x01');
    assert.ok((await this.link.readUntil('raw REPL; CTRL-B to exit\r\n>')).endsWith('raw REPL; CTRL-B to exit\r\n>'));
    this.link.write('\x04');
    await this.link.readUntil('soft reboot\r\n');
    await this.link.readUntil('raw REPL; CTRL-B to exit\r\n');
  }

  async exec(command: string): Promise<{ stdout: string; stderr: string }> {
    await this.link.readUntil('>');
    if (this.useRawPaste) {
      this.link.write('\x05A\x01');
      const answer = await this.link.read(2);
      if (answer === 'R\x01') return this.rawPasteWrite(command).then(() => this.follow());
      if (answer !== 'R\x00') await this.link.readUntil('w REPL; CTRL-B to exit\r\n>');
      this.useRawPaste = false;
    }
    for (let i = 0; i < command.length; i += 256) this.link.write(command.slice(i, i + 256));
    this.link.write('\x04');
    assert.equal(await this.link.read(2), 'OK');
    return this.follow();
  }

  exitRawRepl(): void {
    this.link.write('\r\x02');
  }

  private async rawPasteWrite(command: string): Promise<void> {
    const header = await this.link.read(2);
    const windowSize = header.charCodeAt(0) | (header.charCodeAt(1) << 8);
    let windowRemaining = windowSize;
    let sent = 0;
    while (sent < command.length) {
      while (windowRemaining === 0 || this.link.inWaiting() > 0) {
        const signal = await this.link.read(1);
        if (signal === '\x01') windowRemaining += windowSize;
        else if (signal === '\x04') {
          this.link.write('\x04');
          return;
        } else throw new Error(`unexpected read during raw paste: ${JSON.stringify(signal)}`);
      }
      const chunk = command.slice(sent, sent + windowRemaining);
      this.link.write(chunk);
      windowRemaining -= chunk.length;
      sent += chunk.length;
    }
    this.link.write('\x04');
    await this.link.readUntil('\x04');
  }

  private async follow(): Promise<{ stdout: string; stderr: string }> {
    const stdout = (await this.link.readUntil('\x04')).slice(0, -1);
    const stderr = (await this.link.readUntil('\x04')).slice(0, -1);
    return { stdout, stderr };
  }
}

describe('a host session as mpremote runs it', () => {
  const counter = 'x = 0\n' + 'x = x + 1\n'.repeat(60) + 'print(x)';

  it('interrupts main.py, soft-resets into raw mode and runs raw-paste commands across many windows', async () => {
    const board = new BoardSession({ scripts: { 'boot.py': 'print(1)', 'main.py': 'while True: pass' } });
    const link = new SerialLink(board);
    const host = new MpremoteHost(link);
    board.machine.start();
    for (let turn = 0; turn < 3; turn++) await nextTurn();

    await host.enterRawRepl();
    assert.deepEqual(await host.exec('print(1+2)'), { stdout: '3\r\n', stderr: '' });
    assert.deepEqual(await host.exec(counter), { stdout: '60\r\n', stderr: '' });
    assert.deepEqual(await host.exec('1/0'), { stdout: '', stderr: ZERO_DIVISION });
    host.exitRawRepl();
    await link.readUntil('>>> ');

    const mainInterrupted = `${TRACEBACK}  File "main.py", line 1, in <module>\r\nKeyboardInterrupt: \r\n`;
    const pasteStart = 'R\x01\x80\x00\x01';
    assert.equal(
      link.fromBoard.join(''),
      '1\r\n' +
        mainInterrupted +
        BANNER +
        '\r\n>>> ' + // the \r that was queued behind the interrupt
        '\r\n>>> ' +
        `\r\n${RAW_HEADER}` +
        `OK\r\nMPY: soft reboot\r\n1\r\n${RAW_HEADER}` +
        `${pasteStart}\x043\r\n\x04\x04>` +
        `${pasteStart}\x01\x01\x01\x01\x0460\r\n\x04\x04>` +
        `${pasteStart}\x04\x04${ZERO_DIVISION}\x04>` +
        `\r\n${BANNER}`,
    );
    assert.equal(counter.length, 614);
  });

  it('falls back to plain raw mode on a board that refuses raw paste', async () => {
    const board = new BoardSession({ rawPaste: false });
    const link = new SerialLink(board);
    const host = new MpremoteHost(link);
    await board.boot();
    await host.enterRawRepl();
    assert.deepEqual(await host.exec(counter), { stdout: '60\r\n', stderr: '' });
    assert.deepEqual(await host.exec('print(5)'), { stdout: '5\r\n', stderr: '' });
    assert.equal(link.fromBoard.join('').split('R\x00').length, 2, 'raw paste is tried once per connection');
  });
});
