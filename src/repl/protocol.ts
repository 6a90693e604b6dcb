/**
 * The bytes of MicroPython's raw REPL as the host sends and expects them
 * (shared/runtime/pyexec.c; docs/reference/repl.rst; /work/shared/spec/repl-protocols.md).
 */

/** Ctrl-C twice after a carriage return: stops a running program (pyboard.py sent two until 2024; one is enough on every current port). */
export const INTERRUPT = '\r\x03\x03';
/** Ctrl-A after a carriage return: raw REPL from the friendly REPL, or the header again from the raw REPL. */
export const ENTER_RAW_REPL = '\r\x01';
/** Ctrl-B after a carriage return: back to the friendly REPL, which prints its banner. */
export const EXIT_RAW_REPL = '\r\x02';
/** Ctrl-D: ends a command; on an empty raw REPL command line, a soft reset. */
export const END_OF_COMMAND = 0x04;

export const RAW_REPL_HEADER = 'raw REPL; CTRL-B to exit\r\n';
export const RAW_PROMPT = '>';
export const FRIENDLY_PROMPT = '>>> ';
/** The ESP32 port prints `MPY: soft reboot\r\n`; other ports `soft reboot\r\n`: match the common tail, as mpremote does. */
export const SOFT_REBOOT = 'soft reboot\r\n';
/** The raw REPL's answer once a command is complete. */
export const COMMAND_ACCEPTED = 'OK';

/** Ctrl-E, 'A', Ctrl-A: asks for raw-paste mode. */
export const RAW_PASTE_REQUEST = '\x05A\x01';
export const RAW_PASTE_SUPPORTED = 'R\x01';
export const RAW_PASTE_REFUSED = 'R\x00';
/** Device → host during raw paste: one more window may be sent. */
export const WINDOW_GRANT = 0x01;
/** Ends raw-paste data (host → device); acknowledges it or aborts (device → host). */
export const END_OF_DATA = 0x04;
/** Separates a raw command's stdout from its exception text, and ends the exception text. */
export const END_OF_OUTPUT = 0x04;
