/** A powered-on virtual ESP32 for tests, stopped by the caller (`await board.stop()`). */
import type { VirtualEsp32 } from '../../src/device/virtual-esp32.js';
import type { SharedFlash } from '../../src/device/nor-flash.js';
import type { StrictBoardOptions } from '../../src/device/board-console.js';
import { freshFlash, virtualBoard, type FreshFlashOptions } from '../../src/node/virtual-board.js';

export async function bootedBoard(
  options: FreshFlashOptions & { flash?: SharedFlash; rollbackEnabled?: boolean; strict?: StrictBoardOptions } = {},
): Promise<VirtualEsp32> {
  const board = virtualBoard(options.flash ?? freshFlash(options), {
    ...(options.rollbackEnabled !== undefined && { rollbackEnabled: options.rollbackEnabled }),
    ...(options.strict && { strict: options.strict }),
  });
  await board.powerOn();
  await board.idle();
  return board;
}

/** Waits until a power cut has switched the board off (fails after `timeoutMs`). */
export async function poweredOff(board: VirtualEsp32, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (board.state !== 'off') {
    if (Date.now() > deadline) throw new Error(`the board did not lose power (state ${board.state})`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
