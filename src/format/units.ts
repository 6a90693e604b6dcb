/** Formatting of sizes and offsets for people: thousands separators, binary units. */

export function withThousands(value: number): string {
  return value.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** 1536 → '1.5 KiB', 2031616 → '1.9 MiB', 4096 → '4 KiB', 100 → '100 bytes'. */
export function humanSize(bytes: number): string {
  const units = ['KiB', 'MiB', 'GiB'];
  if (bytes < 1024) return `${bytes} bytes`;
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const text = Number.isInteger(value) ? value.toString() : value.toFixed(1).replace(/\.0$/, '');
  return `${text} ${units[unit]}`;
}
