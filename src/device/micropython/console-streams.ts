/**
 * The interpreter's file descriptors 0, 1 and 2 (Emscripten device streams)
 * rewired to the virtual UART:
 * - stdin reads copy whole runs of bytes from the StdinRing straight into
 *   the interpreter's buffer, waiting as the board's main task does while it
 *   is empty (main-task.ts). Ctrl-C
 *   during the wait ends the read with EINTR; MicroPython's read() then calls
 *   mp_handle_pending(true) (MP_HAL_RETRY_SYSCALL), which raises
 *   KeyboardInterrupt at the Python line that was reading.
 * - stdout and stderr writes are handed on at once, as raw bytes.
 * Emscripten's default device ops would call back once per byte instead.
 */
import type { EmscriptenFS, EmscriptenStreamOps } from '@micropython/micropython-webassembly-pyscript';
import type { MainTask } from './main-task.js';
import type { StdinRing } from './stdin-ring.js';
import type { TimedWire } from './timed-wire.js';

/** Emscripten's errno numbering (musl/WASI): EINTR. */
const EINTR = 27;
const POLLIN = 0x001;
const POLLOUT = 0x004;

export interface ConsoleWiring {
  stdin: StdinRing;
  /** Board-faithful mode: bytes on their way into the ring (empty otherwise). */
  wire: TimedWire;
  /** How the program waits for input that is not there yet. */
  mainTask: MainTask;
  /** True when a KeyboardInterrupt is waiting to be raised. */
  isInterruptPending(): boolean;
  /** Called after stdin bytes were consumed and the producer asked to hear about it. */
  onStdinSpace(): void;
  /** Gets a copy of every byte written to stdout or stderr. */
  onOutput(bytes: Uint8Array): void;
}

export function attachConsoleStreams(fs: EmscriptenFS, wiring: ConsoleWiring): void {
  const streamOf = (fd: number) => {
    const stream = fs.getStream(fd);
    if (!stream) throw new Error(`the interpreter has no file descriptor ${fd}`);
    return stream;
  };

  const stdin = streamOf(0);
  stdin.stream_ops = {
    ...stdin.stream_ops,
    read: (_stream, buffer, offset, length) => readStdin(fs, wiring, buffer, offset, length),
    poll: () => {
      wiring.wire.deliver(wiring.stdin);
      return wiring.stdin.available > 0 ? POLLIN : 0;
    },
  } satisfies EmscriptenStreamOps;

  for (const fd of [1, 2]) {
    const stream = streamOf(fd);
    stream.stream_ops = {
      ...stream.stream_ops,
      write: (_stream, buffer, offset, length) => {
        wiring.onOutput(new Uint8Array(buffer.buffer, buffer.byteOffset + offset, length).slice());
        return length;
      },
      poll: () => POLLOUT,
    } satisfies EmscriptenStreamOps;
  }
}

function readStdin(fs: EmscriptenFS, wiring: ConsoleWiring, buffer: Int8Array, offset: number, length: number): number {
  if (length === 0) return 0;
  const target = new Uint8Array(buffer.buffer, buffer.byteOffset + offset, length);
  wiring.mainTask.awaitStdin(() => {
    if (wiring.isInterruptPending()) throw new fs.ErrnoError(EINTR);
  });
  const count = wiring.stdin.read(target);
  if (wiring.stdin.takeWriterWaiting()) wiring.onStdinSpace();
  return count;
}
