// Copies the non-TypeScript sources the build needs at run time (the virtual
// board's Python modules, the OTA agent, the board's ota package) from src/
// and device/ to dist/.
import { cpSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, URL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
function copyAssets(directory) {
  for (const name of readdirSync(directory)) {
    const path = join(directory, name);
    if (statSync(path).isDirectory()) copyAssets(path);
    else if (name.endsWith('.py') || (name === 'package.json' && directory !== root)) cpSync(path, join(root, 'dist', relative(root, path)));
  }
}
copyAssets(join(root, 'src'));
copyAssets(join(root, 'device'));
