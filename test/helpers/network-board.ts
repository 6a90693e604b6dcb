/** A virtual board with the host network, in the raw REPL, for the network tests. */
import type { VirtualEsp32 } from '../../src/device/virtual-esp32.js';
import { HostNetwork, type HostNetworkOptions } from '../../src/node/host-network.js';
import { freshFlash, virtualBoard } from '../../src/node/virtual-board.js';
import { ReplClient } from '../../src/repl/index.js';

export interface NetworkBoard {
  readonly board: VirtualEsp32;
  readonly network: HostNetwork;
  readonly client: ReplClient;
  /** Runs `code`, returns its printed output (text, `\r\n` line ends made `\n`); throws the board's traceback. */
  run(code: string, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

export async function networkBoard(options: HostNetworkOptions = {}): Promise<NetworkBoard> {
  const network = new HostNetwork(options);
  const board = virtualBoard(freshFlash(), { network });
  await board.powerOn();
  await board.idle();
  const client = new ReplClient(board.connect());
  await client.enterRawRepl();
  return {
    board,
    network,
    client,
    run: async (code, timeoutMs = 20_000) => new TextDecoder().decode(await client.exec(code, { timeoutMs })).replaceAll('\r\n', '\n'),
    stop: () => board.stop(),
  };
}
