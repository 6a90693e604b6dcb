/**
 * The DTR/RTS lines of a USB serial port and what ESP32 dev boards do with
 * them, for every serial transport (Node's serialport, a browser's Web Serial).
 * Pure: no Node imports.
 */

/** Modem control lines, true = asserted (pyserial's `True`; the pin itself is then low). */
export interface ControlLines {
  dtr: boolean;
  rts: boolean;
}

export interface LineStep {
  lines: ControlLines;
  /** How long the lines stay so before the next step. */
  holdMs: number;
}

/** Both lines released: EN and IO0 float high, the chip runs. mpremote leaves the lines so when it closes a port. */
export const RUN_LINES: ControlLines = { dtr: false, rts: false };

/** esptool's HardReset: EN low for 100 ms with IO0 high, then released: the chip reboots from flash (not into the ROM downloader). */
export const HARD_RESET_SEQUENCE: readonly LineStep[] = [
  { lines: { dtr: false, rts: true }, holdMs: 100 },
  { lines: RUN_LINES, holdMs: 0 },
];

/**
 * The pins the auto-reset circuit of ESP32 dev boards drives (esptool docs,
 * "Automatic Bootloader"): EN is pulled low only while RTS is asserted and DTR
 * is not; IO0 only while DTR is asserted and RTS is not. Both asserted or both
 * released pulls neither.
 */
export function autoResetPins(lines: ControlLines): { en: 'low' | 'high'; io0: 'low' | 'high' } {
  return {
    en: lines.rts && !lines.dtr ? 'low' : 'high',
    io0: lines.dtr && !lines.rts ? 'low' : 'high',
  };
}

