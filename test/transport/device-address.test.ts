import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  DeviceAddressError,
  defaultDeviceAddress,
  formatDeviceAddress,
  parseDeviceAddress,
  type DeviceAddress,
} from '../../src/transport/device-address.js';

describe('parseDeviceAddress', () => {
  const cases: Array<[string, DeviceAddress]> = [
    ['/dev/ttyUSB0', { kind: 'serial', path: '/dev/ttyUSB0' }],
    ['/dev/ttyACM1', { kind: 'serial', path: '/dev/ttyACM1' }],
    ['/dev/cu.usbserial-0001', { kind: 'serial', path: '/dev/cu.usbserial-0001' }],
    ['COM3', { kind: 'serial', path: 'COM3' }],
    ['com12', { kind: 'serial', path: 'COM12' }],
    ['serial:/tmp/ttyV0', { kind: 'serial', path: '/tmp/ttyV0' }],
    ['tcp:localhost:2323', { kind: 'tcp', host: 'localhost', port: 2323 }],
    ['tcp:192.168.4.1:23', { kind: 'tcp', host: '192.168.4.1', port: 23 }],
    ['tcp:[::1]:2323', { kind: 'tcp', host: '::1', port: 2323 }],
    ['ws://192.168.4.1', { kind: 'webrepl', url: 'ws://192.168.4.1:8266/' }],
    ['ws://192.168.4.1:8266', { kind: 'webrepl', url: 'ws://192.168.4.1:8266/' }],
    ['ws://ESP32.local:80/', { kind: 'webrepl', url: 'ws://esp32.local:80/' }],
    ['ws://[fe80::1]:9000', { kind: 'webrepl', url: 'ws://[fe80::1]:9000/' }],
    ['sim:flash.bin', { kind: 'sim', flashFile: 'flash.bin' }],
    ['sim:/tmp/my flash.bin', { kind: 'sim', flashFile: '/tmp/my flash.bin' }],
    ['  /dev/ttyUSB0  ', { kind: 'serial', path: '/dev/ttyUSB0' }],
  ];
  for (const [text, expected] of cases) {
    it(`reads ${JSON.stringify(text)}`, () => assert.deepEqual(parseDeviceAddress(text), expected));
  }

  const bad: Array<[string, RegExp]> = [
    ['', /no device address given/],
    ['ttyUSB0', /"ttyUSB0" is not a device address/],
    ['/dev/', /not a device address/],
    ['COM0', /not a device address/],
    ['tcp:localhost', /"tcp:localhost" is not tcp:HOST:PORT/],
    ['tcp::2323', /is not tcp:HOST:PORT/],
    ['tcp:localhost:0', /port 0, not a number from 1 to 65535/],
    ['tcp:localhost:70000', /port 70000/],
    ['ws://', /is not ws:\/\/HOST\[:PORT\]/],
    ['ws://:secret@192.168.4.1', /holds credentials; give the WebREPL password separately/],
    ['ws://host:99999', /port 99999/],
    ['http://192.168.4.1', /not a device address/],
    ['sim:', /names no flash file/],
    ['serial:', /names no serial device/],
  ];
  for (const [text, reason] of bad) {
    it(`refuses ${JSON.stringify(text)} and lists the accepted forms`, () => {
      assert.throws(
        () => parseDeviceAddress(text),
        (error: unknown) => {
          assert.ok(error instanceof DeviceAddressError);
          assert.match(error.message, reason);
          assert.match(error.message, /accepted forms: .*COM3.*tcp:HOST:PORT.*ws:\/\/HOST\[:PORT\].*sim:FLASHFILE/);
          return true;
        },
      );
    });
  }

  it('reads back what formatDeviceAddress writes', () => {
    const host = fc.oneof(fc.domain(), fc.ipV4(), fc.ipV6());
    const address: fc.Arbitrary<DeviceAddress> = fc.oneof(
      fc.stringMatching(/^\/dev\/[A-Za-z0-9._-]{1,12}$/).map((path) => ({ kind: 'serial' as const, path })),
      fc.integer({ min: 1, max: 256 }).map((n) => ({ kind: 'serial' as const, path: `COM${n}` })),
      fc.stringMatching(/^\/[a-z0-9/]{1,12}$/).map((path) => ({ kind: 'serial' as const, path })),
      fc.tuple(host, fc.integer({ min: 1, max: 65535 })).map(([name, port]) => ({ kind: 'tcp' as const, host: name, port })),
      // Surrounding blanks are trimmed, so the file name starts and ends with a printable character.
      fc.stringMatching(/^[!-~](?:[ -~]{0,20}[!-~])?$/).map((flashFile) => ({ kind: 'sim' as const, flashFile })),
    );
    fc.assert(fc.property(address, (value) => assert.deepEqual(parseDeviceAddress(formatDeviceAddress(value)), value)));
  });
});

describe('defaultDeviceAddress', () => {
  it('reads ESP32_OTA_DEVICE', () => {
    assert.deepEqual(defaultDeviceAddress({ ESP32_OTA_DEVICE: 'tcp:localhost:2323' }), { kind: 'tcp', host: 'localhost', port: 2323 });
  });

  it('is undefined when the variable is unset or blank', () => {
    assert.equal(defaultDeviceAddress({}), undefined);
    assert.equal(defaultDeviceAddress({ ESP32_OTA_DEVICE: '  ' }), undefined);
  });

  it('names the variable when its value is wrong', () => {
    assert.throws(() => defaultDeviceAddress({ ESP32_OTA_DEVICE: 'usb0' }), {
      name: 'DeviceAddressError',
      message: /^ESP32_OTA_DEVICE: "usb0" is not a device address; accepted forms: /,
    });
  });
});
