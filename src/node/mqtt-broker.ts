/**
 * `esp32-ota fleet broker`: an embedded MQTT 3.1.1 broker (aedes) for a fleet
 * on one machine, over TCP (or TLS) and optionally WebSocket. Retained
 * messages live in memory only: a restart loses them, and every party
 * publishes its retained state again when it reconnects (boards their status,
 * the rollout host its commands and state), which is how a restart is survived.
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { timingSafeEqual } from 'node:crypto';
import { Aedes, type AuthenticateError } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';

export interface FleetBrokerOptions {
  readonly host?: string;
  /** 0: any free port. */
  readonly port?: number;
  /** Also serve MQTT over WebSocket on this port (ws://, or wss:// with tls). */
  readonly wsPort?: number;
  readonly auth?: { readonly user: string; readonly password: string };
  readonly tls?: { readonly cert: Uint8Array; readonly key: Uint8Array };
  /** One line per client connect, disconnect or refusal. */
  readonly log?: (line: string) => void;
}

export interface FleetBroker {
  readonly url: string;
  readonly port: number;
  readonly wsUrl?: string;
  readonly broker: Aedes;
  close(): Promise<void>;
}

export async function startFleetBroker(options: FleetBrokerOptions = {}): Promise<FleetBroker> {
  const broker = await Aedes.createBroker();
  const log = options.log ?? (() => undefined);
  const stamp = () => new Date().toISOString();
  const peer = (client: { conn: unknown }) => {
    const socket = client.conn as { remoteAddress?: string; remotePort?: number; _socket?: { remoteAddress?: string; remotePort?: number } };
    const address = socket.remoteAddress ?? socket._socket?.remoteAddress;
    return address ? `${address}:${socket.remotePort ?? socket._socket?.remotePort ?? '?'}` : 'websocket';
  };
  if (options.auth) {
    const expected = { user: Buffer.from(options.auth.user), password: Buffer.from(options.auth.password) };
    const same = (a: Buffer, b: Buffer) => a.length === b.length && timingSafeEqual(a, b);
    broker.authenticate = (client, username, password, done) => {
      if (username !== undefined && password !== undefined && same(Buffer.from(username), expected.user) && same(password, expected.password)) return done(null, true);
      log(`${stamp()} client ${client.id} from ${peer(client)} refused: bad user name or password`);
      const error = new Error('bad user name or password') as AuthenticateError;
      error.returnCode = 4;
      done(error, null);
    };
  }
  broker.on('client', (client) => log(`${stamp()} client ${client.id} connected from ${peer(client)}`));
  broker.on('clientDisconnect', (client) => log(`${stamp()} client ${client.id} disconnected`));

  const handle = (socket: Parameters<Aedes['handle']>[0]) => broker.handle(socket);
  const server: Server = options.tls ? createTlsServer({ cert: Buffer.from(options.tls.cert), key: Buffer.from(options.tls.key) }, handle) : createTcpServer(handle);
  const host = options.host ?? '127.0.0.1';
  const closeBroker = () => new Promise<void>((resolve) => broker.close(() => resolve()));
  let port: number;
  try {
    port = await listen(server, options.port ?? 1883, host);
  } catch (error) {
    await closeBroker();
    throw error;
  }
  let web: { http: HttpServer; sockets: WebSocketServer; port: number } | undefined;
  if (options.wsPort !== undefined) {
    const http = options.tls ? (await import('node:https')).createServer({ cert: Buffer.from(options.tls.cert), key: Buffer.from(options.tls.key) }) : createHttpServer();
    const sockets = new WebSocketServer({ server: http });
    sockets.on('connection', (socket, request) => broker.handle(createWebSocketStream(socket), request));
    try {
      web = { http, sockets, port: await listen(http, options.wsPort, host) };
    } catch (error) {
      await new Promise((resolve) => server.close(resolve));
      await closeBroker();
      throw error;
    }
  }
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `${options.tls ? 'mqtts' : 'mqtt'}://${shownHost}:${port}`,
    port,
    ...(web && { wsUrl: `${options.tls ? 'wss' : 'ws'}://${shownHost}:${web.port}/` }),
    broker,
    close: async () => {
      if (web) {
        for (const socket of web.sockets.clients) socket.terminate();
        await new Promise((resolve) => web!.sockets.close(resolve));
        await new Promise((resolve) => web!.http.close(resolve));
      }
      await closeBroker();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function listen(server: Server | HttpServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
