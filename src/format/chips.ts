/**
 * ESP32-family chips as the app image header names them (`esp_chip_id_t` in
 * ESP-IDF's esp_app_format.h) and where each chip's bootloader sits in flash
 * (esptool's BOOTLOADER_FLASH_OFFSET).
 */
export interface Chip {
  readonly name: string;
  readonly id: number;
  readonly bootloaderOffset: number;
}

export const CHIPS: readonly Chip[] = [
  { name: 'esp32', id: 0x0000, bootloaderOffset: 0x1000 },
  { name: 'esp32s2', id: 0x0002, bootloaderOffset: 0x1000 },
  { name: 'esp32c3', id: 0x0005, bootloaderOffset: 0x0 },
  { name: 'esp32s3', id: 0x0009, bootloaderOffset: 0x0 },
  { name: 'esp32c2', id: 0x000c, bootloaderOffset: 0x0 },
  { name: 'esp32c6', id: 0x000d, bootloaderOffset: 0x0 },
  { name: 'esp32h2', id: 0x0010, bootloaderOffset: 0x0 },
  { name: 'esp32p4', id: 0x0012, bootloaderOffset: 0x2000 },
  { name: 'esp32c61', id: 0x0014, bootloaderOffset: 0x0 },
  { name: 'esp32c5', id: 0x0017, bootloaderOffset: 0x2000 },
];

export function chipById(id: number): Chip | undefined {
  return CHIPS.find((chip) => chip.id === id);
}

export function chipByName(name: string): Chip | undefined {
  const wanted = name.toLowerCase().replace(/[-_]/g, '');
  return CHIPS.find((chip) => chip.name === wanted);
}

export function chipName(id: number): string {
  return chipById(id)?.name ?? `unknown chip id 0x${id.toString(16)}`;
}
