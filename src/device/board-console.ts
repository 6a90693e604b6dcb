/**
 * Board-faithful ("strict") mode of the virtual ESP32: how bytes from the
 * host reach MicroPython's stdin on a real board, by console kind, as the
 * ESP32 port's sources have it (findings in docs/virtual-device.md):
 *
 * - `uart`: the REPL UART's interrupt handler (ports/esp32/uart.c, in IRAM,
 *   so it runs during flash operations) moves the 128-byte RX FIFO into
 *   `stdin_ringbuf` whenever 120 bytes have arrived or the line has been idle
 *   for one byte time; `ringbuf_put` drops each byte that finds the ring full.
 * - `usb-serial-jtag` (C3, S3, C6; ports/esp32/usb_serial_jtag.c): takes only
 *   as many bytes from the USB FIFO as the ring has room for; the USB
 *   hardware holds the rest back (back-pressure, nothing lost).
 * - `usb-cdc` (S2, S3, TinyUSB): up to v1.23 ports/esp32/usb.c forwards every
 *   byte TinyUSB received with `ringbuf_put` (dropped on a full ring); from
 *   v1.24 shared/tinyusb/mp_usbd_cdc.c leaves bytes in TinyUSB's FIFO while
 *   the ring is full (back-pressure).
 *
 * The ring is `stdin_ringbuf_array[260]` in ports/esp32/mphalport.c; a
 * py/ringbuf.h ring holds one byte less than its array.
 *
 * A program that reads stdin and finds it empty sleeps in
 * MICROPY_EVENT_POLL_HOOK until something notifies the main task or the next
 * FreeRTOS tick: the USB consoles notify it, the UART's handler does not, so
 * on a UART console input is seen at the next 10 ms tick (main-task.ts).
 */
import type { StdinModel } from './micropython/micropython-worker.js';
import type { ThrottleOptions } from '../transport/throttled.js';

export const CONSOLE_KINDS = ['uart', 'usb-cdc', 'usb-serial-jtag'] as const;
export type ConsoleKind = (typeof CONSOLE_KINDS)[number];

/** Unread bytes MicroPython's ESP32 port keeps for stdin. */
export const ESP32_STDIN_RING_BYTES = 259;
/** RXFIFO_FULL_THR of ports/esp32/uart.c: SOC_UART_FIFO_LEN (128 on the ESP32) − 8. */
export const UART_RX_FIFO_THRESHOLD = 120;
export const DEFAULT_UART_BAUD = 115_200;
/** CONFIG_FREERTOS_HZ of MicroPython's ESP32 builds: ESP-IDF's default 100 (ports/esp32/boards/sdkconfig.base leaves it). */
export const FREERTOS_TICK_MS = 10;

/**
 * USB full speed, bulk endpoints of 64-byte packets: at most 19 packets in a
 * 1 ms frame (USB 2.0, 5.8.4), 1,216,000 bytes/s, and a byte waits for its
 * frame. A model of the bus limit, not a measurement of either USB
 * peripheral: real throughput is at most this.
 */
const USB_FULL_SPEED_BULK: ThrottleOptions = { bitsPerSecond: 19 * 64 * 8 * 1000, bitsPerByte: 8, sliceBytes: 64, latencyMs: 1 };

/**
 * When bytes cross the console's wire: each write is cut into runs (the
 * UART's FIFO threshold, a USB packet) that follow each other at the link's
 * rate (or the rate given, for a UART whose rate changed), after whatever is
 * still on the wire. Absolute ms (wallClockMs). Counts the time the wire was
 * busy, the bound a transfer is measured against.
 */
export class ConsoleWireClock {
  private busyUntil = 0;
  /** Milliseconds the wire has carried bytes, at the rates they were sent. */
  busyMs = 0;

  constructor(private readonly wire: ThrottleOptions) {}

  stamp(bytes: Uint8Array, now: number, bitsPerSecond = this.wire.bitsPerSecond): { bytes: Uint8Array; arrivesAt: number }[] {
    const runs: { bytes: Uint8Array; arrivesAt: number }[] = [];
    const slice = this.wire.sliceBytes ?? 1;
    const bytesPerMs = bitsPerSecond / (this.wire.bitsPerByte ?? 10) / 1000;
    let at = Math.max(now, this.busyUntil);
    for (let offset = 0; offset < bytes.length; offset += slice) {
      const run = bytes.subarray(offset, offset + slice);
      at += run.length / bytesPerMs;
      runs.push({ bytes: run, arrivesAt: at + (this.wire.latencyMs ?? 0) });
    }
    this.busyMs += bytes.length / bytesPerMs;
    this.busyUntil = at;
    return runs;
  }
}

/**
 * The REPL UART's bit rate, shared by the board's thread (machine.UART(0,
 * baudrate=…) sets it) and the console's wire on the main thread. A hard
 * reset puts back MICROPY_HW_UART_REPL_BAUD (ports/esp32/uart.c
 * uart_stdout_init runs once per boot); a soft reset keeps it.
 */
export class ConsoleBaud {
  readonly cell: Int32Array;

  constructor(buffer = new SharedArrayBuffer(4)) {
    this.cell = new Int32Array(buffer);
  }

  get rate(): number {
    return Atomics.load(this.cell, 0);
  }

  set rate(baud: number) {
    Atomics.store(this.cell, 0, baud);
  }
}

/** Bytes a UART running at `heardBaud` makes of `bytes` sent at `sentBaud`: the same bytes when the rates agree (within 3%, a UART's tolerance), else framing garbage. */
export function heardAt(bytes: Uint8Array, sentBaud: number, heardBaud: number): Uint8Array {
  if (Math.abs(sentBaud - heardBaud) <= 0.03 * heardBaud) return bytes;
  // A faster receiver samples several characters per byte sent, a slower one merges bytes; none of
  // them comes out as a control character, a newline or '@' that a protocol would act on.
  const count = Math.max(1, Math.round((bytes.length * heardBaud) / sentBaud));
  const noise = new Uint8Array(count);
  for (let i = 0; i < count; i++) noise[i] = GARBAGE[(bytes[i % bytes.length]! + i) % GARBAGE.length]!;
  return noise;
}

const GARBAGE = [0x00, 0x80, 0xe0, 0xf0, 0xf8, 0xfc, 0xfe, 0xff];

export interface StrictBoardOptions {
  readonly console: ConsoleKind;
  /** UART bit rate, 8N1 (default 115,200 as MICROPY_HW_UART_REPL_BAUD). */
  readonly baud?: number;
  /** Flash erase/program take their datasheet time times this (default 1: real time). */
  readonly flashTimeScale?: number;
}

/** The virtual wire between host and board for a console kind. */
export function consoleWire(options: StrictBoardOptions): ThrottleOptions {
  if (options.console !== 'uart') return USB_FULL_SPEED_BULK;
  const baud = options.baud ?? DEFAULT_UART_BAUD;
  if (!(Number.isInteger(baud) && baud >= 300 && baud <= 5_000_000)) throw new RangeError(`a UART runs at 300 to 5,000,000 baud, not ${baud}`);
  return { bitsPerSecond: baud, bitsPerByte: 10, sliceBytes: UART_RX_FIFO_THRESHOLD };
}

/** How the console driver of MicroPython `version` (e.g. 'v1.23.0') fills stdin. */
export function consoleStdin(kind: ConsoleKind, version: string): StdinModel {
  const dropping = kind === 'uart' || (kind === 'usb-cdc' && !atLeast(version, 1, 24));
  return {
    limit: ESP32_STDIN_RING_BYTES,
    overflow: dropping ? 'dropped' : 'queued',
    // The USB consoles notify the main task when bytes come (mp_hal_wake_main_task); the UART's handler does not.
    ...(kind === 'uart' && { wakeTickMs: FREERTOS_TICK_MS }),
  };
}

function atLeast(version: string, major: number, minor: number): boolean {
  const match = /^v?(\d+)\.(\d+)/.exec(version);
  if (!match) return true;
  const [have, haveMinor] = [Number(match[1]), Number(match[2])];
  return have > major || (have === major && haveMinor >= minor);
}

export function describeConsole(options: StrictBoardOptions): string {
  const scale = options.flashTimeScale ?? 1;
  const link = options.console === 'uart' ? `UART ${(options.baud ?? DEFAULT_UART_BAUD).toLocaleString('en')} baud 8N1` : `${options.console} (USB full-speed bulk)`;
  return `board-faithful: ${link}, ${ESP32_STDIN_RING_BYTES}-byte stdin ring, flash time ×${scale}`;
}
