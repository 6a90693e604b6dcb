export type { CodeExecutor, ExecutionMode, ExecutionResult } from './code-executor.js';
export {
  ReplMachine,
  type HardResetReason,
  type ReplMachineOptions,
  type ReplMode,
  type StartupScriptName,
} from './repl-machine.js';
export { needsContinuation } from './continuation.js';
export { cook } from './output-buffer.js';
export { DEFAULT_STDIN_BUFFER_SIZE } from './raw-paste.js';
