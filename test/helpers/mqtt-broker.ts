/** An embedded MQTT broker (aedes) for tests, on a free port, that can be stopped and started again on the same port. */
import { createServer, type AddressInfo, type Server } from 'node:net';
import { Aedes, type AedesOptions } from 'aedes';

export interface TestBroker {
  /** `mqtt://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  /** The running broker (a new object after restart()). */
  readonly aedes: Aedes;
  /** Stops the broker (its connections are dropped, its in-memory state is lost) and starts a new one on the same port. */
  restart(downMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startTestBroker(options: AedesOptions = {}): Promise<TestBroker> {
  let aedes: Aedes;
  let server: Server;
  const start = async (port: number): Promise<number> => {
    aedes = await Aedes.createBroker(options);
    server = createServer(aedes.handle);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    return (server.address() as AddressInfo).port;
  };
  const stop = async (): Promise<void> => {
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  const port = await start(0);
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    get aedes() {
      return aedes;
    },
    restart: async (downMs = 0) => {
      await stop();
      await new Promise((resolve) => setTimeout(resolve, downMs));
      await start(port);
    },
    close: stop,
  };
}
