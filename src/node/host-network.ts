/**
 * The virtual board's network on Node: the host's real network through
 * node:net, node:dgram, node:dns and node:tls, behind a virtual Wi-Fi access
 * point, with faults on demand (latency, a bandwidth limit, a reset after N
 * bytes, DNS failure, Wi-Fi dropping). Answers the board's socket bridge
 * (src/device/board/network-protocol.ts) on the main thread.
 */
import { lookup } from 'node:dns/promises';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { isIP, Server, Socket, createServer } from 'node:net';
import { TLSSocket, checkServerIdentity, connect as connectTls, createSecureContext } from 'node:tls';
import { EventEmitter } from 'node:events';
import { X509Certificate } from 'node:crypto';
import {
  BoardErrno,
  DNS_FAILURE,
  PollEvent,
  type BoardNetwork,
  type NetAnswer,
  type NetError,
  type NetRequest,
  type SocketKind,
  type TlsOptions,
  type WlanStatus,
} from '../device/board/network-protocol.js';
import { concatBytes } from '../format/bytes.js';

export interface WifiAccessPoint {
  readonly ssid: string;
  readonly key: string;
}

export interface NetworkFaults {
  /** Added to every connection set-up and every piece of received data, ms. */
  readonly latencyMs?: number;
  /** Received bytes per second, per socket (a slow link). */
  readonly bytesPerSecond?: number;
  /** Every TCP connection is reset by the peer after this many received bytes. */
  readonly resetAfterBytes?: number;
  /** Name lookups fail (OSError -202), as with a dead DNS server. */
  readonly dnsFailure?: boolean;
}

export interface HostNetworkOptions {
  /** The virtual access point (default ssid 'esp32-ota-sim', key 'micropython'). */
  readonly accessPoint?: WifiAccessPoint;
  /** The station is active and connected at boot, as after a boot.py that connects (default true). */
  readonly connectedAtBoot?: boolean;
  readonly faults?: NetworkFaults;
  /**
   * Where connections to a name or address and port really go, e.g.
   * `{ 'pool.ntp.org:123': '127.0.0.1:40123' }`: the board resolves the name
   * (to an address of 198.51.100.0/24) and connects as usual, the host
   * reaches the target. For fixed ports (NTP) and real-looking URLs in tests.
   */
  readonly routes?: Readonly<Record<string, string>>;
  /** Host address on which the board's listening sockets are served (default 127.0.0.1). */
  readonly listenHost?: string;
}

export const DEFAULT_ACCESS_POINT: WifiAccessPoint = { ssid: 'esp32-ota-sim', key: 'micropython' };

/** network.STAT_* of the ESP32 port (modnetwork.h, ESP-IDF wifi_err_reason_t). */
export const WlanStat = {
  IDLE: 1000,
  CONNECTING: 1001,
  GOT_IP: 1010,
  BEACON_TIMEOUT: 200,
  NO_AP_FOUND: 201,
  WRONG_PASSWORD: 202,
} as const;

const STATION_ADDRESS = '192.168.4.2';
const STATION_CONFIG: WlanStatus['ifconfig'] = [STATION_ADDRESS, '255.255.255.0', '192.168.4.1', '192.168.4.1'];
const STATION_MAC = Uint8Array.of(0x24, 0x0a, 0xc4, 0x0e, 0x7a, 0x01);
/** Received data held per socket before the host stops reading (TCP flow control). */
const RECEIVE_WINDOW = 256 * 1024;
const PUMP_INTERVAL_MS = 5;

interface Chunk {
  readonly data: Uint8Array;
  readonly due: number;
  readonly from?: readonly [string, number];
}

type SocketState = 'new' | 'connecting' | 'connected' | 'listening' | 'closed';

/** One board socket. */
class BoardSocket {
  state: SocketState = 'new';
  error: NetError | undefined;
  stream: Socket | undefined;
  server: Server | undefined;
  udp: UdpSocket | undefined;
  boundHost = '0.0.0.0';
  boundPort = 0;
  /** The host port serving this socket's board port, while it listens. */
  hostPort: number | undefined;
  /** Data the link has not delivered yet (latency, bandwidth). */
  readonly inFlight: Chunk[] = [];
  /** Data the board can read now. */
  readonly received: Chunk[] = [];
  receivedBytes = 0;
  deliveredTotal = 0;
  peerClosed = false;
  /** The end of stream has reached the receive queue (after the data in flight). */
  eofDelivered = false;
  readonly pendingAccepts: Socket[] = [];
  /** Data sent while the access point was away, sent when it comes back (lwIP keeps it in its send buffer). */
  readonly unsent: Uint8Array[] = [];
  /** Delivery budget for the bandwidth limit. */
  budget = 0;
  lastPump = 0;

  constructor(readonly kind: SocketKind) {}
}

export class HostNetwork implements BoardNetwork {
  /** 'listening' (boardPort, hostPort) when a board socket listens. */
  readonly events = new EventEmitter<{ listening: [boardPort: number, hostPort: number] }>();
  private accessPoint: WifiAccessPoint;
  private faults: NetworkFaults;
  private readonly connectedAtBoot: boolean;
  private readonly listenHost: string;
  private wifiUp = true;
  private active = false;
  private connected = false;
  private status: number = WlanStat.IDLE;
  private ssid = '';
  private sockets = new Map<number, BoardSocket>();
  private nextId = 1;
  private wake: () => void = () => undefined;
  private pumpTimer: NodeJS.Timeout | undefined;
  private readonly listeningPorts = new Map<number, number>();
  private readonly routes = new Map<string, readonly [string, number]>();
  /** Addresses the board sees for routed names. */
  private readonly routedNames = new Map<string, string>();

  constructor(options: HostNetworkOptions = {}) {
    this.accessPoint = options.accessPoint ?? DEFAULT_ACCESS_POINT;
    this.faults = options.faults ?? {};
    this.connectedAtBoot = options.connectedAtBoot ?? true;
    this.listenHost = options.listenHost ?? '127.0.0.1';
    for (const [from, to] of Object.entries(options.routes ?? {})) this.setRoute(from, to);
  }

  /** Adds a route (see HostNetworkOptions.routes): `from` 'name:port' or 'ip:port', `to` 'host:port'. */
  setRoute(from: string, to: string): void {
    const [fromHost, fromPort] = splitHostPort(from);
    const target = splitHostPort(to);
    if (isIP(fromHost) === 0 && !this.routedNames.has(fromHost)) this.routedNames.set(fromHost, `198.51.100.${this.routedNames.size + 1}`);
    this.routes.set(`${this.routedNames.get(fromHost) ?? fromHost}:${fromPort}`, target);
  }

  private route(host: string, port: number): readonly [string, number] {
    return this.routes.get(`${host}:${port}`) ?? [host, port];
  }

  /** Replaces the faults in effect (an empty object clears them). Takes effect at once. */
  setFaults(faults: NetworkFaults): void {
    this.faults = faults;
    this.schedulePump();
  }

  get currentFaults(): NetworkFaults {
    return this.faults;
  }

  get wifi(): WifiAccessPoint {
    return this.accessPoint;
  }

  /**
   * The access point goes away (false) or comes back (true). While it is
   * away the station is disconnected (status BEACON_TIMEOUT), open TCP
   * connections stall, and new ones fail; when it comes back, a station that
   * was connected reconnects, as the ESP32 port's auto-reconnect does.
   */
  setWifiAvailable(available: boolean): void {
    if (available === this.wifiUp) return;
    this.wifiUp = available;
    if (!available && this.connected) {
      this.connected = false;
      this.status = WlanStat.BEACON_TIMEOUT;
    } else if (available && this.active && this.ssid === this.accessPoint.ssid && this.status === WlanStat.BEACON_TIMEOUT) {
      this.connected = true;
      this.status = WlanStat.GOT_IP;
      for (const socket of this.sockets.values()) {
        for (const data of socket.unsent.splice(0)) socket.stream?.write(data);
      }
    }
    this.schedulePump();
    this.wake();
  }

  /** The host port on which the board's socket listening on `boardPort` is reachable, if it listens. */
  hostPort(boardPort: number): number | undefined {
    return this.listeningPorts.get(boardPort);
  }

  reset(wake: () => void): void {
    for (const socket of this.sockets.values()) this.destroy(socket);
    this.sockets.clear();
    this.listeningPorts.clear();
    this.wake = wake;
    this.active = this.connectedAtBoot;
    this.connected = this.connectedAtBoot && this.wifiUp;
    this.ssid = this.connectedAtBoot ? this.accessPoint.ssid : '';
    this.status = this.connected ? WlanStat.GOT_IP : WlanStat.IDLE;
  }

  /** Closes every socket (board stopped). */
  close(): void {
    this.reset(() => undefined);
    clearTimeout(this.pumpTimer);
  }

  handle(request: NetRequest): NetAnswer | Promise<NetAnswer> {
    switch (request.op) {
      case 'wlan':
        return this.wlan(request);
      case 'getaddrinfo':
        return this.getaddrinfo(request.host);
      case 'open': {
        const id = this.nextId++;
        this.sockets.set(id, new BoardSocket(request.kind));
        return ok(id);
      }
      case 'poll':
        return ok(request.sockets.map(([id, events]) => this.readiness(id, events)));
    }
    const socket = this.sockets.get(request.id);
    if (!socket) return fail(BoardErrno.EBADF);
    switch (request.op) {
      case 'connect':
        return this.connect(socket, request.host, request.port);
      case 'bind':
        socket.boundHost = request.host;
        socket.boundPort = request.port;
        return socket.kind === 'udp' ? this.bindUdp(socket) : ok();
      case 'listen':
        return this.listen(socket, request.backlog);
      case 'accept':
        return this.accept(socket);
      case 'recv':
        return this.recv(socket, request.max, request.line === true);
      case 'send':
        return this.send(socket, request.data);
      case 'sendto':
        return this.sendto(socket, request.data, request.host, request.port);
      case 'state':
        if (socket.error) return { ok: false, error: socket.error };
        if (socket.state === 'connecting') return { ok: false, wouldBlock: true };
        return ok(socket.state);
      case 'tls':
        return this.startTls(socket, request.options);
      case 'close':
        this.destroy(socket);
        this.sockets.delete(request.id);
        return ok();
    }
  }

  // ---- Wi-Fi ----

  private wlan(request: Extract<NetRequest, { op: 'wlan' }>): NetAnswer {
    switch (request.action) {
      case 'active':
        this.active = request.on;
        if (!request.on) this.disconnect(WlanStat.IDLE);
        break;
      case 'connect':
        if (!this.active) return fail(BoardErrno.EPERM, 'Wifi Not Started');
        this.ssid = request.ssid;
        if (!this.wifiUp || request.ssid !== this.accessPoint.ssid) this.disconnect(WlanStat.NO_AP_FOUND);
        else if (request.key !== this.accessPoint.key) this.disconnect(WlanStat.WRONG_PASSWORD);
        else {
          this.connected = true;
          this.status = WlanStat.GOT_IP;
        }
        break;
      case 'disconnect':
        this.disconnect(WlanStat.IDLE);
        break;
      case 'scan':
        if (!this.active) return fail(BoardErrno.EPERM, 'Wifi Not Started');
        return ok(this.wifiUp ? [[this.accessPoint.ssid, 6, -52, this.accessPoint.key ? 3 : 0]] : []);
      case 'status':
        break;
    }
    const status: WlanStatus = {
      active: this.active,
      connected: this.connected,
      status: this.active ? this.status : WlanStat.IDLE,
      ssid: this.connected ? this.ssid : '',
      ifconfig: this.connected ? STATION_CONFIG : ['0.0.0.0', '0.0.0.0', '0.0.0.0', '0.0.0.0'],
      mac: STATION_MAC,
      rssi: this.connected ? -52 : 0,
    };
    return ok(status);
  }

  private disconnect(status: number): void {
    this.connected = false;
    this.status = status;
  }

  // ---- names ----

  private async getaddrinfo(host: string): Promise<NetAnswer> {
    const name = host === '' ? '0.0.0.0' : host;
    if (isIP(name) === 4) return ok([name]);
    if (!this.connected || this.faults.dnsFailure) return fail(DNS_FAILURE);
    const routed = this.routedNames.get(name);
    if (routed) return ok([routed]);
    try {
      const found = await lookup(name, { family: 4, all: true });
      return found.length > 0 ? ok(found.map((entry) => entry.address)) : fail(DNS_FAILURE);
    } catch {
      return fail(DNS_FAILURE);
    }
  }

  // ---- TCP ----

  private connect(socket: BoardSocket, host: string, port: number): NetAnswer {
    if (socket.kind === 'udp') {
      socket.boundHost = host;
      return ok();
    }
    if (socket.state === 'connecting') return fail(BoardErrno.EALREADY);
    if (socket.state !== 'new') return fail(BoardErrno.EINVAL);
    if (!this.connected) return fail(BoardErrno.EHOSTUNREACH);
    socket.state = 'connecting';
    const stream = new Socket();
    socket.stream = stream;
    const opened = () => {
      socket.state = 'connected';
      this.wake();
    };
    stream.once('connect', () => {
      const latency = this.faults.latencyMs ?? 0;
      if (latency > 0) setTimeout(opened, latency);
      else opened();
    });
    this.attachStream(socket, stream);
    const [targetHost, targetPort] = this.route(host, port);
    stream.connect({ host: targetHost, port: targetPort });
    return ok();
  }

  private attachStream(socket: BoardSocket, stream: Socket): void {
    stream.on('data', (data: Buffer) => {
      socket.inFlight.push({ data: new Uint8Array(data.buffer, data.byteOffset, data.length), due: performance.now() + (this.faults.latencyMs ?? 0) });
      this.pump(socket);
    });
    stream.on('end', () => {
      socket.peerClosed = true;
      this.pump(socket);
    });
    stream.on('error', (error: NodeJS.ErrnoException) => {
      socket.error ??= { errno: errnoOf(error, socket.state === 'connecting') };
      if (socket.state === 'connecting') socket.state = 'closed';
      this.wake();
    });
    stream.on('close', () => this.wake());
  }

  private listen(socket: BoardSocket, backlog: number): Promise<NetAnswer> | NetAnswer {
    if (socket.kind !== 'tcp') return fail(BoardErrno.EOPNOTSUPP);
    const server = createServer({ pauseOnConnect: true }, (connection) => {
      if (socket.pendingAccepts.length > Math.max(backlog, 0)) {
        connection.destroy();
        return;
      }
      socket.pendingAccepts.push(connection);
      this.wake();
    });
    socket.server = server;
    socket.state = 'listening';
    return new Promise<NetAnswer>((resolve) => {
      server.once('error', (error: NodeJS.ErrnoException) => resolve(fail(errnoOf(error, false))));
      // The board's port is its own; on the host it gets a free port, told through hostPort() and 'listening'.
      server.listen({ host: this.listenHost, port: 0 }, () => {
        const address = server.address();
        this.announceListening(socket, typeof address === 'object' && address ? address.port : 0);
        resolve(ok());
      });
    });
  }

  private accept(socket: BoardSocket): NetAnswer {
    if (socket.state !== 'listening') return fail(BoardErrno.EINVAL);
    const connection = socket.pendingAccepts.shift();
    if (!connection) return { ok: false, wouldBlock: true };
    const id = this.nextId++;
    const accepted = new BoardSocket('tcp');
    accepted.state = 'connected';
    accepted.stream = connection;
    this.sockets.set(id, accepted);
    this.attachStream(accepted, connection);
    connection.resume();
    return ok([id, (connection.remoteAddress ?? '0.0.0.0').replace(/^::ffff:/, ''), connection.remotePort ?? 0]);
  }

  private recv(socket: BoardSocket, max: number, line: boolean): NetAnswer {
    if (socket.kind === 'udp') {
      const chunk = socket.received.shift();
      if (!chunk) return { ok: false, wouldBlock: true };
      socket.receivedBytes -= chunk.data.length;
      return ok([chunk.data.slice(0, max), chunk.from]);
    }
    if (socket.received.length === 0) {
      if (socket.error) return { ok: false, error: socket.error };
      if (socket.eofDelivered) return ok(new Uint8Array(0));
      if (socket.state === 'new' || socket.state === 'listening') return fail(BoardErrno.ENOTCONN);
      return { ok: false, wouldBlock: true };
    }
    const parts: Uint8Array[] = [];
    let length = 0;
    while (length < max && socket.received.length > 0) {
      const head = socket.received[0]!;
      const newline = line ? head.data.indexOf(0x0a) : -1;
      const take = Math.min(newline === -1 ? head.data.length : newline + 1, max - length);
      parts.push(head.data.subarray(0, take));
      length += take;
      if (take === head.data.length) socket.received.shift();
      else socket.received[0] = { ...head, data: head.data.subarray(take) };
      if (newline !== -1) break;
    }
    socket.receivedBytes -= length;
    if (socket.receivedBytes < RECEIVE_WINDOW / 2 && socket.stream?.isPaused()) socket.stream.resume();
    return ok(parts.length === 1 ? parts[0]!.slice() : concatBytes(...parts));
  }

  private send(socket: BoardSocket, data: Uint8Array): NetAnswer {
    if (socket.kind === 'udp') return this.sendto(socket, data, socket.boundHost, socket.boundPort);
    if (socket.error) return { ok: false, error: socket.error };
    if (socket.state === 'connecting') return { ok: false, wouldBlock: true };
    if (socket.state !== 'connected' || !socket.stream) return fail(BoardErrno.ENOTCONN);
    if (socket.stream.writableLength > RECEIVE_WINDOW) return { ok: false, wouldBlock: true };
    if (this.connected) socket.stream.write(data);
    else socket.unsent.push(data);
    return ok(data.length);
  }

  // ---- UDP ----

  private bindUdp(socket: BoardSocket): Promise<NetAnswer> {
    const udp = this.udpOf(socket);
    return new Promise((resolve) => {
      udp.once('error', (error: NodeJS.ErrnoException) => resolve(fail(errnoOf(error, false))));
      udp.bind(0, this.listenHost, () => {
        this.announceListening(socket, udp.address().port);
        resolve(ok());
      });
    });
  }

  private udpOf(socket: BoardSocket): UdpSocket {
    if (socket.udp) return socket.udp;
    const udp = createSocket('udp4');
    socket.udp = udp;
    udp.on('message', (data, from) => {
      socket.received.push({ data: new Uint8Array(data), due: 0, from: [from.address, from.port] });
      socket.receivedBytes += data.length;
      this.wake();
    });
    udp.on('error', () => undefined);
    return udp;
  }

  private sendto(socket: BoardSocket, data: Uint8Array, host: string, port: number): NetAnswer {
    if (socket.kind !== 'udp') return fail(BoardErrno.EOPNOTSUPP);
    if (!this.connected) return fail(BoardErrno.EHOSTUNREACH);
    const [targetHost, targetPort] = this.route(host, port);
    this.udpOf(socket).send(data, targetPort, targetHost);
    return ok(data.length);
  }

  // ---- TLS ----

  private startTls(socket: BoardSocket, options: TlsOptions): NetAnswer {
    const plain = socket.stream;
    if (!plain || socket.state !== 'connected') return fail(BoardErrno.ENOTCONN);
    const verify = options.verifyMode === 2 || (options.verifyMode === 1 && options.cadata !== undefined);
    // A board has no CA store: without cadata nothing verifies.
    if (verify && !options.serverSide && !options.cadata) return fail(MBEDTLS_X509_CERT_VERIFY_FAILED, MBEDTLS_VERIFY_TEXT);
    // modtls_mbedtls.c raises ValueError('invalid cert') / ('invalid key') for data mbedTLS cannot parse.
    try {
      for (const certificate of [...(options.cadata ?? []), ...(options.cert ? [options.cert] : [])]) new X509Certificate(toPem(certificate));
    } catch {
      return fail(BoardErrno.EINVAL, 'invalid cert');
    }
    let context: ReturnType<typeof createSecureContext>;
    try {
      context = createSecureContext({
        ...(options.cadata && { ca: options.cadata.map(toPem) }),
        ...(options.cert && { cert: toPem(options.cert) }),
        ...(options.key && { key: Buffer.from(options.key) }),
      });
    } catch {
      return fail(BoardErrno.EINVAL, 'invalid key');
    }
    // The TLS socket takes over the connection: its events are the board socket's now.
    plain.removeAllListeners('data');
    plain.removeAllListeners('end');
    plain.removeAllListeners('error');
    plain.removeAllListeners('close');
    const secure = options.serverSide
      ? new TLSSocket(plain, { isServer: true, secureContext: context })
      : connectTls({
          socket: plain,
          secureContext: context,
          rejectUnauthorized: false,
          ...(options.serverHostname && !isIP(options.serverHostname) && { servername: options.serverHostname }),
        });
    socket.stream = secure;
    socket.state = 'connecting';
    const ready = () => {
      if (!options.serverSide && verify) {
        const problem = secure.authorizationError ?? hostnameProblem(secure, options.serverHostname);
        if (problem) {
          socket.error = { errno: MBEDTLS_X509_CERT_VERIFY_FAILED, message: MBEDTLS_VERIFY_TEXT };
          socket.state = 'closed';
          secure.destroy();
          this.wake();
          return;
        }
      }
      socket.state = 'connected';
      this.wake();
    };
    secure.once(options.serverSide ? 'secure' : 'secureConnect', ready);
    secure.on('error', () => {
      if (socket.state === 'connecting') {
        socket.error = { errno: MBEDTLS_SSL_FATAL_ALERT, message: 'SSL - A fatal alert message was received from our peer' };
        socket.state = 'closed';
      }
    });
    this.attachStream(socket, secure);
    return ok();
  }

  // ---- readiness and delivery ----

  private readiness(id: number, events: number): number {
    const socket = this.sockets.get(id);
    if (!socket) return PollEvent.ERR;
    let ready = 0;
    const failed = socket.error !== undefined;
    if (events & PollEvent.IN) {
      if (socket.received.length > 0 || socket.eofDelivered || failed || socket.pendingAccepts.length > 0) ready |= PollEvent.IN;
    }
    if (events & PollEvent.OUT) {
      if ((socket.state === 'connected' && this.connected) || socket.kind === 'udp' || failed) ready |= PollEvent.OUT;
    }
    if (failed) ready |= PollEvent.ERR;
    if (socket.eofDelivered) ready |= PollEvent.HUP;
    return ready;
  }

  /** Moves data from the link to the board's receive queue, by latency, bandwidth and reset faults. */
  private pump(socket: BoardSocket): void {
    const now = performance.now();
    const { bytesPerSecond, resetAfterBytes } = this.faults;
    if (bytesPerSecond !== undefined) {
      socket.budget = Math.min(socket.budget + ((now - (socket.lastPump || now)) * bytesPerSecond) / 1000, Math.max(bytesPerSecond / 10, 1460));
      socket.lastPump = now;
    }
    let moved = false;
    while (socket.inFlight.length > 0 && this.connected) {
      const head = socket.inFlight[0]!;
      if (head.due > now) break;
      let take = head.data.length;
      if (bytesPerSecond !== undefined) take = Math.min(take, Math.floor(socket.budget));
      if (resetAfterBytes !== undefined) take = Math.min(take, resetAfterBytes - socket.deliveredTotal);
      if (take <= 0) break;
      socket.received.push({ data: head.data.subarray(0, take), due: head.due });
      socket.receivedBytes += take;
      socket.deliveredTotal += take;
      if (bytesPerSecond !== undefined) socket.budget -= take;
      if (take === head.data.length) socket.inFlight.shift();
      else socket.inFlight[0] = { ...head, data: head.data.subarray(take) };
      moved = true;
    }
    if (resetAfterBytes !== undefined && socket.deliveredTotal >= resetAfterBytes && !socket.error && socket.kind === 'tcp') {
      socket.inFlight.length = 0;
      socket.error = { errno: BoardErrno.ECONNRESET };
      socket.stream?.destroy();
      moved = true;
    }
    if (socket.inFlight.length === 0 && socket.peerClosed && !socket.eofDelivered) {
      socket.eofDelivered = true;
      moved = true;
    }
    if (socket.receivedBytes > RECEIVE_WINDOW && socket.stream && !socket.stream.isPaused()) socket.stream.pause();
    if (moved) this.wake();
    if (socket.inFlight.length > 0 || (socket.peerClosed && !socket.eofDelivered)) this.schedulePump();
  }

  private schedulePump(): void {
    if (this.pumpTimer) return;
    this.pumpTimer = setTimeout(() => {
      this.pumpTimer = undefined;
      for (const socket of this.sockets.values()) this.pump(socket);
    }, PUMP_INTERVAL_MS);
    this.pumpTimer.unref();
  }

  private destroy(socket: BoardSocket): void {
    socket.state = 'closed';
    socket.stream?.destroy();
    socket.server?.close();
    for (const pending of socket.pendingAccepts) pending.destroy();
    socket.udp?.close();
    if (socket.hostPort !== undefined && this.listeningPorts.get(socket.boundPort) === socket.hostPort) this.listeningPorts.delete(socket.boundPort);
    socket.hostPort = undefined;
  }

  private announceListening(socket: BoardSocket, hostPort: number): void {
    socket.hostPort = hostPort;
    this.listeningPorts.set(socket.boundPort, hostPort);
    this.events.emit('listening', socket.boundPort, hostPort);
  }
}

/** mbedTLS's MBEDTLS_ERR_X509_CERT_VERIFY_FAILED (-0x2700), as modtls_mbedtls.c raises it. */
export const MBEDTLS_X509_CERT_VERIFY_FAILED = -0x2700;
const MBEDTLS_VERIFY_TEXT = 'X509 - Certificate verification failed, e.g. CRL, CA or signature check failed';
/** MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE (-0x7780). */
const MBEDTLS_SSL_FATAL_ALERT = -0x7780;

function hostnameProblem(secure: TLSSocket, hostname: string | undefined): Error | undefined {
  return hostname ? checkServerIdentity(hostname, secure.getPeerCertificate()) : undefined;
}

function toPem(data: Uint8Array): string {
  const text = Buffer.from(data).toString('latin1');
  if (text.includes('-----BEGIN')) return text.replace(/\0+$/, '');
  const base64 = Buffer.from(data).toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${base64}\n-----END CERTIFICATE-----\n`;
}

function errnoOf(error: NodeJS.ErrnoException, connecting: boolean): number {
  switch (error.code) {
    // lwIP reports a refused connection (a RST to the SYN) as ERR_RST, which err_to_errno makes ECONNRESET.
    case 'ECONNREFUSED':
    case 'ECONNRESET':
    case 'EPIPE':
      return BoardErrno.ECONNRESET;
    case 'ETIMEDOUT':
      return BoardErrno.ETIMEDOUT;
    case 'EADDRINUSE':
      return BoardErrno.EADDRINUSE;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return BoardErrno.EHOSTUNREACH;
    default:
      return connecting ? BoardErrno.ECONNABORTED : BoardErrno.EIO;
  }
}

function splitHostPort(text: string): [string, number] {
  const at = text.lastIndexOf(':');
  const port = Number(text.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`'${text}' is not HOST:PORT`);
  return [text.slice(0, at), port];
}

function ok(value?: unknown): NetAnswer {
  return value === undefined ? { ok: true } : { ok: true, value };
}

function fail(errno: number, message?: string): NetAnswer {
  return { ok: false, error: message === undefined ? { errno } : { errno, message } };
}

