export { ByteReader, type ReadOptions, type ReadUntilOptions } from './byte-reader.js';
export { Deadline } from './deadline.js';
export { DeviceError, ReplProtocolError, ReplTimeoutError } from './errors.js';
export { PYBOARD_PACING, type PlainRawPacing } from './code-transfer.js';
export { ReplClient, type ExecOptions, type ReplClientOptions, type RunningProgram } from './repl-client.js';
