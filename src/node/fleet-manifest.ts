/**
 * Before a rollout publishes anything: the manifest is downloaded and checked
 * as a board will check it, it names a version (the rollout's target), and
 * its firmware files answer a HEAD request with the expected length.
 */
import { FleetError } from '../fleet/errors.js';
import { isHttpUrl, parseManifest, resolveFirmwareUrl, type OtaManifest } from '../ota/manifest.js';
import { downloadBytes, httpRequest } from './http-fetch.js';

export interface RolloutManifest {
  readonly url: string;
  readonly manifest: OtaManifest;
  readonly version: string;
}

export async function checkRolloutManifest(url: string): Promise<RolloutManifest> {
  if (!isHttpUrl(url)) throw new FleetError(`the boards download the manifest themselves: give an http(s) URL they can reach, not '${url}'`);
  if (!new URL(url).pathname.endsWith('.json')) throw new FleetError(`${url}: a manifest URL must end in .json (the board's ota package refuses others); make one with esp32-ota manifest`);
  const manifest = parseManifest(new TextDecoder().decode(await downloadBytes(url)), url);
  if (!manifest.version) throw new FleetError(`${url} names no "version": a rollout needs it to know which boards are done; make the manifest with esp32-ota manifest, which reads it from the image`);
  const files = [{ name: manifest.firmware, length: manifest.length }, ...(manifest.compression ? [{ name: manifest.compression.firmware, length: manifest.compression.length }] : [])];
  for (const file of files) {
    if (!isHttpUrl(file.name) && file.name.startsWith('/')) throw new FleetError(`${url}: the firmware '${file.name}' is a path on the board; for a fleet give a URL, or a name relative to the manifest`);
    await checkReachable(resolveFirmwareUrl(url, file.name), file.length);
  }
  return { url, manifest, version: manifest.version };
}

async function checkReachable(url: string, length: number): Promise<void> {
  let response = await httpRequest(url, 'HEAD');
  if (response.status === 405 || response.status === 501) {
    response = await httpRequest(url, 'GET');
    await response.body?.cancel();
  }
  if (response.status !== 200) throw new FleetError(`the manifest's firmware ${url} is not there: HTTP ${response.status} ${response.statusText}`);
  const size = response.headers.get('content-length');
  if (size !== null && Number(size) !== length) throw new FleetError(`the manifest's firmware ${url} is ${size} bytes, but the manifest says ${length}: rebuild the manifest (esp32-ota manifest)`);
}
