/**
 * The REPL machine's CodeExecutor on top of the MicroPython worker. The
 * board's files live in littlefs on the flash, written as programs write
 * them; when the host changed them between commands, the worker mounts the
 * filesystem again before the next one.
 */
import type { CodeExecutor, ExecutionMode, ExecutionResult } from './repl/code-executor.js';
import type { MicroPythonWorker } from './micropython/micropython-worker.js';
import { withoutBoardFrames } from './micropython/board-frames.js';

/** Run in the board's own interpreter; `__import__` keeps the user's globals clean. */
const RELOAD_FILES = "__import__('_esp32_hw').fs_reload()";
const ignoreOutput = () => undefined;

export class WorkerExecutor implements CodeExecutor {
  private filesChanged = false;

  constructor(private readonly worker: () => MicroPythonWorker) {}

  /** The host changed files in the vfs partition: reload them before the next command. */
  markFilesChanged(): void {
    this.filesChanged = true;
  }

  async execute(code: string, mode: ExecutionMode, onOutput: (stdout: Uint8Array) => void): Promise<ExecutionResult> {
    if (this.filesChanged) {
      this.filesChanged = false;
      await this.reloadFiles();
    }
    // Paste mode compiles a whole file as REPL input; the worker has no such mode, so it runs as a file.
    const result = await this.worker().execute(code, mode === 'paste' ? 'exec' : mode, onOutput);
    return result.exception ? { ...result, exception: withoutBoardFrames(result.exception) } : result;
  }

  feedInput(bytes: Uint8Array): void {
    this.worker().feedInput(bytes);
  }

  takeUnreadInput(): Uint8Array {
    return this.worker().takeUnreadInput();
  }

  async softReset(): Promise<void> {
    this.filesChanged = false; // a fresh interpreter loads the files from flash anyway
    await this.worker().restart();
  }

  /** Makes the running interpreter see files the host changed in the vfs partition. */
  async reloadFiles(): Promise<void> {
    const result = await this.worker().execute(RELOAD_FILES, 'exec', ignoreOutput);
    if (result.exception) throw new Error(`reloading the board's files failed: ${result.exception}`);
  }
}
