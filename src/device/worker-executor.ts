/**
 * The REPL machine's CodeExecutor on top of the MicroPython worker. After
 * every command the board's files are saved to the vfs partition (nothing is
 * written when they did not change), so a reset, a power cut or the host
 * reading the flash sees what the program wrote, as with littlefs on a board.
 */
import type { CodeExecutor, ExecutionMode, ExecutionResult } from './repl/code-executor.js';
import type { MicroPythonWorker } from './micropython/micropython-worker.js';
import { BOARD_SOURCE_NAME } from './board/esp32-hardware.js';

/** Run in the board's own interpreter; `__import__` keeps the user's globals clean. */
const SYNC_FILES = "__import__('_esp32_hw').fs_sync()";
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
    const result = withoutBoardFrames(await this.worker().execute(code, mode === 'paste' ? 'exec' : mode, onOutput));
    if (!result.reset) await this.syncFiles();
    else if (result.reset === 'soft') {
      // sys.exit() also ends in a soft reset, with an interpreter that can still save the files.
      // After machine.soft_reset() it cannot, but that call saved them before resetting.
      await this.syncFiles().catch(() => undefined);
    }
    return result;
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

  /** Saves the board's files to flash now (the worker must be idle). */
  async syncFiles(): Promise<void> {
    const result = await this.worker().execute(SYNC_FILES, 'exec', ignoreOutput);
    if (result.exception) throw new Error(`saving the board's files failed: ${result.exception}`);
  }

  /** Makes the running interpreter see files the host changed in the vfs partition. */
  async reloadFiles(): Promise<void> {
    const result = await this.worker().execute(RELOAD_FILES, 'exec', ignoreOutput);
    if (result.exception) throw new Error(`reloading the board's files failed: ${result.exception}`);
  }
}

/** esp32, machine and flashbdev are C modules on a board: their calls add no traceback lines there. */
function withoutBoardFrames(result: ExecutionResult): ExecutionResult {
  if (!result.exception) return result;
  const frame = `  File "${BOARD_SOURCE_NAME}", line `;
  return { ...result, exception: result.exception.split('\n').filter((line) => !line.startsWith(frame)).join('\n') };
}
