/**
 * How MicroPython's main task on an ESP32 waits, and what wakes it. Runs in
 * the interpreter's worker thread.
 *
 * The ESP32 port waits in MICROPY_EVENT_POLL_HOOK: it runs scheduled
 * callbacks, then `ulTaskNotifyTake(pdFALSE, 1)`, which sleeps until the next
 * FreeRTOS tick (CONFIG_FREERTOS_HZ 100: every 10 ms) unless something
 * notifies the task first (`mp_hal_wake_main_task_from_isr`). A machine.Timer
 * alarm notifies it (ports/esp32/machine_timer.c), and so do the USB consoles
 * (usb.c, usb_serial_jtag.c); the REPL UART's interrupt handler does not
 * (uart.c, v1.23 to v1.28): a program reading a UART console that finds
 * stdin empty sees the next bytes at the next tick at the earliest.
 *
 * Timer callbacks run here, when the program waits (a stdin read, a poll, a
 * sleep, a socket wait), as the hook runs them on a board. A board also runs
 * them between two bytecodes of busy code; the virtual board cannot.
 */
import type { StdinRing } from './stdin-ring.js';
import { wallClockMs, type TimedWire } from './timed-wire.js';

interface Alarm {
  /** When the counter was last (re)started, absolute ms. */
  started: number;
  due: number;
  readonly periodMs: number;
  readonly periodic: boolean;
  readonly fire: () => void;
}

const MIN_PERIOD_MS = 0.01;

export class MainTask {
  private readonly alarms = new Map<number, Alarm>();
  private readonly sleeper = new Int32Array(new SharedArrayBuffer(4));
  private running = false;

  constructor(
    private readonly stdin: StdinRing,
    private readonly wire: TimedWire,
    private readonly onCallbackError: (error: unknown) => void,
  ) {}

  /** machine.Timer(id).init(...): `fire` runs at each alarm (the port schedules the callback). */
  setTimer(id: number, periodMs: number, periodic: boolean, fire: () => void): void {
    const now = wallClockMs();
    // A hardware alarm of 0 ticks fires as fast as its interrupt can: every 10 µs here.
    const period = Math.max(periodMs, MIN_PERIOD_MS);
    this.alarms.set(id, { started: now, due: now + period, periodMs: period, periodic, fire });
  }

  clearTimer(id: number): void {
    this.alarms.delete(id);
  }

  /** machine.Timer.value(): ms counted since the timer started or last reloaded. */
  timerValue(id: number): number {
    const alarm = this.alarms.get(id);
    return alarm ? Math.floor(wallClockMs() - alarm.started) : 0;
  }

  /**
   * Waits until stdin has bytes (true) or `deadline` (absolute ms) passed
   * (false), as mp_hal_stdin_rx_chr and a poll on stdin do: bytes that
   * arrived on the wire move into the ring at each look, and between looks
   * the task sleeps (waitForInput). `checkInterrupt` runs before each sleep
   * (it throws to end the wait on Ctrl-C).
   */
  awaitStdin(checkInterrupt: () => void, deadline = Infinity): boolean {
    for (;;) {
      const seen = this.stdin.signal;
      const nextArrival = this.wire.deliver(this.stdin);
      if (this.stdin.available > 0) return true;
      checkInterrupt();
      if (wallClockMs() >= deadline) return false;
      this.waitForInput(seen, nextArrival, deadline);
    }
  }

  /**
   * One wait for console input that found none: until bytes arrive
   * (`nextArrival`, when the console notifies the task), the next tick (a
   * UART console), a timer alarm or `deadline`.
   */
  private waitForInput(seen: number, nextArrival: number, deadline: number): void {
    const tick = this.wire.wakeTickMs;
    const now = wallClockMs();
    const alarm = this.nextAlarm();
    if (tick > 0) {
      const nextTick = (Math.floor(now / tick) + 1) * tick;
      this.sleepUntil(Math.min(nextTick, alarm, deadline));
    } else {
      this.stdin.waitForSignal(seen, Math.max(0, Math.min(nextArrival, alarm, deadline) - now));
    }
    this.runDueCallbacks();
  }

  /** One wait for anything else (a sleep, a socket): until the doorbell rings, a timer alarm or `deadline`. */
  waitForEvent(seen: number, deadline: number): void {
    const until = Math.min(this.nextAlarm(), deadline);
    this.stdin.waitForSignal(seen, Math.max(0, until - wallClockMs()));
    this.runDueCallbacks();
  }

  /** Runs the callbacks of the alarms that are due, each once (a board's queue holds a few; missed periods are not made up). */
  runDueCallbacks(): void {
    if (this.running || this.alarms.size === 0) return;
    const now = wallClockMs();
    const due = [...this.alarms.entries()].filter(([, alarm]) => alarm.due <= now);
    if (due.length === 0) return;
    this.running = true;
    try {
      for (const [id, alarm] of due) {
        if (alarm.periodic) {
          const periods = Math.floor((now - alarm.started) / alarm.periodMs);
          alarm.started += periods * alarm.periodMs;
          alarm.due = alarm.started + alarm.periodMs;
        } else {
          this.alarms.delete(id);
        }
        try {
          alarm.fire();
        } catch (error) {
          // mp_sched_run_pending calls each callback protected: its exception is printed and the program goes on.
          this.onCallbackError(error);
        }
      }
    } finally {
      this.running = false;
    }
  }

  private nextAlarm(): number {
    let next = Infinity;
    for (const alarm of this.alarms.values()) next = Math.min(next, alarm.due);
    return next;
  }

  private sleepUntil(until: number): void {
    const ms = until - wallClockMs();
    if (ms > 0) Atomics.wait(this.sleeper, 0, 0, ms);
  }
}
