/**
 * Log lines written in batches: one write per interval (or per 4 KiB) instead
 * of one per line. process.stdout into a file or a terminal writes
 * synchronously, so a line per request would cost the server a system call
 * per request. 4 KiB is PIPE_BUF: a batch written to a pipe shared by several
 * processes (serve --workers) is not interleaved with another's.
 */
const BATCH_BYTES = 4096;

export interface BatchedLines {
  line(text: string): void;
  /** Writes what is pending now (before exiting). */
  flush(): void;
}

export function batchedLines(write: (text: string) => void, intervalMs = 100): BatchedLines {
  let pending = '';
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (!pending) return;
    const text = pending;
    pending = '';
    write(text);
  };
  return {
    line(text) {
      const line = text.endsWith('\n') ? text : `${text}\n`;
      if (pending.length + line.length > BATCH_BYTES) flush();
      pending += line;
      timer ??= setTimeout(flush, intervalMs).unref();
    },
    flush,
  };
}
