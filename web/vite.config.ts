/**
 * Builds the page into dist/web/: a static folder to host anywhere (see
 * docs/web.md for the headers it needs). The build fails when anything in the
 * page would import a Node-only module, and reports the bundle's size.
 */
import { builtinModules } from 'node:module';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));
const outDir = fileURLToPath(new URL('../dist/web', import.meta.url));
const nodeModules = new Set([...builtinModules, ...builtinModules.map((name) => `node:${name}`)]);
/**
 * micropython.mjs (Emscripten) imports these only in its Node branch
 * (`if (ENVIRONMENT_IS_NODE) … await import("fs")`), dead code in a browser:
 * they become a stub that throws if it were ever used.
 */
const EMSCRIPTEN_NODE_BRANCH = new Set(['module', 'fs', 'path', 'url']);
const EMSCRIPTEN_NODE_STUB = '\0emscripten-node-stub';

function noNodeModules(): Plugin {
  return {
    name: 'esp32-ota:no-node-modules',
    enforce: 'pre',
    resolveId(source, importer) {
      if (!nodeModules.has(source)) return null;
      if (EMSCRIPTEN_NODE_BRANCH.has(source) && importer?.includes('micropython-webassembly-pyscript')) return EMSCRIPTEN_NODE_STUB;
      this.error(`the page must not import the Node-only module '${source}' (imported by ${importer ?? '?'})`);
    },
    load(id) {
      if (id !== EMSCRIPTEN_NODE_STUB) return null;
      return 'const fail = () => { throw new Error("a Node-only module was used in the browser"); };\nexport const createRequire = fail;\nexport default new Proxy({}, { get: fail });\n';
    },
  };
}

function bundleReport(): Plugin {
  return {
    name: 'esp32-ota:bundle-report',
    writeBundle(_options, bundle) {
      // The entry chunk and its CSS load with the page; the other scripts (the virtual board, its
      // interpreter worker) and the .wasm only when the virtual board is chosen; the .py programs on use.
      const sizes = { page: 0, virtualBoard: 0, wasm: 0, boardPrograms: 0 };
      for (const [name, item] of Object.entries(bundle)) {
        const bytes = statSync(join(outDir, name)).size;
        if (name.endsWith('.wasm')) sizes.wasm += bytes;
        else if (name.endsWith('.py')) sizes.boardPrograms += bytes;
        else if ((item.type === 'chunk' && item.isEntry) || name.endsWith('.css') || name.endsWith('.html')) sizes.page += bytes;
        else sizes.virtualBoard += bytes;
      }
      writeFileSync(join(outDir, 'bundle-report.json'), JSON.stringify(sizes, null, 2) + '\n');
      const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
      console.log(
        `web page: ${kib(sizes.page)} on load (HTML, CSS, JavaScript); the virtual board, loaded only when chosen: ` +
          `${kib(sizes.virtualBoard)} JavaScript + ${kib(sizes.wasm)} MicroPython .wasm; board programs (.py) ${kib(sizes.boardPrograms)}`,
      );
    },
  };
}

export default defineConfig({
  root,
  base: './',
  logLevel: 'warn',
  plugins: [noNodeModules(), bundleReport()],
  worker: { format: 'es', plugins: () => [noNodeModules()] },
  build: { outDir, emptyOutDir: true, target: 'es2022', assetsInlineLimit: 0, reportCompressedSize: false },
});
