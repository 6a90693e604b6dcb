/** Writes command results: JSON for scripts, text for people; all through the two streams main() was given. */

/** What the CLI writes to: process.stdout and process.stderr, or a test's capture. */
export interface OutputStream {
  write(chunk: string | Uint8Array): unknown;
  readonly isTTY?: boolean;
}

export interface CliStreams {
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
}

let streams: CliStreams = { stdout: process.stdout, stderr: process.stderr };

export const stdout = (): OutputStream => streams.stdout;
export const stderr = (): OutputStream => streams.stderr;

/** Runs `work` with the CLI writing to `replacement`. */
export async function withStreams<T>(replacement: CliStreams, work: () => Promise<T>): Promise<T> {
  const previous = streams;
  streams = replacement;
  try {
    return await work();
  } finally {
    streams = previous;
  }
}

export function printJson(value: unknown): void {
  streams.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

export function printText(text: string): void {
  streams.stdout.write(text.endsWith('\n') ? text : text + '\n');
}

/** A line on stderr: notes and steps that are not the command's result. */
export function printNote(text: string): void {
  streams.stderr.write(text.endsWith('\n') ? text : text + '\n');
}
