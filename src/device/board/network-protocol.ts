/**
 * What the virtual board's network modules (socket, network, ssl, select in
 * ./python/) ask the host for, and what it answers: the messages of the
 * socket bridge between the interpreter's worker (./network-module.ts) and a
 * BoardNetwork on the main thread (src/node/host-network.ts for Node).
 * Every call is answered at once; anything that takes time is started by one
 * call and its progress read by later ones (`wouldBlock` until then), the
 * worker sleeping on its event doorbell in between.
 */

/** errno numbers of the ESP32 port (newlib's sys/errno.h, which lwIP uses there). */
export const BoardErrno = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EINVAL: 22,
  EPIPE: 32,
  EOPNOTSUPP: 95,
  ECONNRESET: 104,
  ENOBUFS: 105,
  ECONNREFUSED: 111,
  EADDRINUSE: 112,
  ECONNABORTED: 113,
  ETIMEDOUT: 116,
  EHOSTUNREACH: 118,
  EINPROGRESS: 119,
  EALREADY: 120,
  ENOTCONN: 128,
} as const;

/** lwIP's EAI_FAIL; modsocket.c raises it negated: `OSError: -202` when a name does not resolve. */
export const DNS_FAILURE = -202;

export type SocketKind = 'tcp' | 'udp';

export interface TlsOptions {
  readonly serverSide: boolean;
  readonly serverHostname?: string;
  /** CERT_NONE 0, CERT_OPTIONAL 1, CERT_REQUIRED 2. */
  readonly verifyMode: number;
  /** Certificates (PEM text or DER bytes) as given to load_verify_locations. */
  readonly cadata?: readonly Uint8Array[];
  readonly cert?: Uint8Array;
  readonly key?: Uint8Array;
}

export type NetRequest =
  | { op: 'wlan'; action: 'status' }
  | { op: 'wlan'; action: 'active'; on: boolean }
  | { op: 'wlan'; action: 'connect'; ssid: string; key: string }
  | { op: 'wlan'; action: 'disconnect' }
  | { op: 'wlan'; action: 'scan' }
  | { op: 'getaddrinfo'; host: string }
  | { op: 'open'; kind: SocketKind }
  | { op: 'connect'; id: number; host: string; port: number }
  | { op: 'bind'; id: number; host: string; port: number }
  | { op: 'listen'; id: number; backlog: number }
  | { op: 'accept'; id: number }
  /** `line`: stop after the first newline (readline). */
  | { op: 'recv'; id: number; max: number; line?: boolean }
  | { op: 'send'; id: number; data: Uint8Array }
  | { op: 'sendto'; id: number; data: Uint8Array; host: string; port: number }
  | { op: 'state'; id: number }
  | { op: 'tls'; id: number; options: TlsOptions }
  | { op: 'poll'; sockets: readonly (readonly [id: number, events: number])[] }
  | { op: 'close'; id: number };

/** A failure, with the number the board's OSError carries. */
export interface NetError {
  readonly errno: number;
  /** For TLS failures: the second OSError argument (mbedTLS's text). */
  readonly message?: string;
}

export interface WlanStatus {
  readonly active: boolean;
  readonly connected: boolean;
  /** network.STAT_* of the ESP32 port. */
  readonly status: number;
  readonly ssid: string;
  readonly ifconfig: readonly [string, string, string, string];
  readonly mac: Uint8Array;
  readonly rssi: number;
}

export type NetAnswer =
  | { readonly ok: true; readonly value?: unknown }
  | { readonly ok: false; readonly error: NetError }
  | { readonly ok: false; readonly wouldBlock: true };

/** select/poll event bits as MicroPython's (POLLIN 1, POLLOUT 4, POLLERR 8, POLLHUP 16). */
export const PollEvent = { IN: 0x01, OUT: 0x04, ERR: 0x08, HUP: 0x10 } as const;

/**
 * The host side of a board's network. One per board; `reset` is called at
 * every boot (a reset drops every connection, as it does on a chip), `wake`
 * must be called whenever a socket's state changes.
 */
export interface BoardNetwork {
  reset(wake: () => void): void;
  handle(request: NetRequest): NetAnswer | Promise<NetAnswer>;
}
