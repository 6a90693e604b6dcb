/**
 * A byte pipe to a board's REPL: USB serial, TCP, WebREPL, or the virtual
 * device in-process. It moves bytes and nothing else: REPL and OTA framing
 * live in the protocol layers above (src/repl, src/ota), so every transport
 * stays small and every protocol is written once.
 */
export interface Transport {
  /** For messages to people, e.g. `/dev/ttyUSB0 (115200 baud)` or `ws://192.168.4.1:8266`; never a password. */
  readonly description: string;
  /**
   * The link carries only valid UTF-8 both ways (a browser's WebSocket to WebREPL):
   * protocols send text there, e.g. base64 transfer frames, and no raw-paste mode.
   */
  readonly textOnly?: boolean;
  /** Resolves once the bytes are handed on (written to the OS, socket or peer); rejects when closed. */
  write(data: Uint8Array): Promise<void>;
  /** Every chunk received, in order, to every listener. Returns the function that removes the listener. */
  onData(listener: (chunk: Uint8Array) => void): () => void;
  /** Called once when the link closes, with the error if it broke. */
  onClose(listener: (error?: Error) => void): () => void;
  close(): Promise<void>;
  readonly closed: boolean;
  /** A serial line's bit rate (UART links only). */
  readonly baudRate?: number;
  /** Changes this end's bit rate (UART links only); the other end must change too, or bytes arrive as garbage. */
  setBaudRate?(baud: number): Promise<void>;
}

export class TransportClosedError extends Error {
  constructor(description: string, cause?: Error) {
    super(`connection to ${description} is closed${cause ? `: ${cause.message}` : ''}`);
    this.name = 'TransportClosedError';
  }
}

/** Shared listener bookkeeping for Transport implementations. */
export class TransportEvents {
  private readonly dataListeners = new Set<(chunk: Uint8Array) => void>();
  private readonly closeListeners = new Set<(error?: Error) => void>();
  private closedWith: { error: Error | undefined } | undefined;

  onData(listener: (chunk: Uint8Array) => void): () => void {
    this.dataListeners.add(listener);
    return () => this.dataListeners.delete(listener);
  }

  onClose(listener: (error?: Error) => void): () => void {
    if (this.closedWith) {
      const { error } = this.closedWith;
      queueMicrotask(() => listener(error));
      return () => undefined;
    }
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  emitData(chunk: Uint8Array): void {
    if (this.closedWith || chunk.length === 0) return;
    for (const listener of [...this.dataListeners]) listener(chunk);
  }

  emitClose(error?: Error): void {
    if (this.closedWith) return;
    this.closedWith = { error };
    for (const listener of [...this.closeListeners]) listener(error);
    this.closeListeners.clear();
    this.dataListeners.clear();
  }
}
