/**
 * CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) with zlib's calling
 * convention: `crc32(data, previous)` continues from a previous result, so
 * `crc32(b, crc32(a)) === crc32(a ++ b)`. ESP-IDF's
 * `esp_rom_crc32_le(0xFFFFFFFF, buf, len)` equals `crc32(buf, 0xFFFFFFFF)`.
 */
const table = new Uint32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  table[n] = c >>> 0;
}

export function crc32(data: Uint8Array, previous = 0): number {
  let crc = ~previous >>> 0;
  for (let i = 0; i < data.length; i++) {
    crc = table[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  }
  return ~crc >>> 0;
}
