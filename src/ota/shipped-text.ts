/**
 * Text files shipped next to the compiled modules (the board-side .py
 * programs): Node reads them from disk, a browser fetches them (a bundler
 * emits them as assets). Browser-safe: node:fs is imported only for file: URLs.
 */
const cache = new Map<string, Promise<string>>();

export function loadShippedText(url: URL): Promise<string> {
  let text = cache.get(url.href);
  if (!text) {
    text = (async () => {
      if (url.protocol === 'file:') {
        const fs = 'node:fs/promises';
        const { readFile } = (await import(/* @vite-ignore */ fs)) as typeof import('node:fs/promises');
        return readFile(url, 'utf8');
      }
      const response = await fetch(url);
      if (!response.ok) throw new Error(`cannot load ${url.href}: HTTP ${response.status}`);
      return response.text();
    })();
    cache.set(url.href, text);
    text.catch(() => cache.delete(url.href));
  }
  return text;
}
