/**
 * The MicroPython version and board an app image was built as. MicroPython's
 * ESP32 builds set CONFIG_APP_EXCLUDE_PROJECT_VER_VAR and
 * CONFIG_APP_EXCLUDE_PROJECT_NAME_VAR (reproducible builds), so
 * `esp_app_desc_t.version` and `.project_name` are empty; the firmware's own
 * strings are the reliable source: `MicroPython v1.23.0 on 2024-06-02`
 * (the banner and `sys.version`) and `Generic ESP32 module with ESP32`
 * (MICROPY_HW_BOARD_NAME " with " MICROPY_HW_MCU_NAME, `sys.implementation._machine`).
 */

export interface MicroPythonIdentity {
  /** e.g. 'v1.23.0' or 'v1.24.0-preview.123.gabcdef' */
  readonly version: string;
  /** e.g. '2024-06-02' */
  readonly buildDate: string;
  /** e.g. 'Generic ESP32 module with ESP32'; undefined when not found. */
  readonly machine: string | undefined;
}

const latin1 = new TextDecoder('latin1');
const ascii = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));
const VERSION_PREFIX = ascii('MicroPython v');
const VERSION_PATTERN = /^MicroPython (v\d+\.\d+\.\d+[^\s\0;]*) on (\d{4}-\d{2}-\d{2})/;
const MACHINE_MARK = ascii(' with ESP32');
const MACHINE_PATTERN = /^[A-Za-z0-9][\x20-\x7e]{2,80} with ESP32[\w-]*$/;

export function findMicroPythonIdentity(image: Uint8Array): MicroPythonIdentity | undefined {
  for (let at = indexOfBytes(image, VERSION_PREFIX, 0); at >= 0; at = indexOfBytes(image, VERSION_PREFIX, at + 1)) {
    const version = VERSION_PATTERN.exec(latin1.decode(image.subarray(at, at + 96)));
    if (version) return { version: version[1]!, buildDate: version[2]!, machine: findMachine(image) };
  }
  return undefined;
}

/** A NUL-terminated string ending in ` with ESP32…`, that starts after a NUL or after the banner's "; ". */
function findMachine(image: Uint8Array): string | undefined {
  for (let at = indexOfBytes(image, MACHINE_MARK, 0); at >= 0; at = indexOfBytes(image, MACHINE_MARK, at + 1)) {
    const end = image.indexOf(0, at);
    let start = at;
    while (start > 0 && image[start - 1]! >= 0x20 && image[start - 1]! <= 0x7e && at - start < 96) start--;
    if (end < 0 || start === 0 || image[start - 1] !== 0) continue;
    const text = latin1.decode(image.subarray(start, end)).replace(/^; /, '');
    if (MACHINE_PATTERN.test(text)) return text;
  }
  return undefined;
}

function indexOfBytes(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  const last = haystack.length - needle.length;
  for (let i = haystack.indexOf(needle[0]!, from); i >= 0 && i <= last; i = haystack.indexOf(needle[0]!, i + 1)) {
    let matched = 1;
    while (matched < needle.length && haystack[i + matched] === needle[matched]) matched++;
    if (matched === needle.length) return i;
  }
  return -1;
}

/** The first line of the REPL banner, as the ESP32 port prints it. */
export function bannerLine(identity: MicroPythonIdentity): string {
  return `MicroPython ${identity.version} on ${identity.buildDate}; ${identity.machine ?? 'ESP32 module'}`;
}
