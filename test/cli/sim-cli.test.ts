/** esp32-ota sim's board-faithful options: mistakes are refused before any board starts. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { runCli, runCliInProcess } from '../helpers/run-cli.js';

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

describe('esp32-ota sim network fault values', () => {
  const perSecond = /--bandwidth must be a whole number of bytes per second \(or with k = ×1,000, M = ×1,000,000\), at least 1; got /;
  for (const [args, message] of [
    [['--bandwidth', '12x'], new RegExp(`${perSecond.source}'12x'$`)],
    [['--bandwidth', '-5'], new RegExp(`${perSecond.source}'-5'$`)],
    [['--bandwidth', ''], new RegExp(`${perSecond.source}''$`)],
    [['--bandwidth', '0'], new RegExp(`${perSecond.source}'0'$`)],
    [['--bandwidth', '1.5k'], new RegExp(`${perSecond.source}'1\\.5k'$`)],
    [['--reset-after', '10G'], /^esp32-ota: error: --reset-after must be a whole number of bytes \(or with k = ×1,000, M = ×1,000,000\), at least 0; got '10G'$/],
    [['--latency', '5k'], /^esp32-ota: error: --latency must be a whole number of milliseconds, at least 0; got '5k'$/],
  ] as const) {
    it(`refuses ${args.join(' ') || "''"} in one line, exit 1, before any board starts`, async () => {
      const result = await runCliInProcess(['sim', ...args, '--tcp', '0']);
      assert.equal(result.code, 1, result.stderr);
      assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr);
      assert.match(result.stderr.trimEnd(), message);
      assert.equal(result.stdout, '', 'no board was started');
    });
  }
});
