/**
 * Finds, in a freshly loaded interpreter, the addresses of the VM state that
 * the keyboard-interrupt line writes. The build exports no symbols for them,
 * so they are found by behaviour: call the exported
 * mp_sched_keyboard_interrupt() and see which words change; call
 * micropython.kbd_intr(x) with unlikely values and see which word holds x.
 * Runs in the worker, before any user code.
 */
import type { MicroPython } from '@micropython/micropython-webassembly-pyscript';
import type { InterruptSites } from './keyboard-interrupt.js';
import { execPrivately } from './private-exec.js';
import type { WasmHeap } from './wasm-heap.js';

interface WordChange {
  address: number;
  before: number;
  after: number;
}

export function probeInterruptSites(mp: MicroPython, heap: WasmHeap): InterruptSites {
  // A KeyboardInterrupt that has been raised once has a traceback buffer, so
  // that the next mp_sched_keyboard_interrupt() visibly clears it.
  mp._module._mp_sched_keyboard_interrupt();
  try {
    execPrivately(mp, 'for _ in (0,):\n    pass');
  } catch {
    // The KeyboardInterrupt just scheduled.
  }
  // The scheduler stays PENDING after a raise until the VM's next check.
  execPrivately(mp, 'for _ in (0, 1):\n    pass');

  const changes = wordChanges(heap, () => mp._module._mp_sched_keyboard_interrupt());
  const pending = changes.find((c) => c.before === 0 && c.after !== 0);
  const scheduler = changes.find((c) => c !== pending && c.before !== c.after && Math.abs(c.before - c.after) === 1);
  const traceback = changes.find(
    (c) => pending !== undefined && c.after === 0 && c.address > pending.after && c.address < pending.after + 32,
  );
  if (!pending || !scheduler || !traceback || changes.length !== 3) {
    throw new Error(`cannot locate the pending-exception state in this MicroPython build (${changes.length} words changed)`);
  }
  for (const change of changes) heap.writeU32(change.address, change.before);

  return {
    pendingException: pending.address,
    schedulerState: scheduler.address,
    keyboardInterrupt: pending.after,
    keyboardTraceback: traceback.address,
    interruptChar: findInterruptChar(mp, heap),
    schedulerIdleValue: scheduler.before,
    schedulerPendingValue: scheduler.after,
  };
}

function wordChanges(heap: WasmHeap, action: () => void): WordChange[] {
  const before = heap.words().slice();
  action();
  const after = heap.words();
  const changes: WordChange[] = [];
  for (let i = 0; i < before.length; i++) {
    if (before[i] !== after[i]) changes.push({ address: i * 4, before: before[i]!, after: after[i]! });
  }
  return changes;
}

function findInterruptChar(mp: MicroPython, heap: WasmHeap): number {
  const marker = 0x5a17c3;
  execPrivately(mp, `import micropython\nmicropython.kbd_intr(${marker})`);
  const words = heap.words();
  const candidates: number[] = [];
  for (let i = 0; i < words.length; i++) if (words[i] === marker) candidates.push(i * 4);
  // Stale copies of the marker (e.g. on the C stack) also match: keep the word
  // that the exported mp_hal_get_interrupt_char() actually reads.
  const found = candidates.filter((address) => {
    heap.writeU32(address, marker + 1);
    const reads = mp._module._mp_hal_get_interrupt_char() === marker + 1;
    heap.writeU32(address, marker);
    return reads;
  });
  execPrivately(mp, 'import micropython\nmicropython.kbd_intr(-1)');
  if (found.length !== 1) {
    throw new Error(`cannot locate mp_interrupt_char in this MicroPython build (${found.length} candidates)`);
  }
  return found[0]!;
}
