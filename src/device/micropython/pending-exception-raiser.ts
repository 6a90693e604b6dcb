/**
 * Makes the VM raise its pending exception (a KeyboardInterrupt from the
 * interrupt line) from inside a JavaScript function that Python called, e.g.
 * our time.sleep, so the traceback points at the line that called it, as on a
 * board where mp_hal_delay_ms() polls for pending exceptions.
 *
 * No export of the build does "raise the pending exception" without catching
 * it. The C implementation of select.poll.poll(), though, waits through
 * mp_event_wait_ms(), which calls mp_handle_pending(true) and raises. Called
 * straight from the function table it raises through emscripten's
 * setjmp/longjmp emulation (a thrown JS value) into the nearest nlr handler:
 * that of the Python frame that called us, exactly as if the C code of our
 * function had raised.
 */
import type { MicroPython, PyProxy } from '@micropython/micropython-webassembly-pyscript';
import type { WasmTable } from './load-interpreter.js';
import type { WasmHeap } from './wasm-heap.js';

/** MicroPython's small-int encoding (object representation A). */
const smallInt = (value: number): number => (value << 1) | 1;

/** mp_obj_bound_meth_t {base, meth, self} and mp_obj_fun_builtin_var_t {base, sig, fun}. */
const BOUND_METHOD_FUNCTION_OFFSET = 4;
const BUILTIN_FUNCTION_POINTER_OFFSET = 8;

export class PendingExceptionRaiser {
  private constructor(
    private readonly pollWithTimeout: () => void,
    /** Also keeps the poll object alive: the proxy table is a GC root. */
    private readonly poller: PyProxy,
  ) {}

  static install(mp: MicroPython, heap: WasmHeap, table: WasmTable): PendingExceptionRaiser {
    const builtins = mp.pyimport('builtins');
    const poller = mp.pyimport('select').poll();
    const pollerAddress = Number(builtins.id(poller));
    const boundMethodAddress = Number(builtins.id(poller.poll));
    const functionObject = heap.readU32(boundMethodAddress + BOUND_METHOD_FUNCTION_OFFSET);
    const tableIndex = heap.readU32(functionObject + BUILTIN_FUNCTION_POINTER_OFFSET);
    const pollFunction = tableIndex < table.length ? table.get(tableIndex) : undefined;
    if (typeof pollFunction !== 'function' || pollFunction.length !== 2) {
      throw new Error('cannot find select.poll.poll in the function table of this MicroPython build');
    }
    // args = (poller, 1): poll for at most 1 ms, which checks pending exceptions.
    const args = heap.allocate(new Uint8Array(8));
    heap.writeU32(args, pollerAddress);
    heap.writeU32(args + 4, smallInt(1));
    return new PendingExceptionRaiser(() => void pollFunction(2, args), poller);
  }

  /**
   * Raises the pending exception into the Python code that called the current
   * JavaScript function; does not return if one is pending. Call only from a
   * JavaScript function that Python called.
   */
  raisePending(): void {
    this.pollWithTimeout();
  }

  /**
   * From JavaScript outside any Python call: the pending exception comes back
   * as a thrown PythonError with MicroPython's own text, like the final
   * mp_handle_pending(true) of pyexec after a program ends.
   */
  throwPendingAsPythonError(): void {
    this.poller.poll(1);
  }
}
