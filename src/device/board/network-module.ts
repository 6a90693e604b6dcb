/**
 * `_esp32_net`, the worker side of the socket bridge: the calls behind the
 * board's socket, select, ssl and network modules (./python/). Each call
 * that may wait (recv, accept, connect, poll) asks the host, and while the
 * host says "would block" sleeps on the interpreter's event doorbell, which
 * the host rings when a socket changes, stdin gets bytes or Ctrl-C comes.
 * Results cross to Python as numbers (a count, or -errno) or JSON text;
 * buffers cross by address, as the flash calls do.
 */
import type { InterpreterRuntime } from '../micropython/device-modules.js';
import { fromHex } from '../../format/bytes.js';
import { BoardErrno, PollEvent, type NetAnswer, type NetRequest, type TlsOptions } from './network-protocol.js';

/** Python's timeout: -1 waits for ever, 0 is non-blocking, otherwise milliseconds. */
type TimeoutMs = number;

const WAIT_FOREVER = -1;

export function networkModule(runtime: InterpreterRuntime) {
  const ask = (request: NetRequest): NetAnswer => runtime.hostCall(request) as NetAnswer;

  /** Repeats `request` until it no longer would block; undefined when the timeout passed. */
  const waitFor = (request: NetRequest, timeoutMs: TimeoutMs): NetAnswer | undefined => {
    const deadline = timeoutMs < 0 ? Infinity : performance.now() + timeoutMs;
    for (;;) {
      const seen = runtime.eventCount();
      const answer = ask(request);
      if (answer.ok || !('wouldBlock' in answer)) return answer;
      const remaining = deadline - performance.now();
      if (remaining <= 0) return undefined;
      runtime.waitForEvent(seen, remaining);
    }
  };

  /** A count, or the negated errno a board's socket raises; a timeout is EAGAIN when non-blocking, else ETIMEDOUT. */
  const countOrErrno = (answer: NetAnswer | undefined, timeoutMs: TimeoutMs, count: (value: unknown) => number): number => {
    if (!answer) return -(timeoutMs === 0 ? BoardErrno.EAGAIN : BoardErrno.ETIMEDOUT);
    if (answer.ok) return count(answer.value);
    return 'error' in answer ? -answer.error.errno : -BoardErrno.EAGAIN;
  };

  const heap = (pointer: number, length: number) => runtime.heap().subarray(pointer, pointer + length);

  return {
    /** A request that never waits; answers JSON {ok, value} or {ok: false, errno, message}. */
    call: (json: string): string => encodeAnswer(ask(JSON.parse(json) as NetRequest)),
    /** A request repeated until it does not block (connect progress, accept, TLS handshake); {timeout: true} when it timed out. */
    wait: (json: string, timeoutMs: TimeoutMs): string => {
      const answer = waitFor(JSON.parse(json) as NetRequest, timeoutMs);
      return answer ? encodeAnswer(answer) : JSON.stringify({ ok: false, timeout: true });
    },
    /** `line` 1: stop after a newline (readline). */
    recv_into: (id: number, pointer: number, length: number, timeoutMs: TimeoutMs, line: number): number => {
      const answer = waitFor({ op: 'recv', id, max: length, line: line === 1 }, timeoutMs);
      return countOrErrno(answer, timeoutMs, (value) => {
        // UDP answers [data, sender]; recv() drops the sender.
        const data = (Array.isArray(value) ? value[0] : value) as Uint8Array;
        heap(pointer, data.length).set(data);
        return data.length;
      });
    },
    /** UDP: JSON [count, host, port] or [-errno]. */
    recvfrom_into: (id: number, pointer: number, length: number, timeoutMs: TimeoutMs): string => {
      let from: readonly [string, number] = ['0.0.0.0', 0];
      const count = countOrErrno(waitFor({ op: 'recv', id, max: length }, timeoutMs), timeoutMs, (value) => {
        const [data, sender] = value as [Uint8Array, readonly [string, number]];
        heap(pointer, data.length).set(data);
        from = sender;
        return data.length;
      });
      return JSON.stringify(count < 0 ? [count] : [count, ...from]);
    },
    send: (id: number, pointer: number, length: number, timeoutMs: TimeoutMs): number =>
      countOrErrno(waitFor({ op: 'send', id, data: heap(pointer, length).slice() }, timeoutMs), timeoutMs, Number),
    sendto: (id: number, pointer: number, length: number, host: string, port: number): number =>
      countOrErrno(ask({ op: 'sendto', id, data: heap(pointer, length).slice(), host, port }), WAIT_FOREVER, Number),
    /** Starts TLS on a connected socket; `json` is TlsOptions with the byte fields as hex. */
    tls: (id: number, json: string): string => {
      const raw = JSON.parse(json) as Omit<TlsOptions, 'cadata' | 'cert' | 'key'> & { cadata?: string[]; cert?: string; key?: string };
      const options: TlsOptions = {
        serverSide: raw.serverSide,
        verifyMode: raw.verifyMode,
        ...(raw.serverHostname !== undefined && { serverHostname: raw.serverHostname }),
        ...(raw.cadata && { cadata: raw.cadata.map(fromHex) }),
        ...(raw.cert !== undefined && { cert: fromHex(raw.cert) }),
        ...(raw.key !== undefined && { key: fromHex(raw.key) }),
      };
      return encodeAnswer(ask({ op: 'tls', id, options }));
    },
    /**
     * select.poll over board sockets and stdin: `sockets` is JSON
     * [[id, events], ...]; answers JSON [[revents per socket], stdin revents]
     * as soon as something is ready or the timeout passed.
     */
    poll: (sockets: string, stdinEvents: number, timeoutMs: TimeoutMs): string => {
      const entries = JSON.parse(sockets) as [number, number][];
      const deadline = timeoutMs < 0 ? Infinity : performance.now() + timeoutMs;
      for (;;) {
        const seen = runtime.eventCount();
        const answer = entries.length > 0 ? ask({ op: 'poll', sockets: entries }) : { ok: true as const, value: [] };
        const ready = (answer.ok ? answer.value : entries.map(() => PollEvent.ERR)) as number[];
        const stdinReady = stdinEvents & (runtime.stdinAvailable() > 0 ? PollEvent.IN : 0);
        const remaining = deadline - performance.now();
        if (stdinReady !== 0 || ready.some((bits) => bits !== 0) || remaining <= 0) return JSON.stringify([ready, stdinReady]);
        runtime.waitForEvent(seen, remaining);
      }
    },
  };
}

function encodeAnswer(answer: NetAnswer): string {
  if (answer.ok) return JSON.stringify({ ok: true, value: answer.value ?? null }, jsonBytes);
  if ('wouldBlock' in answer) return JSON.stringify({ ok: false, wouldBlock: true });
  return JSON.stringify({ ok: false, errno: answer.error.errno, message: answer.error.message ?? null });
}

/** Bytes in JSON answers (the WLAN MAC) as a list of numbers. */
function jsonBytes(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? [...value] : value;
}
