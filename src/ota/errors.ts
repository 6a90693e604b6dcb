/** Why a transfer failed, as a code for programs and a sentence for people. */
export type TransferErrorCode =
  /** The image's SHA-256 is not the one expected, or the board received other data than was sent. */
  | 'sha-mismatch'
  /** The partition read back after writing does not hash to the image's SHA-256. */
  | 'readback-mismatch'
  /** The board ran out of heap (MemoryError in the agent). */
  | 'out-of-memory'
  | 'partition-too-small'
  /** The board's filesystem has too little room for the file (a file target). */
  | 'no-space'
  | 'no-partition'
  /** The target is the partition the board runs from. */
  | 'running-partition'
  /** Compression was required but the firmware has no `deflate` module (MicroPython < 1.21). */
  | 'no-deflate'
  /** A UART rate was asked for on a link without one (WebREPL, USB, the forgiving virtual board); nothing was sent. */
  | 'no-baud-change'
  /** The connection closed mid-transfer; `resume: true` on a new connection continues it. */
  | 'link-lost'
  /** Nothing came from the board for too long. */
  | 'timeout'
  | 'aborted'
  /** Flash access failed on the board (OSError). */
  | 'flash'
  /** The board or the host broke the protocol (a bug, or a board that is not what it seems). */
  | 'protocol';

export interface TransferErrorDetails {
  /** Image bytes the board had written and acknowledged when the transfer stopped. */
  readonly ackedBytes?: number;
  /** The agent's own words, e.g. `sha received data has SHA-256 …`. */
  readonly agentReport?: string;
  readonly cause?: unknown;
}

export class TransferError extends Error {
  readonly ackedBytes: number | undefined;
  readonly agentReport: string | undefined;

  constructor(
    readonly code: TransferErrorCode,
    message: string,
    details: TransferErrorDetails = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'TransferError';
    this.ackedBytes = details.ackedBytes;
    this.agentReport = details.agentReport;
  }
}

/** The agent's failure codes (agent.py `_Fail`) → TransferErrorCode. */
export const AGENT_FAILURES: Record<string, TransferErrorCode> = {
  sha: 'sha-mismatch',
  readback: 'readback-mismatch',
  length: 'sha-mismatch',
  nomem: 'out-of-memory',
  toosmall: 'partition-too-small',
  nospace: 'no-space',
  nopartition: 'no-partition',
  running: 'running-partition',
  nodeflate: 'no-deflate',
  timeout: 'timeout',
  aborted: 'aborted',
  flash: 'flash',
  deflate: 'protocol',
  protocol: 'protocol',
  agent: 'protocol',
};
