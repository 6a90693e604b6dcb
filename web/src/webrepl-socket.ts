/**
 * WebREPL from a browser: the page's own WebSocket with the project's login
 * code (src/webrepl/webrepl-protocol.ts). A browser sends only valid UTF-8 in
 * text frames and fails the connection on invalid UTF-8 from the board, so
 * this transport is `textOnly`: the REPL client then skips raw-paste mode and
 * the transfer sends base64 frames (docs/transfer-protocol.md).
 */
import { TransportClosedError, TransportEvents, type Transport } from '../../src/transport/transport.js';
import { LoginWatcher, MAX_FRAME_PAYLOAD, encodePasswordLine, passwordProblem, webReplUrl } from '../../src/webrepl/webrepl-protocol.js';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();
/** Characters per text frame: at most 3 UTF-8 bytes each, within the board's 65535-byte frames. */
const FRAME_CHARACTERS = Math.floor(MAX_FRAME_PAYLOAD / 3);

export async function connectWebReplSocket(address: string, password: string, timeoutMs = 10_000): Promise<Transport> {
  const problem = passwordProblem(password);
  if (problem) throw new Error(problem);
  const url = webReplUrl(address);
  const description = `${url.protocol}//${url.host}`;
  const socket = new WebSocket(url.href);
  socket.binaryType = 'arraybuffer';
  const events = new TransportEvents();
  const login = new LoginWatcher();
  let closing = false;

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => fail(`no WebREPL login from ${description} within ${timeoutMs / 1000} s`), timeoutMs);
    const fail = (message: string): void => {
      clearTimeout(timer);
      socket.onmessage = socket.onclose = socket.onerror = null;
      socket.close();
      reject(new Error(message));
    };
    socket.onerror = () => fail(`cannot connect to WebREPL at ${description}: is the address right, and is WebREPL started on the board (import webrepl; webrepl.start())?`);
    socket.onclose = () =>
      fail(
        login.passwordSent
          ? `${description} closed the connection after the password was sent`
          : `${description} closed the connection before asking for the password: a board serves one WebREPL client at a time`,
      );
    socket.onmessage = (event: MessageEvent) => {
      if (typeof event.data !== 'string') return;
      const verdict = login.feed(encoder.encode(event.data));
      if (verdict === 'password-prompt') {
        socket.send(new TextDecoder().decode(encodePasswordLine(password)));
        const next = login.feed(new Uint8Array(0));
        if (next === 'connected' || next === 'denied') settle(next);
      } else if (verdict === 'connected' || verdict === 'denied') settle(verdict);
    };
    const settle = (verdict: 'connected' | 'denied'): void => {
      if (verdict === 'denied') {
        fail('WebREPL refused the password');
        return;
      }
      clearTimeout(timer);
      resolve();
    };
  });

  let early: Uint8Array | undefined = login.surplus.length > 0 ? login.surplus : undefined;
  socket.onmessage = (event: MessageEvent) => {
    // Binary frames are WebREPL's file channel, which this page does not use.
    if (typeof event.data === 'string') events.emitData(encoder.encode(event.data));
  };
  socket.onclose = () => events.emitClose(closing ? undefined : new Error('the board closed the WebREPL connection'));
  socket.onerror = null;

  const transport: Transport = {
    description,
    textOnly: true,
    get closed() {
      return events.closed;
    },
    async write(data) {
      if (events.closed || socket.readyState !== WebSocket.OPEN) throw new TransportClosedError(description);
      let text: string;
      try {
        text = strictUtf8.decode(data);
      } catch {
        throw new Error(`${description} is a browser WebSocket, which carries only text: refusing to send ${data.length} bytes that are not UTF-8`);
      }
      for (let at = 0; at < text.length; at += FRAME_CHARACTERS) socket.send(text.slice(at, at + FRAME_CHARACTERS));
      // Back-pressure: let the socket's buffer drain before taking more.
      while (socket.bufferedAmount > 256 * 1024 && socket.readyState === WebSocket.OPEN) await new Promise((resolve) => setTimeout(resolve, 5));
    },
    onData(listener) {
      const remove = events.onData(listener);
      if (early) {
        const surplus = early;
        early = undefined;
        queueMicrotask(() => listener(surplus));
      }
      return remove;
    },
    onClose: (listener) => events.onClose(listener),
    async close() {
      if (events.closed) return;
      closing = true;
      socket.close(1000);
      await new Promise<void>((resolve) => events.onClose(() => resolve()));
    },
  };
  return transport;
}
