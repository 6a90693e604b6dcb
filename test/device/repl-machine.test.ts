import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { needsContinuation } from '../../src/device/repl/continuation.js';
import { LineEditor, type LineSignal } from '../../src/device/repl/line-editor.js';
import { HISTORY_SIZE, LineHistory } from '../../src/device/repl/line-history.js';
import { OutputBuffer, cook } from '../../src/device/repl/output-buffer.js';
import { ReplMachine, type CodeExecutor, type HardResetReason } from '../../src/device/repl/index.js';
import { BANNER, BoardSession, RAW_HEADER, bytesOf, latin1, nextTurn } from '../fixtures/repl/board-session.js';

describe('needsContinuation (py/repl.c rules)', () => {
  const cases: Array<[string, boolean]> = [
    ['', false],
    ['x = 1', false],
    ['if x:', true],
    ['if x: y = 1', true],
    ['if x:\n    y = 1', true],
    ['if x:\n    y = 1\n', false],
    ['format(1)', false],
    ['iffy = 1', false],
    ['for', true],
    ['while True: pass', true],
    ['try:', true],
    ['with f:', true],
    ['def f():', true],
    ['class A: pass', true],
    ['async def f():', true],
    ['@decorator', true],
    ['else:', false],
    ['(1,', true],
    ['[1,', true],
    ['{1:', true],
    ['(1)', false],
    ['x = "("', false],
    ["x = '(' + (", true],
    ["x = 'it\\'s' + (", true],
    ['x = """abc', true],
    ["x = '''abc\ndef'''", false],
    ['x = "\'\'\'"', false],
    ["x = 'abc", false],
    ["x = ('abc", false],
    ['x = 1 + \\', true],
    ['x = 1 # (', true],
  ];
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input)} → ${expected}`, () => assert.equal(needsContinuation(input), expected));
  }
});

describe('cook', () => {
  it('turns every \\n into \\r\\n and leaves everything else alone', () => {
    assert.equal(latin1(cook(bytesOf('a\nb\r\nc\n\n'))), 'a\r\nb\r\r\nc\r\n\r\n');
    assert.equal(latin1(cook(bytesOf('no newline\r'))), 'no newline\r');
  });
});

describe('LineHistory', () => {
  it('keeps the newest 8 distinct non-empty lines, newest first', () => {
    const history = new LineHistory();
    for (let i = 0; i < 10; i++) history.push(`line${i}`);
    history.push('line9');
    history.push('');
    assert.equal(history.entry(0), 'line9');
    assert.equal(history.entry(HISTORY_SIZE - 1), 'line2');
    assert.equal(history.entry(HISTORY_SIZE), undefined);
    history.push('line8');
    assert.equal(history.entry(0), 'line8', 'only a repeat of the newest entry is skipped');
  });
});

function editorHarness(prompt = '>>> ', previousLines = '') {
  let written = '';
  const out = new OutputBuffer((bytes) => (written += latin1(bytes)));
  const editor = new LineEditor(out, new LineHistory());
  // Auto-indent is switched on by the first line of a statement, as readline_init does.
  if (previousLines.length > 0) editor.begin('');
  editor.begin(prompt, previousLines);
  const feed = (keys: string): { echo: string; signals: LineSignal[] } => {
    const signals: LineSignal[] = [];
    for (const key of keys) {
      const signal = editor.feed(key.charCodeAt(0));
      if (signal) signals.push(signal);
    }
    out.flush();
    const echo = written;
    written = '';
    return { echo, signals };
  };
  out.flush();
  const shownAtBegin = written;
  written = '';
  return { editor, feed, shownAtBegin };
}

describe('LineEditor (shared/readline/readline.c)', () => {
  it('moves home and end with every key variant, long moves as ESC [ n D', () => {
    const { feed } = editorHarness();
    feed('abcdef');
    for (const home of ['\x1b[H', '\x1bOH', '\x1b[1~', '\x1b[7~']) {
      assert.equal(feed(home).echo, '\x1b[6D');
      assert.equal(feed('\x1b[F').echo, 'abcdef');
    }
    feed('\x01');
    assert.equal(feed('\x01').echo, '', 'Ctrl-A at the start of a typed line stays put');
    assert.equal(feed('\x05').echo, 'abcdef', 'Ctrl-E on a typed line is End');
    assert.equal(feed('\x1b[D\x1b[D\x1b[D\x1b[D').echo, '\b\b\b\b');
  });

  it('deletes at the cursor with the Delete key, Ctrl-K and Ctrl-U redrawing the tail', () => {
    const deleteKey = editorHarness();
    deleteKey.feed('abc\x1b[D\x1b[D');
    assert.equal(deleteKey.feed('\x1b[3~').echo, '\x1b[Kc\b');
    assert.equal(deleteKey.editor.text, 'ac');

    const killTail = editorHarness();
    killTail.feed('abc\x02\x02');
    assert.equal(killTail.feed('\x0b').echo, '\x1b[K');
    assert.equal(killTail.editor.text, 'a');

    const killHead = editorHarness();
    killHead.feed('abc\x1b[D');
    assert.equal(killHead.feed('\x15').echo, '\b\b\x1b[Kc\b');
    assert.equal(killHead.editor.text, 'c');
    assert.equal(killHead.feed('\x06').echo, 'c', 'Ctrl-F moves right by redrawing the character');
  });

  it('expands Tab after whitespace to 4 spaces and ignores it elsewhere (no completion)', () => {
    const { feed, editor } = editorHarness();
    assert.equal(feed('x\t').echo, 'x');
    assert.equal(feed(' \t').echo, '     ');
    assert.equal(editor.text, 'x     ');
  });

  it('drops bytes that are neither printable nor keys; \\n does not end a line in v1.23', () => {
    const { feed, editor } = editorHarness();
    assert.deepEqual(feed('a\x00\x07\nb\xe9'), { echo: 'ab', signals: [] });
    assert.equal(editor.text, 'ab');
  });

  it('signals control keys only on an empty line, Ctrl-C and Enter always', () => {
    const { feed } = editorHarness();
    assert.deepEqual(feed('\x01\x02\x03\x04\x05').signals, ['ctrl-a', 'ctrl-b', 'ctrl-c', 'ctrl-d', 'ctrl-e']);
    // Ctrl-D at the end of a typed line deletes nothing; Ctrl-B, Ctrl-A, Ctrl-E move the cursor.
    assert.deepEqual(feed('x\x04\x02\x01\x05\x03').signals, ['ctrl-c']);
    assert.deepEqual(feed('\r'), { echo: '\r\n', signals: ['enter'] });
  });

  it('auto-indents after a colon; a space right after it takes back 3 spaces, a Tab keeps it', () => {
    const spaced = editorHarness('... ', 'if 1:\n');
    assert.equal(spaced.shownAtBegin, '...     ');
    assert.equal(spaced.feed(' ').echo, '\b\b\b');
    assert.equal(spaced.feed('x').echo, 'x');
    assert.equal(spaced.editor.text, 'if 1:\n x');

    const tabbed = editorHarness('... ', 'if 1:\n');
    assert.equal(tabbed.feed('\t').echo, '');
    assert.equal(tabbed.editor.text, 'if 1:\n    ');
  });

  it('indents continuation lines like the previous one, one level deeper after a colon', () => {
    assert.equal(editorHarness('... ', 'if 1:\n    for i in x:\n').shownAtBegin, '... ' + ' '.repeat(8));
    assert.equal(editorHarness('... ', 'if 1:\n    y = 1\n').shownAtBegin, '... ' + ' '.repeat(4));
    assert.equal(editorHarness('... ', '(1,\n').shownAtBegin, '... ');
    assert.equal(editorHarness('... ', 'if 1:\n    y\n    \n    \n').shownAtBegin, '... ', 'not after two blank lines');
  });
});

describe('ReplMachine behaviour', () => {
  it('answers pipelined raw commands in order, none lost', async () => {
    const board = new BoardSession();
    await board.boot();
    assert.equal(
      await board.exchange('\x01print(1)\x04sleep(2)\nprint(2)\x04print(3)\x04'),
      `\r\n${RAW_HEADER}OK1\r\n\x04\x04>OK2\r\n\x04\x04>OK3\r\n\x04\x04>`,
    );
  });

  it('batches the response to one chunk of input into one write', async () => {
    const board = new BoardSession();
    await board.boot();
    const writesBefore = board.writes.length;
    await board.exchange('abcdefgh\x7f\x7f');
    assert.equal(board.writes.length - writesBefore, 1);
  });

  it('treats a failing executor as a panic: hard reset with the error', async () => {
    const failure = new Error('worker died');
    const resets: Array<[HardResetReason, unknown]> = [];
    const executor: CodeExecutor = {
      execute: () => Promise.reject(failure),
      feedInput: () => undefined,
      takeUnreadInput: () => new Uint8Array(),
      softReset: () => Promise.resolve(),
    };
    let output = '';
    const machine = new ReplMachine({
      executor,
      write: (bytes) => (output += latin1(bytes)),
      banner: () => 'MicroPython',
      onHardReset: (reason, error) => resets.push([reason, error]),
    });
    machine.start();
    await machine.idle();
    machine.receive(bytesOf('1\r'));
    await machine.idle();
    assert.deepEqual(resets, [['panic', failure]]);
    assert.equal(machine.isRunning, false);
    assert.equal(output, 'MicroPython\r\nType "help()" for more information.\r\n>>> 1\r\n');
  });

  it('drops input after stop() and ignores output of code that was running when start() came', async () => {
    const board = new BoardSession();
    await board.boot();
    board.send('while True: pass\r\r');
    await nextTurn();
    board.take();
    board.machine.stop();
    board.send('print(1)\r');
    assert.equal(await board.exchange(''), '');
    assert.equal(await board.boot(), BANNER);
    // End the orphaned loop: its KeyboardInterrupt must not reach the host.
    board.executor.feedInput(Uint8Array.of(0x03));
    for (let turn = 0; turn < 3; turn++) await nextTurn();
    assert.equal(board.take(), '');
    assert.equal(await board.exchange('print(2)\r'), 'print(2)\r\n2\r\n>>> ');
  });
});

describe('chunking of host input', () => {
  const counter = 'x = 0\n' + 'x = x + 1\n'.repeat(30) + 'print(x)';
  const sessionWithoutInterrupts = [
    'print(1+2)\r',
    '\x1b[A\r',
    '12\x7f3\r',
    'if 1:\rprint(5)\r\r\r\r',
    '(1 +\r2)\r',
    'abc\x01\x0b\r',
    '\x05x = 4\rx*x\r\x04',
    'sleep(2)\rprint(8)\r',
    '\x01print(7)\x04',
    '1/0\x04',
    `\x05A\x01${counter}\x04`,
    '\x05B\x01',
    '\x04',
    'print(x)\x04',
    '\x02',
    '\x04',
    'print(6)\r',
  ].join('');
  const sessionWithInterrupts = [
    sessionWithoutInterrupts,
    'abc\x03',
    'while True: pass\r\r\x03',
    '\x01junk\x03print(9)\x04',
    '\x05A\x01print(1)\x03',
    'sleep(3)\nprint(4)\x04\x03',
  ].join('');

  async function outputFor(chunks: string[], yieldsBetween: number[] = []): Promise<string> {
    const board = new BoardSession();
    await board.boot();
    for (const [index, chunk] of chunks.entries()) {
      board.send(chunk);
      for (let turn = 0; turn < (yieldsBetween[index] ?? 0); turn++) await nextTurn();
    }
    await board.machine.idle();
    return board.take();
  }

  function split(text: string, cuts: number[]): string[] {
    const points = [...new Set(cuts.map((cut) => cut % (text.length + 1)))].sort((a, b) => a - b);
    const chunks: string[] = [];
    let start = 0;
    for (const point of [...points, text.length]) {
      chunks.push(text.slice(start, point));
      start = point;
    }
    return chunks;
  }

  it('the reference sessions exercise every REPL path', async () => {
    const output = await outputFor([sessionWithInterrupts]);
    for (const expected of ['... ', '=== ', RAW_HEADER, 'R\x01\x80\x00\x01', 'R\x00>', 'MPY: soft reboot', 'KeyboardInterrupt', 'ZeroDivisionError', '30\r\n']) {
      assert.ok(output.includes(expected), `missing ${JSON.stringify(expected)}`);
    }
  });

  it('splitting input into chunks delivered at once never changes the output', async () => {
    const reference = await outputFor([sessionWithInterrupts]);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(), { maxLength: 40 }), async (cuts) => {
        assert.equal(await outputFor(split(sessionWithInterrupts, cuts)), reference);
      }),
      { numRuns: 40 },
    );
  });

  it('chunks arriving at any time, also while code runs or the board resets, give the same output', async () => {
    const reference = await outputFor([sessionWithoutInterrupts]);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.nat(), { maxLength: 30 }),
        fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 31 }),
        async (cuts, yields) => {
          assert.equal(await outputFor(split(sessionWithoutInterrupts, cuts), yields), reference);
        },
      ),
      { numRuns: 40 },
    );
  });
});
