/**
 * Fixed texts a MicroPython v1.23 ESP32 board prints (shared/runtime/pyexec.c,
 * ports/esp32/main.c, py/repl.h), with their exact line ends.
 */
export const PRIMARY_PROMPT = '>>> ';
export const CONTINUATION_PROMPT = '... ';
export const HELP_HINT = 'Type "help()" for more information.\r\n';
export const RAW_REPL_HEADER = 'raw REPL; CTRL-B to exit\r\n';
export const RAW_PROMPT = '>';
export const RAW_COMMAND_ACCEPTED = 'OK';
export const PASTE_MODE_HEADER = '\r\npaste mode; Ctrl-C to cancel, Ctrl-D to finish\r\n=== ';
export const PASTE_NEW_LINE = '\r\n=== ';
export const SOFT_REBOOT = 'MPY: soft reboot\r\n';
export const NEW_LINE = '\r\n';
/** What mp_obj_print_exception prints for the mp_kbd_exception raised while raw-paste input is read (no traceback entries, no args). */
export const KEYBOARD_INTERRUPT_TEXT = 'KeyboardInterrupt: \n';

/** Banner line as pyexec_friendly_repl prints it; `nameAndMachine` is e.g. 'MicroPython v1.23.0 on 2024-06-02; Generic ESP32 module with ESP32'. */
export function friendlyBanner(nameAndMachine: string): string {
  return `${nameAndMachine}\r\n${HELP_HINT}`;
}
