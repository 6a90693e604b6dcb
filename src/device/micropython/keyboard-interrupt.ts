/**
 * The keyboard-interrupt line between the host side (main thread) and the
 * interpreter (worker thread), used by both.
 *
 * MicroPython raises KeyboardInterrupt by storing its preallocated exception
 * in `mp_pending_exception` and setting `sched_state` to PENDING; the VM tests
 * `sched_state` at every branch. A board's UART interrupt handler does this
 * (`mp_sched_keyboard_interrupt`). Here the interpreter's memory is shared, so
 * the main thread performs the same stores while the worker is busy in Python
 * code, even in a loop that never calls out.
 *
 * A small control block (its own SharedArrayBuffer) says whether code is
 * running, under a spin lock so that an interrupt never lands after the worker
 * has cleared the state at the end of a run (it would fire in the next run).
 */

/** Byte addresses in the interpreter's memory, found by probe-interpreter.ts. */
export interface InterruptSites {
  /** MP_STATE_THREAD(mp_pending_exception) */
  pendingException: number;
  /** MP_STATE_VM(sched_state) */
  schedulerState: number;
  /** MP_STATE_VM(mp_kbd_exception): the preallocated KeyboardInterrupt. */
  keyboardInterrupt: number;
  /** Its traceback_data field, cleared before each raise like the C code does. */
  keyboardTraceback: number;
  /** mp_interrupt_char, as set by micropython.kbd_intr(). */
  interruptChar: number;
  schedulerIdleValue: number;
  schedulerPendingValue: number;
}

export const DEFAULT_INTERRUPT_CHAR = 0x03;
export const NO_INTERRUPT_CHAR = -1;

const LOCK = 0;
const RUN_STATE = 1;
const DEFERRED_INTERRUPT = 2;
const CONTROL_WORDS = 4;

const IDLE = 0;
/** execute() was sent; the worker has not started the code yet. */
const STARTING = 1;
const RUNNING = 2;

export function allocateInterruptControl(): SharedArrayBuffer {
  return new SharedArrayBuffer(CONTROL_WORDS * 4);
}

export class KeyboardInterruptLine {
  private readonly control: Int32Array;
  private readonly vm: Int32Array;

  constructor(
    control: SharedArrayBuffer,
    interpreterMemory: SharedArrayBuffer,
    private readonly sites: InterruptSites,
  ) {
    this.control = new Int32Array(control);
    this.vm = new Int32Array(interpreterMemory);
  }

  // ---- main thread ----

  /** Call before handing code to the worker. */
  markStarting(): void {
    this.locked(() => Atomics.store(this.control, RUN_STATE, STARTING));
  }

  /**
   * The byte that raises KeyboardInterrupt right now, or -1: 0x03 by default
   * while code runs (pyexec sets it before every run), whatever the code set
   * with micropython.kbd_intr() since, and none while no code runs.
   */
  interruptChar(): number {
    switch (Atomics.load(this.control, RUN_STATE)) {
      case RUNNING:
        return Atomics.load(this.vm, this.sites.interruptChar >> 2);
      case STARTING:
        return DEFAULT_INTERRUPT_CHAR;
      default:
        return NO_INTERRUPT_CHAR;
    }
  }

  /** Raises KeyboardInterrupt in the running code (or as soon as it starts). */
  interrupt(): void {
    this.locked(() => {
      const state = Atomics.load(this.control, RUN_STATE);
      if (state === RUNNING) this.schedule();
      else if (state === STARTING) Atomics.store(this.control, DEFERRED_INTERRUPT, 1);
    });
  }

  // ---- worker thread ----

  enterRunning(): void {
    this.locked(() => {
      this.clearPending();
      Atomics.store(this.vm, this.sites.interruptChar >> 2, DEFAULT_INTERRUPT_CHAR);
      Atomics.store(this.control, RUN_STATE, RUNNING);
      if (Atomics.exchange(this.control, DEFERRED_INTERRUPT, 0) === 1) this.schedule();
    });
  }

  leaveRunning(): void {
    this.locked(() => {
      Atomics.store(this.control, RUN_STATE, IDLE);
      Atomics.store(this.control, DEFERRED_INTERRUPT, 0);
      this.clearPending();
    });
  }

  /** Makes the exception object at `exceptionAddress` the one the VM raises at its next check. */
  scheduleException(exceptionAddress: number): void {
    this.locked(() => {
      Atomics.store(this.vm, this.sites.pendingException >> 2, exceptionAddress);
      this.markSchedulerPending();
    });
  }

  /** True when the VM will raise an exception at its next check. */
  isPending(): boolean {
    return Atomics.load(this.vm, this.sites.pendingException >> 2) !== 0;
  }

  // ---- both ----

  /** The stores of mp_sched_keyboard_interrupt(), in the same order. */
  private schedule(): void {
    const { sites, vm } = this;
    Atomics.store(vm, sites.keyboardTraceback >> 2, 0);
    Atomics.store(vm, sites.pendingException >> 2, sites.keyboardInterrupt);
    this.markSchedulerPending();
  }

  private markSchedulerPending(): void {
    const { sites } = this;
    Atomics.compareExchange(this.vm, sites.schedulerState >> 2, sites.schedulerIdleValue, sites.schedulerPendingValue);
  }

  /**
   * Only the pending exception is cleared: a scheduler state left PENDING
   * makes the VM call mp_handle_pending once, which finds nothing and
   * returns the state to IDLE (it may also have callbacks queued).
   */
  private clearPending(): void {
    Atomics.store(this.vm, this.sites.pendingException >> 2, 0);
  }

  private locked(action: () => void): void {
    while (Atomics.compareExchange(this.control, LOCK, 0, 1) !== 0) {
      // Held by the other thread for a handful of stores.
    }
    try {
      action();
    } finally {
      Atomics.store(this.control, LOCK, 0);
    }
  }
}
