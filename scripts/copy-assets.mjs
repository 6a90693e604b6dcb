// Copies the non-TypeScript sources the build needs at run time (the virtual
// board's Python modules, the OTA agent) from src/ to dist/src/.
import { cpSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, URL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
function copyPython(directory) {
  for (const name of readdirSync(directory)) {
    const path = join(directory, name);
    if (statSync(path).isDirectory()) copyPython(path);
    else if (name.endsWith('.py')) cpSync(path, join(root, 'dist', relative(root, path)));
  }
}
copyPython(join(root, 'src'));
