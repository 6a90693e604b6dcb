/**
 * A `navigator.serial` for the page under test, injected before its scripts
 * run (Playwright's addInitScript serialises this function, so it must not
 * use anything from outside its body). Each open() of a port is one WebSocket
 * to the test's bridge (web-serial-bridge.ts): binary frames are the port's
 * bytes both ways, text frames the port's control calls. It keeps the Web
 * Serial rules the page could trip over (WICG Web Serial, SerialPort): open()
 * twice or setSignals() on a closed port is an InvalidStateError, close() with
 * a locked stream rejects, a lost device errors both streams with a
 * NetworkError and cannot be opened again.
 */

/** Close code the bridge uses for "the USB device went away". */
export const DEVICE_LOST_CODE = 4000;

export function installFakeWebSerial({ bridgeUrl, deviceLostCode }: { bridgeUrl: string; deviceLostCode: number }): void {
  type Controller = ReadableStreamDefaultController<Uint8Array>;
  const lostError = (): DOMException => new DOMException('The device has been lost.', 'NetworkError');

  class FakeSerialPort extends EventTarget {
    readable: ReadableStream<Uint8Array> | null = null;
    writable: WritableStream<Uint8Array> | null = null;
    private socket: WebSocket | undefined;
    /** The device went away (unplugged): this port cannot be opened again. */
    lost = false;

    getInfo(): { usbVendorId: number; usbProductId: number } {
      return { usbVendorId: 0x10c4, usbProductId: 0xea60 }; // a CP2102 bridge, as on many ESP32 dev boards
    }

    async open(options: { baudRate: number }): Promise<void> {
      if (this.socket) throw new DOMException('The port is already open.', 'InvalidStateError');
      if (!(Number.isInteger(options?.baudRate) && options.baudRate > 0)) throw new TypeError('Failed to execute open on SerialPort: baudRate must be a positive integer.');
      if (this.lost) throw new DOMException('Failed to open serial port.', 'NetworkError');
      const socket = new WebSocket(bridgeUrl);
      socket.binaryType = 'arraybuffer';
      await new Promise<void>((resolve, reject) => {
        socket.onopen = () => resolve();
        socket.onerror = () => reject(new DOMException('Failed to open serial port.', 'NetworkError'));
      });
      socket.send(JSON.stringify({ kind: 'open', baudRate: options.baudRate }));
      this.socket = socket;
      let reading: Controller | undefined;
      let writing: WritableStreamDefaultController | undefined;
      this.readable = new ReadableStream<Uint8Array>({
        start: (controller) => void (reading = controller),
      });
      this.writable = new WritableStream<Uint8Array>({
        start: (controller) => void (writing = controller),
        write: (chunk) => {
          if (this.lost) throw lostError();
          socket.send(chunk.slice());
        },
      });
      socket.onmessage = (event: MessageEvent) => {
        if (event.data instanceof ArrayBuffer) reading?.enqueue(new Uint8Array(event.data));
      };
      socket.onclose = (event: { code: number }) => {
        if (event.code !== deviceLostCode) return;
        this.lost = true;
        this.socket = undefined;
        reading?.error(lostError());
        writing?.error(lostError());
        this.readable = null;
        this.writable = null;
        this.dispatchEvent(new Event('disconnect'));
        serial.dispatchEvent(new Event('disconnect'));
      };
    }

    async setSignals(signals: { dataTerminalReady?: boolean; requestToSend?: boolean; break?: boolean }): Promise<void> {
      if (!this.socket) throw new DOMException('The port is closed.', 'InvalidStateError');
      if (signals.dataTerminalReady === undefined && signals.requestToSend === undefined && signals.break === undefined) {
        throw new TypeError('Signals dictionary is empty.');
      }
      this.socket.send(JSON.stringify({ kind: 'signals', dtr: signals.dataTerminalReady, rts: signals.requestToSend }));
    }

    async close(): Promise<void> {
      if (!this.socket && !this.lost) throw new DOMException('The port is already closed.', 'InvalidStateError');
      if (this.readable?.locked || this.writable?.locked) throw new TypeError('Cannot cancel a locked stream');
      await this.readable?.cancel();
      await this.writable?.abort();
      this.readable = null;
      this.writable = null;
      this.socket?.close(1000, 'closed');
      this.socket = undefined;
    }
  }

  class FakeSerial extends EventTarget {
    private granted: FakeSerialPort[] = [];
    /** The chooser: always the newest port (a board plugged in again is a new port). */
    async requestPort(): Promise<FakeSerialPort> {
      const port = new FakeSerialPort();
      this.granted.push(port);
      return port;
    }
    async getPorts(): Promise<FakeSerialPort[]> {
      return this.granted.filter((port) => !port.lost);
    }
  }

  const serial = new FakeSerial();
  const navigatorClass = (globalThis as unknown as { Navigator: { prototype: object } }).Navigator;
  Object.defineProperty(navigatorClass.prototype, 'serial', { get: () => serial, configurable: true });
}
