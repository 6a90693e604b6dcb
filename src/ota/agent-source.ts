/**
 * The board side of the transfer: src/ota/agent.py, a readable MicroPython
 * program shipped next to this module (the build copies it to dist/src/ota/),
 * and the compact form in which it is uploaded through the raw REPL.
 */
import { loadShippedText } from './shipped-text.js';

export interface AgentConfig {
  /** Partition label, 'next' for `Partition(RUNNING).get_next_update()`, or an absolute path: a file on the board's filesystem. */
  readonly target: string;
  readonly length: number;
  /** Bytes the host may have in flight; 0 lets the agent say what its stdin can hold. */
  readonly window: number;
  /** The agent gives up after this long without a byte from the host (0: never). */
  readonly idleMs: number;
  /** Report the CRC-32 of the blocks already in the partition before taking frames. */
  readonly resume: boolean;
  /** 4 KiB blocks written at once where the partition allows (16: 64 KiB block erases; 1: a sector erase per block). */
  readonly group: number;
  /** Frames come base64-encoded (a link that carries only text). */
  readonly text?: boolean;
  /** Run the REPL UART at this rate for the transfer, from oldBaud (the host's rate now); 0 or absent: no change. */
  readonly baud?: number;
  readonly oldBaud?: number;
}

/** agent.py as shipped. */
export function loadAgentSource(): Promise<string> {
  return loadShippedText(new URL('./agent.py', import.meta.url));
}

/**
 * A board program's lines without comment lines and blank lines, each 4-space
 * indent level as one space: fewer bytes through the raw REPL. (The source
 * keeps to what makes this safe: 4-space indents, no multi-line strings.)
 */
export function compactPython(source: string, name: string): string[] {
  const lines: string[] = [];
  for (const raw of source.split(/\r?\n/)) {
    const line = raw.trimEnd();
    const body = line.trimStart();
    if (body === '' || body.startsWith('#')) continue;
    const indent = line.length - body.length;
    if (indent % 4 !== 0) throw new Error(`${name}: indentation of ${indent} spaces is not a multiple of 4: ${JSON.stringify(line)}`);
    lines.push(' '.repeat(indent / 4) + body);
  }
  return lines;
}

/**
 * The program sent to the board: the agent without comment lines and blank
 * lines, each 4-space indent level as one space, then the call that runs it.
 * (agent.py keeps to what makes this safe: 4-space indents, no multi-line strings.)
 */
export function agentProgram(source: string, config: AgentConfig): string {
  const lines = compactPython(source, 'agent.py');
  const target = config.target;
  if (target.startsWith('/')) {
    if ([...target].some((char) => char < ' ' || char === '\x7f')) throw new RangeError(`file path ${JSON.stringify(target)} has control characters`);
  } else if (target.replace(/[^A-Za-z0-9_.-]/g, '') !== target || target === '') {
    throw new RangeError(`partition name ${JSON.stringify(target)} is not a plain label`);
  }
  for (const [name, value] of [
    ['length', config.length],
    ['window', config.window],
    ['idleMs', config.idleMs],
    ['group', config.group],
    ['baud', config.baud ?? 0],
    ['oldBaud', config.oldBaud ?? 0],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`agent ${name} must be a non-negative integer, not ${value}`);
  }
  lines.push(
    `_main(${JSON.stringify(target)}, ${config.length}, ${config.window}, ${config.idleMs}, ${config.resume ? 1 : 0}, ${config.group}, ${config.text ? 1 : 0}, ${config.baud ?? 0}, ${config.oldBaud ?? 0})`,
  );
  return lines.join('\n') + '\n';
}
