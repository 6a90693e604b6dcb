#!/usr/bin/env node
import { main } from './program.js';

const code = await main(process.argv.slice(2));
// After an error nothing may keep the process alive (a port or a worker left open by the failure).
if (code !== 0) process.exit(code);
