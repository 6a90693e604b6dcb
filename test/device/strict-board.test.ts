/**
 * Board-faithful ("strict") mode of the virtual ESP32: a stdin ring of 259
 * bytes that drops (UART) or holds back (USB Serial/JTAG) what does not fit,
 * the console's bit rate, and flash operations that block the interpreter.
 * Flash time is scaled down (declared) to keep the tests fast.
 */
import { strict as assert } from 'node:assert';
import { after, describe, it } from 'node:test';
import { consoleStdin, ESP32_STDIN_RING_BYTES, type StrictBoardOptions } from '../../src/device/board-console.js';
import type { VirtualEsp32 } from '../../src/device/virtual-esp32.js';
import { nativeSha256 } from '../../src/node/native-hash.js';
import { transferImage, type TransferOptions } from '../../src/ota/transfer.js';
import { ReplClient, type RunningProgram } from '../../src/repl/index.js';
import type { Transport } from '../../src/transport/transport.js';
import { bootedBoard } from '../helpers/virtual-board.js';
import { compressibleImage } from '../ota/transfer-helpers.js';

const OTA_1 = 0x1d0000;
const FAST: TransferOptions = { sha256: nativeSha256, idleTimeoutMs: 2000 };
/** A tenth of the datasheet time: a 64 KiB group write still blocks 25 ms, 2.3 KB of 921,600-baud traffic. */
const FLASH_TIME_SCALE = 0.1;

const boards: VirtualEsp32[] = [];
after(async () => {
  for (const board of boards.splice(0)) await board.stop();
});

async function strictBoard(strict: StrictBoardOptions): Promise<VirtualEsp32> {
  const board = await bootedBoard({ strict });
  boards.push(board);
  return board;
}

function partitionHolds(board: VirtualEsp32, image: Uint8Array): boolean {
  return Buffer.from(board.flash.read(OTA_1, image.length)).equals(Buffer.from(image));
}

describe('board-faithful virtual ESP32', () => {
  it('takes the console driver of each kind and version from the port sources', () => {
    assert.deepEqual(consoleStdin('uart', 'v1.27.0'), { limit: ESP32_STDIN_RING_BYTES, overflow: 'dropped', wakeTickMs: 10 });
    assert.equal(consoleStdin('usb-serial-jtag', 'v1.23.0').wakeTickMs, undefined, 'usb_serial_jtag.c wakes the main task');
    assert.equal(consoleStdin('usb-cdc', 'v1.23.0').wakeTickMs, undefined, 'usb.c wakes the main task');
    assert.equal(consoleStdin('usb-serial-jtag', 'v1.23.0').overflow, 'queued');
    assert.equal(consoleStdin('usb-cdc', 'v1.23.0').overflow, 'dropped', 'ports/esp32/usb.c puts every byte with ringbuf_put');
    assert.equal(consoleStdin('usb-cdc', 'v1.24.0').overflow, 'queued', 'shared/tinyusb/mp_usbd_cdc.c waits for room');
  });

  it('blocks the interpreter for the flash time while the UART keeps filling the ring, and drops what does not fit', async () => {
    const board = await strictBoard({ console: 'uart', baud: 921_600, flashTimeScale: 1 });
    const link = board.connect();
    const client = new ReplClient(link);
    await client.enterRawRepl();
    // A 64 KiB writeblocks (one block erase, 256 page programs: 252 ms typical); the host sends 2,000 bytes meanwhile.
    const program = await client.startProgram(
      [
        'import esp32, sys, time, micropython',
        'micropython.kbd_intr(-1)',
        'p = esp32.Partition(esp32.Partition.RUNNING).get_next_update()',
        'b = bytearray(65536)',
        'print("go")',
        't = time.ticks_ms()',
        'p.writeblocks(0, b)',
        'dt = time.ticks_diff(time.ticks_ms(), t)',
        `got = sys.stdin.buffer.read(${ESP32_STDIN_RING_BYTES})`,
        'micropython.kbd_intr(3)',
        'print(dt, len(got), got[:8])',
      ].join('\n'),
    );
    await program.output.readUntil('go', { timeoutMs: 10_000, waitingFor: 'go' });
    await link.write(new Uint8Array(2000).fill(0x41));
    const out = new TextDecoder().decode(await program.finish({ timeoutMs: 10_000 }));
    const [ms, length] = out.trim().split(/\s+/).slice(-3).map(Number);
    assert.ok(ms! >= 250, `writeblocks of 64 KiB blocked ${ms} ms`);
    assert.equal(length, ESP32_STDIN_RING_BYTES);
    assert.equal(board.droppedInput, 2000 - ESP32_STDIN_RING_BYTES, 'the ring kept 259 bytes and dropped the rest');
  });

  it('loses bytes when the window is larger than the ring, and the transfer recovers; the default window loses none', async () => {
    // More than one 64 KiB group: the agent writes flash (and cannot read stdin) while the host still has data in flight.
    const image = compressibleImage(20 * 4096 + 123, 3);
    for (const window of [4096, undefined]) {
      const board = await strictBoard({ console: 'uart', baud: 921_600, flashTimeScale: FLASH_TIME_SCALE });
      const link = board.connect();
      const result = await transferImage(new ReplClient(link), link, image, { ...FAST, ...(window && { window }) });
      assert.ok(partitionHolds(board, image), `window ${result.window}`);
      if (window) {
        assert.ok(board.droppedInput > 0, 'the UART dropped bytes');
        assert.ok(result.retransmits > 0, `${result.retransmits} retransmits`);
      } else {
        assert.equal(result.window, 256, 'the agent announces a board window on a strict board');
        assert.equal(board.droppedInput, 0, 'nothing dropped');
        assert.equal(result.retransmits, 0);
      }
      await board.stop();
    }
  });

  it('holds bytes back on USB Serial/JTAG instead of dropping them: a large window is safe there', async () => {
    const image = compressibleImage(24 * 4096 + 123, 4);
    const board = await strictBoard({ console: 'usb-serial-jtag', flashTimeScale: FLASH_TIME_SCALE });
    const link = board.connect();
    const result = await transferImage(new ReplClient(link), link, image, { ...FAST, window: 16_384 });
    assert.equal(board.droppedInput, 0);
    assert.equal(result.retransmits, 0);
    assert.ok(partitionHolds(board, image));
  });

  it('changes the REPL UART rate with machine.UART(0, baudrate=…) as ports/esp32 v1.23 does: soft reset keeps it, hard reset restores 115,200', async () => {
    const board = await strictBoard({ console: 'uart', baud: 115_200, flashTimeScale: FLASH_TIME_SCALE });
    const link = board.connect();
    const client = new ReplClient(link);
    await client.enterRawRepl();
    // Without timeout_char the port calls uart_set_rx_full_threshold, which needs a driver: OSError, after the rate changed.
    const refused = await client.startProgram(
      // The sleep lets the raw REPL's reply leave at 115,200 first (the port does not wait for its TX FIFO without a driver).
      'import machine, time\ntime.sleep_ms(50)\ntry:\n machine.UART(0, baudrate=230400)\nexcept OSError as e:\n err = e\ntime.sleep_ms(300)\nprint("refused", err)',
    );
    await link.setBaudRate!(230_400);
    assert.match(await program(refused), /refused \(-259, 'ESP_ERR_INVALID_STATE'\)/, 'the answer comes at 230,400 baud');
    assert.match(await program(await client.startProgram('import machine\nprint(machine.UART(0, timeout_char=10))')), /UART\(0, baudrate=230400/);
    await assert.rejects(client.startProgram('import machine\nmachine.UART(0, rxbuf=1024)').then(program), /UART buffer size is fixed/);
    await client.enterRawRepl({ softReset: true });
    assert.match(await program(await client.startProgram('import machine\nprint(machine.UART(0, timeout_char=10))')), /baudrate=230400/, 'a soft reset keeps the rate');
    await board.reset();
    await link.setBaudRate!(115_200);
    await client.enterRawRepl();
    assert.match(await program(await client.startProgram('import machine\nprint(machine.UART(0, timeout_char=10))')), /baudrate=115200/, 'a hard reset puts back 115,200');
  });

  it('runs the transfer at a faster UART rate when the host follows, and falls back to the old rate when it cannot', async () => {
    const image = compressibleImage(6 * 4096 + 123, 5);
    const board = await strictBoard({ console: 'uart', baud: 115_200, flashTimeScale: FLASH_TIME_SCALE });
    const link = board.connect();
    const fast = await transferImage(new ReplClient(link), link, image, { ...FAST, baud: 921_600 });
    assert.equal(fast.baud, 921_600, 'the frames went at 921,600 baud');
    assert.ok(partitionHolds(board, image));
    assert.equal(link.baudRate, 115_200, 'the host is back at the old rate');

    // A serial port that cannot do the rate: the agent hears no probe, goes back, and the transfer goes on at 115,200.
    const stuck: Transport = { ...link, description: link.description, closed: false, baudRate: 115_200, setBaudRate: () => Promise.reject(new Error('rate not supported')) };
    Object.defineProperty(stuck, 'closed', { get: () => link.closed });
    const image2 = compressibleImage(6 * 4096 + 77, 6);
    const slow = await transferImage(new ReplClient(stuck), stuck, image2, { ...FAST, baud: 921_600 });
    assert.equal(slow.baud, 115_200, 'fell back to the old rate');
    assert.ok(partitionHolds(board, image2));

    // The host switches, but its bridge garbles the new rate: no answer to the probe, both go back.
    let garbled = false;
    const liar: Transport = { ...link, baudRate: 115_200, setBaudRate: async (baud) => { garbled = baud !== 115_200; await link.setBaudRate!(baud === 115_200 ? 115_200 : 460_800); } };
    Object.defineProperty(liar, 'closed', { get: () => link.closed });
    const image3 = compressibleImage(6 * 4096 + 5, 7);
    const back = await transferImage(new ReplClient(liar), liar, image3, { ...FAST, baud: 921_600 });
    assert.equal(back.baud, 115_200);
    assert.equal(garbled, false, 'the host went back to 115,200');
    assert.ok(partitionHolds(board, image3));
    // The REPL still answers at 115,200.
    const client = new ReplClient(link);
    await client.enterRawRepl();
    assert.match(await program(await client.startProgram('print(6 * 7)')), /42/);
  });

  it('refuses a rate change on a link without a UART rate before sending anything', async () => {
    const board = await strictBoard({ console: 'usb-cdc', flashTimeScale: FLASH_TIME_SCALE });
    const link = board.connect();
    await assert.rejects(transferImage(new ReplClient(link), link, compressibleImage(4096, 1), { ...FAST, baud: 921_600 }), /has no UART rate to change/);
  });
});

async function program(running: RunningProgram): Promise<string> {
  return new TextDecoder().decode(await running.finish({ timeoutMs: 3000 }));
}
