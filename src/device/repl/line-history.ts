/**
 * The friendly REPL's recall list (readline_push_history in
 * shared/readline/readline.c): newest first, MICROPY_READLINE_HISTORY_SIZE (8)
 * entries, empty lines and repeats of the newest entry are not stored. A soft
 * reset empties it (readline_init0 in ports/esp32/main.c).
 */
export const HISTORY_SIZE = 8;

export class LineHistory {
  private entries: string[] = [];

  push(line: string): void {
    if (line.length === 0 || this.entries[0] === line) return;
    this.entries.unshift(line);
    if (this.entries.length > HISTORY_SIZE) this.entries.length = HISTORY_SIZE;
  }

  /** 0 is the newest entry. */
  entry(index: number): string | undefined {
    return this.entries[index];
  }

  clear(): void {
    this.entries = [];
  }
}
