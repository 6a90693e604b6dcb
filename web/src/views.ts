/** What the page shows, built from the same models the CLI prints: board status, flash layout, firmware file. */
import { hex, toHex } from '../../src/format/bytes.js';
import { sha256 } from '../../src/format/hash.js';
import { activeEntryIndex, isBlankEntry, otaStateName } from '../../src/format/otadata.js';
import type { Partition } from '../../src/format/partition-table.js';
import { humanSize, withThousands } from '../../src/format/units.js';
import type { BoardStatus } from '../../src/ota/engine.js';
import type { PreparedImage } from '../../src/ota/preflight.js';

export function element<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

export function size(bytes: number): string {
  return `${humanSize(bytes)} (${hex(bytes)})`;
}

function definition(list: HTMLElement, term: string, value: string, id?: string): void {
  list.append(element('dt', {}, term), element('dd', id ? { 'data-field': id } : {}, value));
}

export function renderStatus(list: HTMLElement, status: BoardStatus): void {
  list.replaceChildren();
  definition(list, 'Firmware', `MicroPython ${status.version}`, 'version');
  definition(list, 'Board', `${status.machine}${status.chip ? ` (${status.chip.name})` : ''}`);
  definition(list, 'Running from', status.running ?? 'unknown', 'running');
  definition(list, 'Boot partition', status.bootPartition ?? 'unknown', 'boot');
  const next = status.nextBoot;
  definition(list, 'Next reset boots', next ? `${next.partition ?? '?'}${next.rollsBack ? ' (rolls back the unconfirmed update)' : ''}` : status.bootPartition ?? 'unknown', 'next-boot');
  definition(list, 'Next update goes to', status.nextUpdate ?? `none: ${status.nextUpdateError ?? 'no OTA partition'}`, 'next-update');
  definition(list, 'otadata', otadataText(status), 'otadata');
}

function otadataText(status: BoardStatus): string {
  if (!status.otadata) return 'none (no OTA support)';
  const active = activeEntryIndex(status.otadata);
  return status.otadata
    .map((entry, i) => (isBlankEntry(entry) ? `entry ${i}: blank` : `entry ${i}: seq ${entry.seq}, ${otaStateName(entry.state)}${i === active ? ' (active)' : ''}`))
    .join('; ');
}

const TYPE_NAMES: Record<number, string> = { 0: 'app', 1: 'data' };

/** The partitions to scale on one bar (the bootloader and table area first), and a table with the same facts. */
export function renderFlashMap(container: HTMLElement, status: BoardStatus): void {
  const partitions = [...status.table.partitions].sort((a, b) => a.offset - b.offset);
  const end = Math.max(...partitions.map((p) => p.offset + p.size));
  const flashSize = 2 ** Math.ceil(Math.log2(end));
  const roles = (p: Partition): string[] => {
    const list: string[] = [];
    if (p.label === status.running) list.push('running');
    if (p.label === status.nextUpdate) list.push('next update');
    if (p.label === status.nextBoot?.partition && p.label !== status.running) list.push('boots next');
    if (p.label === status.filesystemPartition) list.push('files');
    return list;
  };
  const bar = element('div', { class: 'flash-bar', role: 'img', 'aria-labelledby': 'flash-heading', 'aria-describedby': 'flash-table' });
  const segment = (offset: number, length: number, label: string, classes: string[], title: string): void => {
    const part = element('div', { class: ['segment', ...classes].join(' '), title, style: `flex-basis: ${(length / flashSize) * 100}%` });
    if (length / flashSize >= 0.08) part.append(element('span', {}, label));
    bar.append(part);
  };
  segment(0, partitions[0]?.offset ?? 0, 'boot', ['system'], `bootloader and partition table, 0x0–${hex(partitions[0]?.offset ?? 0)}`);
  let at = partitions[0]?.offset ?? 0;
  for (const p of partitions) {
    if (p.offset > at) segment(at, p.offset - at, '', ['free'], `unused ${size(p.offset - at)}`);
    const r = roles(p);
    const classes = [p.type === 0 ? 'app' : 'data', ...r.map((role) => role.replace(' ', '-'))];
    segment(p.offset, p.size, `${p.label}${r.includes('running') ? ' ▶' : ''}${r.includes('next update') ? ' ⇠' : ''}`, classes, `${p.label}: ${size(p.size)} at ${hex(p.offset)}${r.length ? ` (${r.join(', ')})` : ''}`);
    at = p.offset + p.size;
  }
  if (flashSize > at) segment(at, flashSize - at, '', ['free'], `unused ${size(flashSize - at)}`);

  const scale = element('div', { class: 'flash-scale', 'aria-hidden': 'true' }, element('span', {}, '0x0'), element('span', {}, `${hex(flashSize)} (${humanSize(flashSize)})`));
  const table = element('table', { id: 'flash-table' });
  table.append(element('caption', {}, `Partitions (${humanSize(flashSize)} flash)`));
  table.append(element('thead', {}, element('tr', {}, ...['Name', 'Type', 'Offset', 'Size', 'Role'].map((h) => element('th', { scope: 'col' }, h)))));
  const body = element('tbody');
  for (const p of partitions) {
    const r = roles(p);
    body.append(
      element(
        'tr',
        r.length ? { class: r.map((role) => role.replace(' ', '-')).join(' ') } : {},
        element('th', { scope: 'row' }, p.label),
        element('td', {}, TYPE_NAMES[p.type] ?? String(p.type)),
        element('td', { class: 'number' }, hex(p.offset)),
        element('td', { class: 'number' }, humanSize(p.size)),
        element('td', {}, r.join(', ')),
      ),
    );
  }
  table.append(body);
  container.replaceChildren(bar, scale, table);
}

export type Check = { ok: boolean; text: string };

export function renderFileInfo(container: HTMLElement, name: string, fileLength: number, prepared: PreparedImage | undefined, checks: Check[]): void {
  const list = element('dl');
  definition(list, 'File', `${name}, ${withThousands(fileLength)} bytes`);
  if (prepared) {
    const description = prepared.image.description;
    definition(list, 'Firmware', prepared.version ? `MicroPython ${prepared.version}` : description?.projectName ?? 'unknown');
    definition(list, 'Chip', prepared.image.header.chip ?? `unknown (id ${prepared.image.header.chipId})`);
    definition(list, 'App image', `${withThousands(prepared.bytes.length)} bytes (${size(prepared.bytes.length)})`);
    if (description) definition(list, 'Built', `${description.date} ${description.time}, ESP-IDF ${description.idfVersion}`);
    // Of the whole app image: what the board checks after writing it.
    definition(list, 'SHA-256', toHex(sha256(prepared.bytes)));
  }
  const checkList = element('ul', { class: 'checks', 'aria-label': 'Pre-flight checks' });
  for (const check of checks) checkList.append(element('li', { class: check.ok ? 'ok' : 'bad' }, element('span', { 'aria-hidden': 'true' }, check.ok ? '✓ ' : '✗ '), check.ok ? '' : element('strong', {}, 'Refused: '), check.text));
  container.replaceChildren(list, element('h3', {}, 'Pre-flight checks'), checkList);
}
