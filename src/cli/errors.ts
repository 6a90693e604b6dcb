/** Errors the CLI reports as one line, with no stack trace. */
import { FormatError } from '../format/errors.js';

/** A problem with what the user asked for: bad arguments, missing file, wrong kind of file. */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}

/** Errors that are the user's input, not our bug: printed as a single line. */
export function isExpectedError(error: unknown): error is Error {
  return error instanceof UserError || error instanceof FormatError;
}
