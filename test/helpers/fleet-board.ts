/**
 * Simulated fleet boards for the host-side tests: MQTT.js clients that follow
 * docs/fleet.md (retained status and online flag at every connect, a last will,
 * a command acted on once per rollout id, results downloading → installed →
 * reset → success / rolled-back, or failed). They exercise the host's logic;
 * the real board code runs on virtual boards in the end-to-end tests.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { fleetTopics, parseCommand, type DeviceStatus, type FleetCommand, type UpdateReport } from '../../src/fleet/index.js';

export type BoardBehaviour = 'success' | 'rollback' | 'fail';

export interface SimulatedBoardOptions {
  readonly broker: string;
  readonly fleet: string;
  readonly id: string;
  readonly prefix?: string;
  readonly version?: string;
  readonly behaviour?: BoardBehaviour;
  /** Between the steps of an update (download, reset, health check). */
  readonly stepMs?: number;
  readonly username?: string;
  readonly password?: string;
  /** PEM of the CA for an mqtts:// broker. */
  readonly ca?: Uint8Array;
  /** Start offline (call connect() later). */
  readonly offline?: boolean;
}

export class SimulatedBoard {
  readonly id: string;
  version: string;
  partition = 'ota_0';
  update: UpdateReport | null = null;
  /** Every non-empty command received, in order. */
  readonly commands: FleetCommand[] = [];
  /** Empty command payloads received (deletions). */
  deletions = 0;
  private readonly attempted = new Set<string>();
  private client: MqttClient | undefined;
  private readonly topics;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly options: SimulatedBoardOptions) {
    this.id = options.id;
    this.version = options.version ?? 'v1.23.0';
    this.topics = fleetTopics(options.fleet, options.prefix);
  }

  static async start(options: SimulatedBoardOptions): Promise<SimulatedBoard> {
    const board = new SimulatedBoard(options);
    if (!options.offline) await board.connect();
    return board;
  }

  get online(): boolean {
    return this.client?.connected ?? false;
  }

  /** Connects (as at boot): online 1, the status, the command subscription; again after every reconnect. */
  async connect(): Promise<void> {
    const client = mqtt.connect(this.options.broker, {
      clientId: `board-${this.options.fleet}-${this.id}`,
      clean: true,
      reconnectPeriod: 100,
      connectTimeout: 5000,
      ...(this.options.username && { username: this.options.username, password: this.options.password }),
      ...(this.options.ca && { ca: Buffer.from(this.options.ca) }),
      will: { topic: this.topics.device(this.id, 'online'), payload: Buffer.from('0'), qos: 1, retain: true },
    });
    this.client = client;
    client.on('error', () => undefined);
    client.on('connect', () => {
      void client.publishAsync(this.topics.device(this.id, 'online'), '1', { qos: 1, retain: true }).catch(() => undefined);
      this.publishStatus();
      void client.subscribeAsync(this.topics.device(this.id, 'command'), { qos: 1 }).catch(() => undefined);
    });
    client.on('message', (_topic, payload) => this.onCommand(payload.toString('utf8')));
    await new Promise<void>((resolve) => client.once('connect', () => resolve()));
  }

  /** Drops off the network without a goodbye: the broker publishes the last will (online 0). */
  async dropOff(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    client.options.reconnectPeriod = 0;
    client.stream.destroy();
    await client.endAsync(true);
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    await this.client?.endAsync(true);
    this.client = undefined;
  }

  status(): DeviceStatus {
    return {
      device: this.id,
      fleet: this.options.fleet,
      chip: 'esp32',
      version: this.version,
      partition: this.partition,
      state: 'valid',
      confirmed: true,
      update: this.update,
      package: '0.2.0',
      time: 1,
    };
  }

  private publishStatus(): void {
    void this.client?.publishAsync(this.topics.device(this.id, 'status'), JSON.stringify(this.status()), { qos: 1, retain: true }).catch(() => undefined);
  }

  private report(command: FleetCommand, result: UpdateReport['result'], error: string | null = null): void {
    this.update = { rollout: command.rollout, version: command.version, result, error };
    this.publishStatus();
  }

  private later(ms: number, work: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      work();
    }, ms);
    this.timers.add(timer);
  }

  private onCommand(text: string): void {
    if (text === '') {
      this.deletions++;
      return;
    }
    const parsed = parseCommand(text);
    if (!parsed.value) return;
    const command = parsed.value;
    this.commands.push(command);
    if (this.attempted.has(command.rollout)) return;
    this.attempted.add(command.rollout);
    if (command.version === this.version && !command.force) return this.report(command, 'success');
    const step = this.options.stepMs ?? 20;
    this.report(command, 'downloading');
    this.later(step, () => {
      if (this.options.behaviour === 'fail') return this.report(command, 'failed', 'HTTP 404 Not Found');
      this.report(command, 'installed');
      this.later(step, () => {
        if (this.options.behaviour === 'rollback') return this.report(command, 'rolled-back', 'the health check failed: rolled back to ota_0');
        this.version = command.version;
        this.partition = this.partition === 'ota_0' ? 'ota_1' : 'ota_0';
        this.report(command, 'success');
      });
    });
  }
}

export async function startBoards(count: number, options: Omit<SimulatedBoardOptions, 'id'> & { idPrefix?: string }): Promise<SimulatedBoard[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => SimulatedBoard.start({ ...options, id: `${options.idPrefix ?? 'board'}${String(i).padStart(2, '0')}` })));
}
