/** One time limit shared by the several reads of an operation (e.g. all of an exec). */
export class Deadline {
  private readonly endsAt: number;

  constructor(readonly totalMs: number) {
    this.endsAt = Date.now() + totalMs;
  }

  remainingMs(): number {
    return Math.max(0, this.endsAt - Date.now());
  }
}
