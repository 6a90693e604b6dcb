/** Errors the CLI reports as one line, with no stack trace. */
import { FleetError } from '../fleet/errors.js';
import { FormatError } from '../format/errors.js';
import { BrokerError } from '../node/mqtt-connection.js';
import { FlashFileError } from '../node/flash-file.js';
import { DownloadError } from '../node/http-fetch.js';
import { FileStoreError } from '../fs/file-store.js';
import { OtaError } from '../ota/engine.js';
import { ManifestError } from '../ota/manifest.js';
import { TransferError } from '../ota/errors.js';
import { DeviceError, ReplProtocolError, ReplTimeoutError } from '../repl/index.js';
import { TransportClosedError } from '../transport/transport.js';

/** A problem with what the user asked for: bad arguments, missing file, wrong kind of file. */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}

/** The user stopped the command (Ctrl-C); the message says what state things were left in. Exit code 130. */
export class InterruptedError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'InterruptedError';
  }
}

/** Errors that are the user's input, not our bug: printed as a single line. */
export function isExpectedError(error: unknown): error is Error {
  return (
    error instanceof UserError ||
    error instanceof FormatError ||
    error instanceof FlashFileError ||
    error instanceof FileStoreError ||
    error instanceof FleetError ||
    error instanceof DownloadError ||
    error instanceof ManifestError ||
    error instanceof BrokerError ||
    error instanceof OtaError ||
    error instanceof TransferError ||
    error instanceof DeviceError ||
    error instanceof ReplTimeoutError ||
    error instanceof ReplProtocolError ||
    error instanceof TransportClosedError ||
    // A broken link, a timeout or a board that refused: the message says which. A protocol error may be our bug.
    (error instanceof TransferError && error.code !== 'protocol')
  );
}
