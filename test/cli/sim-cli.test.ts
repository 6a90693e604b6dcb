/** esp32-ota sim's board-faithful options: mistakes are refused before any board starts. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { runCli } from '../helpers/run-cli.js';

describe('esp32-ota sim --strict options', () => {
  for (const [args, message] of [
    [['--baud', '9600'], /--baud applies only with --strict/],
    [['--strict', '--uart', 'usb'], /--uart must be one of uart, usb-cdc, usb-serial-jtag; got 'usb'/],
    [['--strict', '--uart', 'usb-cdc', '--baud', '9600'], /--baud is the UART's bit rate; usb-cdc has none/],
    [['--strict', '--baud', '115200.5'], /--baud must be a whole number, from 300 to 5000000; got '115200.5'/],
    [['--strict', '--flash-time-scale', '0'], /--flash-time-scale must be a positive number, got '0'/],
  ] as const) {
    it(`refuses ${args.join(' ')}`, () => {
      const result = runCli(['sim', ...args, '--tcp', '0']);
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, message);
      assert.equal(result.stdout, '', 'no board was started');
    });
  }
});
