/** Byte values with a meaning in MicroPython's REPLs (shared/readline/readline.h). */
export const CTRL_A = 0x01;
export const CTRL_B = 0x02;
export const CTRL_C = 0x03;
export const CTRL_D = 0x04;
export const CTRL_E = 0x05;
export const CTRL_F = 0x06;
export const BACKSPACE = 0x08;
export const TAB = 0x09;
export const LINE_FEED = 0x0a;
export const CTRL_K = 0x0b;
export const CARRIAGE_RETURN = 0x0d;
export const CTRL_N = 0x0e;
export const CTRL_P = 0x10;
export const CTRL_U = 0x15;
export const ESCAPE = 0x1b;
export const SPACE = 0x20;
export const DELETE = 0x7f;
