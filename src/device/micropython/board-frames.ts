/**
 * The board's own Python modules (esp32, machine, select... in
 * src/device/board/python/) are C modules on a real board: their calls add no
 * traceback lines there. They are compiled under this file name, and these
 * lines are left out of the tracebacks the board prints.
 */
export const BOARD_SOURCE_NAME = '<board>';

export function withoutBoardFrames(traceback: string): string {
  const frame = `  File "${BOARD_SOURCE_NAME}", line `;
  const lines = traceback.split('\n').filter((line) => !line.startsWith(frame));
  // An exception with no frame left is printed without the header (py/obj.c mp_obj_print_exception).
  const header = lines.indexOf(TRACEBACK_HEADER);
  if (header !== -1 && !lines[header + 1]?.startsWith('  File ')) lines.splice(header, 1);
  return lines.join('\n');
}

const TRACEBACK_HEADER = 'Traceback (most recent call last):';
