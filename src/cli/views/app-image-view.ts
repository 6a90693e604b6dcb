/** What an app image is and whether ESP-IDF would boot it, for people and scripts. */
import { hex, toHex } from '../../format/bytes.js';
import { chipName } from '../../format/chips.js';
import { humanSize, withThousands } from '../../format/units.js';
import { inspectAppImage } from '../../format/app-image.js';
import { FormatError } from '../../format/errors.js';
import { findMicroPythonIdentity } from '../../format/micropython-identity.js';
import type { Sha256 } from '../../format/hash.js';
import { renderTable } from '../text-table.js';

export interface AppImageReport {
  json: AppImageJson;
  text: string;
}

export interface AppImageJson {
  valid: boolean;
  problems: string[];
  length: number | null;
  sha256: string | null;
  chip: string | null;
  chipId: number | null;
  /** esp_app_desc_t.project_name, or 'micropython' when it is empty and the image is MicroPython. */
  project: string | null;
  /** esp_app_desc_t.version, or the MicroPython version string when that is empty. */
  version: string | null;
  micropython: { version: string; buildDate: string; machine: string | null } | null;
  idfVersion: string | null;
  buildDate: string | null;
  buildTime: string | null;
  secureVersion: number | null;
  flash: { mode: string; size: string; frequency: string } | null;
  entryAddress: number | null;
  hashAppended: boolean | null;
  checksum: { stored: number; computed: number } | null;
  segments: { index: number; loadAddress: number; fileOffset: number; length: number }[];
}

/**
 * `sha256` of the image without its appended hash is what OTA tools and the
 * seed's `sha=` compare. `fileOffset` is where the image starts in the file,
 * so that problems and segments give offsets in the file.
 */
export function appImageReport(bytes: Uint8Array, hash: Sha256, fileOffset = 0): AppImageReport {
  const { image, problems } = inspectAppImage(bytes, { sha256: hash });
  const description = image?.description;
  const micropython = image ? findMicroPythonIdentity(bytes.subarray(0, image.length)) : undefined;
  const json: AppImageJson = {
    valid: image !== undefined && problems.length === 0,
    problems: problems.map((problem) => (problem.offset === undefined ? problem.message : new FormatError(problem.problem, fileOffset + problem.offset).message)),
    length: image?.length ?? null,
    sha256: image ? toHex(hash(bytes.subarray(0, image.length))) : null,
    chip: image ? chipName(image.header.chipId) : null,
    chipId: image?.header.chipId ?? null,
    project: description?.projectName || (micropython ? 'micropython' : null),
    version: description?.version || micropython?.version || null,
    micropython: micropython ? { ...micropython, machine: micropython.machine ?? null } : null,
    idfVersion: description?.idfVersion ?? null,
    buildDate: description?.date ?? null,
    buildTime: description?.time ?? null,
    secureVersion: description?.secureVersion ?? null,
    flash: image ? { mode: image.header.flashModeName, size: image.header.flashSizeName, frequency: image.header.flashFreqName } : null,
    entryAddress: image?.header.entryAddress ?? null,
    hashAppended: image?.header.hashAppended ?? null,
    checksum: image ? { stored: image.storedChecksum, computed: image.computedChecksum } : null,
    segments: (image?.segments ?? []).map((segment) => ({
      index: segment.index,
      loadAddress: segment.loadAddress,
      fileOffset: fileOffset + segment.dataOffset,
      length: segment.length,
    })),
  };
  return { json, text: appImageText(json) };
}

function appImageText(json: AppImageJson): string {
  const field = (name: string, value: string) => `  ${(name + ':').padEnd(14)}${value}`;
  const lines: string[] = [];
  if (json.project !== null) lines.push(field('Project', json.project));
  if (json.version !== null) lines.push(field('Version', json.version));
  if (json.micropython) lines.push(field('MicroPython', `${json.micropython.version} on ${json.micropython.buildDate}; ${json.micropython.machine ?? 'unknown board'}`));
  if (json.idfVersion !== null) lines.push(field('ESP-IDF', json.idfVersion));
  if (json.buildDate !== null) lines.push(field('Built', `${json.buildDate} ${json.buildTime ?? ''}`.trimEnd()));
  if (json.secureVersion !== null) lines.push(field('Secure ver.', String(json.secureVersion)));
  if (json.chip !== null) lines.push(field('Chip', `${json.chip} (chip id ${json.chipId})`));
  if (json.flash) lines.push(field('Flash', `${json.flash.mode}, ${json.flash.size}, ${json.flash.frequency}`));
  if (json.entryAddress !== null) lines.push(field('Entry point', hex(json.entryAddress, 8)));
  if (json.length !== null) lines.push(field('Length', `${withThousands(json.length)} bytes (${hex(json.length)}, ${humanSize(json.length)})`));
  if (json.sha256 !== null) lines.push(field('SHA-256', json.sha256));
  if (json.checksum) {
    const ok = json.checksum.stored === json.checksum.computed;
    lines.push(field('Checksum', `${hex(json.checksum.stored, 2)} (${ok ? 'ok' : `computed ${hex(json.checksum.computed, 2)}`})`));
  }
  if (json.hashAppended !== null) lines.push(field('Hash', json.hashAppended ? 'SHA-256 appended' : 'none appended'));
  if (json.segments.length > 0) {
    lines.push(`  Segments:`);
    lines.push(
      renderTable(
        [{ header: '#', align: 'right' }, { header: 'Load addr' }, { header: 'File offset', align: 'right' }, { header: 'Length', align: 'right' }, { header: '(bytes)', align: 'right' }],
        json.segments.map((s) => [String(s.index), hex(s.loadAddress, 8), hex(s.fileOffset), hex(s.length), withThousands(s.length)]),
        '    ',
      ),
    );
  }
  lines.push(field('Validation', json.valid ? 'valid: ESP-IDF would accept this image' : `INVALID: ${json.problems.join('; ')}`));
  return lines.join('\n');
}
