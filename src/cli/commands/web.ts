import type { Command } from 'commander';
import { serveWebPage, webPageBuilt } from '../../node/web-server.js';
import { UserError } from '../errors.js';
import { listening } from '../listening.js';
import { integerOption } from '../option-values.js';
import { printText } from '../output.js';

const DEFAULT_PORT = 8080;

export function registerWebCommand(program: Command): void {
  program
    .command('web')
    .description('serve the browser page (update a board over Web Serial or WebREPL, or try it on a virtual board) on this computer')
    .option('--port <port>', `HTTP port (default ${DEFAULT_PORT}; 0 picks a free one)`, integerOption('--port', { max: 65535 }), DEFAULT_PORT)
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .action(async (options: { port: number; host: string }) => {
      if (!webPageBuilt()) throw new UserError('the web page is not built (no dist/web/index.html): run npm run build first');
      const server = await listening(() => serveWebPage({ port: options.port, host: options.host }), options.host, options.port);
      printText(`esp32-ota web page: ${server.url}  (open it in Chrome or Edge; Ctrl-C stops)`);
      await new Promise<void>((resolve) => process.once('SIGINT', resolve));
      await server.close();
    });
}
