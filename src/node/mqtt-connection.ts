/**
 * A connection to the fleet's MQTT broker (MQTT.js): mqtt://, mqtts:// (with
 * --ca), ws:// and wss://, credentials in the URL or given apart. The first
 * connect fails with a sentence naming the problem; after that the client
 * reconnects by itself, and `onReconnect` handlers publish their retained
 * state again (a restarted broker may have lost it).
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

export class BrokerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BrokerError';
  }
}

const PROTOCOLS = ['mqtt:', 'mqtts:', 'ws:', 'wss:'];

export interface BrokerAddress {
  /** The URL without credentials: safe to print. */
  readonly url: string;
  readonly user?: string;
  readonly password?: string;
}

/** Checks a broker URL and takes credentials out of it. */
export function parseBrokerUrl(text: string): BrokerAddress {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new BrokerError(`--broker '${text}' is not a URL: give mqtt://HOST[:PORT] (or mqtts://, ws://, wss://), e.g. mqtt://127.0.0.1:1883`);
  }
  if (!PROTOCOLS.includes(url.protocol)) throw new BrokerError(`--broker '${text}': the scheme must be mqtt://, mqtts://, ws:// or wss://, not ${url.protocol}//`);
  if (!url.hostname) throw new BrokerError(`--broker '${text}' names no host`);
  const user = url.username ? decodeURIComponent(url.username) : undefined;
  const password = url.password ? decodeURIComponent(url.password) : undefined;
  url.username = '';
  url.password = '';
  const shown = url.protocol.startsWith('ws') ? url.href : url.href.replace(/\/$/, '');
  return { url: shown, ...(user !== undefined && { user }), ...(password !== undefined && { password }) };
}

export interface BrokerOptions {
  /** mqtt://[USER:PASS@]HOST[:PORT], mqtts://…, ws://…, wss://… */
  readonly broker: string;
  /** Override (or supply) the URL's credentials. */
  readonly user?: string;
  readonly password?: string;
  /** PEM certificate(s) of the CA that signed the broker's certificate (mqtts, wss). */
  readonly ca?: string | Uint8Array;
  /** How long the first connect may take (default 10 s). */
  readonly connectTimeoutMs?: number;
}

export interface FleetConnection {
  /** The broker's URL without credentials. */
  readonly url: string;
  readonly client: MqttClient;
  subscribe(topics: readonly string[]): Promise<void>;
  /** QoS 1. An empty retained payload deletes the retained message. */
  publish(topic: string, payload: string, options: { retain: boolean }): Promise<void>;
  onMessage(handler: (topic: string, payload: string, retained: boolean) => void): void;
  /** Called after each reconnect (not the first connect), once the subscriptions are renewed. */
  onReconnect(handler: () => void): void;
  /** Called when the link drops; the client reconnects by itself. */
  onDisconnect(handler: () => void): void;
  close(): Promise<void>;
}

export async function connectBroker(options: BrokerOptions, clientPrefix = 'esp32-ota-host'): Promise<FleetConnection> {
  const address = parseBrokerUrl(options.broker);
  if (options.user !== undefined && address.user !== undefined) throw new BrokerError('give the user name in --broker (USER:PASS@HOST) or with --user, not both');
  const user = options.user ?? address.user;
  const password = options.password ?? address.password;
  if (password !== undefined && user === undefined) throw new BrokerError('--password needs a user name (--user, or USER:PASS@ in --broker)');
  const timeout = options.connectTimeoutMs ?? 10_000;
  const clientOptions: IClientOptions = {
    clientId: `${clientPrefix}-${Math.random().toString(16).slice(2, 10)}`,
    protocolVersion: 4,
    clean: true,
    keepalive: 30,
    reconnectPeriod: 1000,
    connectTimeout: timeout,
    ...(user !== undefined && { username: user }),
    ...(password !== undefined && { password }),
    ...(options.ca !== undefined && { ca: typeof options.ca === 'string' ? options.ca : Buffer.from(options.ca) }),
  };
  const client = mqtt.connect(address.url, clientOptions);
  try {
    await firstConnect(client, address.url, timeout);
  } catch (error) {
    client.end(true);
    throw error;
  }
  return wrap(client, address.url);
}

function firstConnect(client: MqttClient, url: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let lastError: Error | undefined;
    const fail = (error: Error) => {
      clearTimeout(timer);
      client.removeAllListeners('connect');
      reject(describeConnectError(error, url));
    };
    const timer = setTimeout(() => fail(lastError ?? new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
    client.once('connect', () => {
      clearTimeout(timer);
      client.removeListener('error', onError);
      client.removeListener('close', onClose);
      resolve();
    });
    const onError = (error: Error) => {
      lastError = error;
      // A refused connect (bad credentials, not authorised) will not get better by retrying.
      if ('code' in error && typeof error.code === 'number') fail(error);
    };
    // A refused or broken TCP/TLS connection: report it rather than retry the first connect forever.
    const onClose = () => {
      if (lastError) fail(lastError);
    };
    client.on('error', onError);
    client.on('close', onClose);
  });
}

function describeConnectError(error: Error, url: string): BrokerError {
  const code = (error as { code?: unknown }).code;
  if (code === 4 || code === 5 || /Bad username or password|Not authorized/i.test(error.message)) {
    return new BrokerError(`the broker at ${url} refused the connection: ${error.message.replace(/^Connection refused: /, '').toLowerCase()} (give --user and --password, or USER:PASS@ in --broker)`);
  }
  if (code === 'ECONNREFUSED') return new BrokerError(`cannot connect to the broker at ${url}: nothing listens there (ECONNREFUSED); start one with esp32-ota fleet broker, or check the host and port`);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new BrokerError(`cannot connect to the broker at ${url}: the host name does not resolve (${String(code)})`);
  if (typeof code === 'string' && /CERT|VERIFY|SELF_SIGNED|TLS|SSL/.test(code)) {
    return new BrokerError(`cannot connect to the broker at ${url}: its TLS certificate is not trusted (${code}); give the CA that signed it with --ca FILE`);
  }
  return new BrokerError(`cannot connect to the broker at ${url}: ${error.message}${typeof code === 'string' && !error.message.includes(code) ? ` (${code})` : ''}`);
}

function wrap(client: MqttClient, url: string): FleetConnection {
  const reconnectHandlers: (() => void)[] = [];
  const disconnectHandlers: (() => void)[] = [];
  let connected = true;
  let closing = false;
  // After the first connect MQTT.js reconnects by itself; errors on the way are reported by the close/connect cycle.
  client.on('error', () => undefined);
  client.on('close', () => {
    if (!connected || closing) return;
    connected = false;
    for (const handler of disconnectHandlers) handler();
  });
  client.on('connect', () => {
    connected = true;
    // MQTT.js renews the subscriptions (resubscribe) right after this event; the handlers publish after them.
    setImmediate(() => {
      for (const handler of reconnectHandlers) handler();
    });
  });
  return {
    url,
    client,
    async subscribe(topics) {
      await client.subscribeAsync([...topics], { qos: 1 });
    },
    async publish(topic, payload, { retain }) {
      await client.publishAsync(topic, payload, { qos: 1, retain });
    },
    onMessage(handler) {
      client.on('message', (topic, payload, packet) => handler(topic, payload.toString('utf8'), packet.retain));
    },
    onReconnect: (handler) => void reconnectHandlers.push(handler),
    onDisconnect: (handler) => void disconnectHandlers.push(handler),
    close: () => {
      closing = true;
      return client.endAsync();
    },
  };
}
