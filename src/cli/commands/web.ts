import type { Command } from 'commander';
import { serveWebPage } from '../../node/web-server.js';
import { UserError } from '../errors.js';
import { parsePort } from '../port-option.js';
import { printText } from '../output.js';

const DEFAULT_PORT = 8080;

export function registerWebCommand(program: Command): void {
  program
    .command('web')
    .description('serve the browser page (update a board over Web Serial or WebREPL, or try it on a virtual board) on this computer')
    .option('--port <port>', `HTTP port (default ${DEFAULT_PORT}; 0 picks a free one)`, parsePort, DEFAULT_PORT)
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .action(async (options: { port: number; host: string }) => {
      let server;
      try {
        server = await serveWebPage({ port: options.port, host: options.host });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE') throw new UserError(`port ${options.port} is in use: pass another with --port (0 picks a free one)`);
        throw new UserError((error as Error).message);
      }
      printText(`esp32-ota web page: ${server.url}  (open it in Chrome or Edge; Ctrl-C stops)`);
      await new Promise<void>((resolve) => process.once('SIGINT', resolve));
      await server.close();
    });
}
