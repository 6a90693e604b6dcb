/** The host's own HTTP(S) requests (manifests, firmware), with failures as one-line messages that give the reason. */

/** A download that failed: the server could not be reached, or answered with another status than 200. */
export class DownloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DownloadError';
  }
}

export async function httpRequest(url: string, method: 'GET' | 'HEAD' = 'GET'): Promise<Response> {
  try {
    return await fetch(url, { method, redirect: 'follow' });
  } catch (error) {
    // fetch says "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND, …) is its cause.
    const cause = (error as Error).cause as NodeJS.ErrnoException | undefined;
    throw new DownloadError(`cannot download ${url}: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
  }
}

export async function downloadBytes(url: string): Promise<Uint8Array> {
  const response = await httpRequest(url);
  if (response.status !== 200) throw new DownloadError(`cannot download ${url}: HTTP ${response.status} ${response.statusText}`);
  return new Uint8Array(await response.arrayBuffer());
}
