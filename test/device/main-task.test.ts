/**
 * How a program on the virtual ESP32 waits, as MicroPython's main task on a
 * board does (src/device/micropython/main-task.ts): machine.Timer alarms run
 * their callbacks and wake it; on a board-faithful UART console, input that
 * comes while it waits is seen at the next FreeRTOS tick (10 ms), so a reader
 * without a timer loses what overflows the ring meanwhile.
 */
import { strict as assert } from 'node:assert';
import { after, describe, it } from 'node:test';
import type { StrictBoardOptions } from '../../src/device/board-console.js';
import type { VirtualEsp32 } from '../../src/device/virtual-esp32.js';
import { ReplClient } from '../../src/repl/index.js';
import { bootedBoard } from '../helpers/virtual-board.js';

const boards: VirtualEsp32[] = [];
after(async () => {
  for (const board of boards.splice(0)) await board.stop();
});

async function clientOf(strict?: StrictBoardOptions): Promise<{ board: VirtualEsp32; client: ReplClient }> {
  const board = await bootedBoard(strict ? { strict } : {});
  boards.push(board);
  const client = new ReplClient(board.connect());
  await client.enterRawRepl();
  return { board, client };
}

async function run(client: ReplClient, code: string): Promise<string> {
  return Buffer.from(await client.exec(code, { timeoutMs: 20_000 })).toString().replace(/\r\n/g, '\n');
}

describe('machine.Timer', () => {
  it('runs a periodic callback with the timer while the program sleeps, and stops at deinit', async () => {
    const { client } = await clientOf();
    const out = await run(
      client,
      [
        'import machine, time',
        'seen = []',
        't = machine.Timer(0, mode=machine.Timer.PERIODIC, period=20, callback=lambda tm: seen.append(tm))',
        'time.sleep_ms(210)',
        't.deinit()',
        'n = len(seen)',
        'time.sleep_ms(60)',
        'print(n, len(seen) == n, seen[0] is t, repr(t))',
      ].join('\n'),
    );
    const [count, stopped, same, ...rest] = out.trim().split(' ');
    assert.ok(Number(count) >= 9 && Number(count) <= 11, `20 ms alarms in 210 ms: ${count}`);
    assert.equal(stopped, 'True', 'no callback after deinit()');
    assert.equal(same, 'True', 'the callback gets the timer');
    assert.equal(rest.join(' '), 'Timer(0, mode=PERIODIC, period=20)');
  });

  it('fires a one-shot timer once, takes freq=, and prints a failing callback’s traceback without stopping the program', async () => {
    const { client } = await clientOf();
    const out = await run(
      client,
      [
        'import machine, time',
        'seen = []',
        'machine.Timer(1, mode=machine.Timer.ONE_SHOT, period=10, callback=lambda tm: seen.append(1))',
        'machine.Timer(3, freq=100, callback=lambda tm: seen.append(2))',
        'def bad(tm):',
        '    1 / 0',
        'machine.Timer(2, mode=machine.Timer.ONE_SHOT, period=5, callback=bad)',
        'time.sleep_ms(55)',
        'machine.Timer(3).deinit()',
        'print("ones", seen.count(1), "hundred-hertz", seen.count(2))',
      ].join('\n'),
    );
    assert.match(out, /Traceback \(most recent call last\):\n {2}File "<stdin>", line 6, in bad\nZeroDivisionError: divide by zero\n/);
    assert.doesNotMatch(out, /<board>/, 'the board module’s own frames are left out, as a C module has none');
    const match = /ones (\d+) hundred-hertz (\d+)/.exec(out);
    assert.ok(match, out);
    assert.equal(match[1], '1');
    assert.ok(Number(match[2]) >= 4 && Number(match[2]) <= 6, `100 Hz for 55 ms: ${match[2]}`);
  });

  it('refuses positional arguments to init(), calls a missing callback and takes odd periods as the board does', async () => {
    const { client } = await clientOf();
    const out = await run(
      client,
      [
        'import machine, time',
        'try:',
        '    machine.Timer(0).init(1, period=10)',
        'except TypeError:',
        '    print("positional refused")',
        'machine.Timer(0, mode=machine.Timer.ONE_SHOT, period=5)',
        'time.sleep_ms(20)',
        'print("went on")',
        'n = [0, 0]',
        'def count(i):',
        '    n[i] += 1',
        '# period=-1 is 0xFFFFFFFF ms to the port (an unsigned count); period=0 fires as fast as it can.',
        'machine.Timer(1, period=-1, callback=lambda tm: count(0))',
        'machine.Timer(3, period=0, callback=lambda tm: count(1))',
        'time.sleep_ms(20)',
        'machine.Timer(1).deinit()',
        'machine.Timer(3).deinit()',
        'print("never", n[0], "often", n[1] > 1)',
      ].join('\n'),
    );
    assert.match(out, /positional refused\n/);
    assert.match(out, /TypeError: 'NoneType' object isn't callable\nwent on\n/);
    assert.match(out, /never 0 often True\n/);
  });
});

describe('waiting for input on a board-faithful console', () => {
  // At 345,600 baud 34.6 bytes come each millisecond: a reader woken every
  // 10 ms (the tick) finds the ring's 259 bytes overrun; woken every
  // millisecond by a timer alarm it keeps up.
  const UART_BAUD = 345_600;
  const reader = (withTimer: boolean): string =>
    [
      'import machine, micropython, select, sys, time',
      'micropython.kbd_intr(-1)',
      withTimer ? 't = machine.Timer(2, period=1, callback=lambda tm: None)' : 't = None',
      'buf = bytearray(64)',
      'p = select.poll()',
      'p.register(sys.stdin, select.POLLIN)',
      'print("ready")',
      'got = 0',
      'while p.poll(10000):',
      '    sys.stdin.buffer.readinto(buf)',
      '    got += bytes(buf).count(b"A")',
      '    if b"B" in buf:',
      '        break',
      'if t:',
      '    t.deinit()',
      'print("got", got)',
    ].join('\n');

  async function stream(strict: StrictBoardOptions, withTimer: boolean): Promise<{ got: number; dropped: number }> {
    const { board, client } = await clientOf(strict);
    const program = await client.startProgram(reader(withTimer));
    await program.output.readUntil(new TextEncoder().encode('ready\r\n'), { timeoutMs: 10_000 });
    await program.write(new Uint8Array(4096).fill(0x41));
    // Then B's once the A's are in: they fill up the reader's last 64-byte read, however many A's were lost.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await program.write(new Uint8Array(64).fill(0x42));
    const out = Buffer.from(await program.finish({ timeoutMs: 20_000 })).toString();
    const got = Number(/got (\d+)/.exec(out)?.[1]);
    return { got, dropped: board.droppedInput };
  }

  it('UART: a reader that finds stdin empty sees input at the next tick only and loses what overflows the ring; a 1 ms timer alarm wakes it in time', async () => {
    const uart: StrictBoardOptions = { console: 'uart', baud: UART_BAUD };
    const ticked = await stream(uart, false);
    assert.equal(ticked.got + ticked.dropped, 4096);
    assert.ok(ticked.dropped >= 500, `${ticked.dropped} bytes dropped (a 10 ms tick lets ~345 bytes in for the ring's 259)`);
    const woken = await stream(uart, true);
    assert.equal(woken.got + woken.dropped, 4096);
    // Nothing is lost unless this machine stalls the board's thread for 7.5 ms (259 bytes' time): far fewer in any case.
    assert.ok(woken.dropped <= ticked.dropped / 4, `${woken.dropped} bytes dropped with a 1 ms timer, ${ticked.dropped} without`);
  });

  it('input() reads a line typed on a UART console (the bytes cross the timed wire into the ring)', async () => {
    const { client } = await clientOf({ console: 'uart', baud: 115_200 });
    const program = await client.startProgram('x = input("name? ")\nprint("hello", x)');
    await program.output.readUntil('name? ', { timeoutMs: 10_000 });
    await program.write(new TextEncoder().encode('esp\r'));
    assert.equal(Buffer.from(await program.finish({ timeoutMs: 10_000 })).toString(), 'esp\r\nhello esp\r\n');
  });

  it('USB Serial/JTAG: arriving bytes wake the reader (and the link holds back what does not fit)', async () => {
    const { got, dropped } = await stream({ console: 'usb-serial-jtag' }, false);
    assert.equal(dropped, 0);
    assert.equal(got, 4096);
  });
});
