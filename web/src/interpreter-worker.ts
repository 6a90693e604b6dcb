/** The Web Worker in which the in-page virtual board's MicroPython runs (the browser's twin of src/device/micropython/worker.ts). */
import wasmUrl from '@micropython/micropython-webassembly-pyscript/micropython.wasm?url';
import * as boardModules from '../../src/device/board/esp32-hardware.js';
import { serveInterpreterThread } from '../../src/device/micropython/interpreter-thread.js';
import type { FromWorker, ToWorker, WorkerBootData } from '../../src/device/micropython/protocol.js';

const scope = self as unknown as {
  onmessage: ((event: MessageEvent) => void) | null;
  postMessage(message: FromWorker): void;
  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
};

// The interpreter's memory is shared (SharedArrayBuffer) so that the page can interrupt it; a
// browser's TextDecoder refuses views of shared memory (Node's does not), and Emscripten decodes
// C strings straight from that memory: decode a copy instead.
const decode = TextDecoder.prototype.decode;
TextDecoder.prototype.decode = function (this: TextDecoder, input?: AllowSharedBufferSource, options?: TextDecodeOptions): string {
  const shared = input !== undefined && ArrayBuffer.isView(input) && input.buffer instanceof SharedArrayBuffer;
  return decode.call(this, shared ? (input as Uint8Array).slice() : input, options);
};

// The first message carries what a Node worker gets as workerData.
scope.onmessage = (first: MessageEvent) => {
  scope.onmessage = null;
  void serveInterpreterThread(
    first.data as WorkerBootData,
    (message) => scope.postMessage(message),
    (listener) => scope.addEventListener('message', (event) => listener(event.data as ToWorker)),
    { importModules: async () => boardModules, wasmUrl },
  );
};
