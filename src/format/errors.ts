/**
 * The one error type of the format codecs. `offset` is the byte offset in the
 * input where the problem was found, so a user can look at it in a hex dump.
 */
export class FormatError extends Error {
  readonly problem: string;
  readonly offset: number | undefined;

  constructor(problem: string, offset?: number) {
    super(offset === undefined ? problem : `${problem} at offset 0x${offset.toString(16)}`);
    this.name = 'FormatError';
    this.problem = problem;
    this.offset = offset;
  }
}
