/**
 * The page: connect to a board (WebREPL, Web Serial, or the virtual board in
 * this page), show its status and flash, check a firmware file as the CLI
 * does, update it with progress and cancel, then keep or roll back. Every
 * protocol and check is the project's own code (src/), as in the CLI.
 */
import { withThousands } from '../../src/format/units.js';
import { OtaError, readStatus, resetBoard, rollback, type BoardLink, type BoardStatus } from '../../src/ota/engine.js';
import { TransferError } from '../../src/ota/errors.js';
import { checkBoardTakes, prepareImage, type PreparedImage } from '../../src/ota/preflight.js';
import { rateAndEta } from '../../src/ota/progress-rate.js';
import { update } from '../../src/ota/update.js';
import { ReplClient } from '../../src/repl/index.js';
import type { Transport } from '../../src/transport/transport.js';
import { renderFileInfo, renderFlashMap, renderStatus, type Check } from './views.js';
import { connectWebReplSocket } from './webrepl-socket.js';
import { openWebSerial, webSerialAvailable } from './web-serial.js';

interface Session {
  link: BoardLink;
  client: ReplClient;
  status: BoardStatus;
  /** The UART rate for the transfer (USB serial), when it is not the REPL's. */
  transferBaud: number | undefined;
  close(): Promise<void>;
}

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const form = $<HTMLFormElement>('connect-form');
const connectButton = $<HTMLButtonElement>('connect-button');
const disconnectButton = $<HTMLButtonElement>('disconnect-button');
const updateButton = $<HTMLButtonElement>('update-button');
const cancelButton = $<HTMLButtonElement>('cancel-button');
const fileInput = $<HTMLInputElement>('file-input');
const dropZone = $('drop-zone');
const progress = $<HTMLProgressElement>('progress');

let session: Session | undefined;
let file: { name: string; bytes: Uint8Array; prepared: PreparedImage | undefined; refused: boolean } | undefined;
let busy = false;
let abort: AbortController | undefined;

// ---- connecting ---------------------------------------------------------------------

function selectedKind(): string {
  return (form.elements.namedItem('kind') as RadioNodeList).value;
}

function showKindFields(): void {
  for (const fields of document.querySelectorAll<HTMLElement>('[data-for]')) fields.hidden = fields.dataset['for'] !== selectedKind();
}
form.addEventListener('change', showKindFields);
if (!webSerialAvailable()) {
  $('serial-hint').textContent = 'This browser has no Web Serial (Chrome and Edge have it): use WebREPL or the virtual board.';
}
const query = new URLSearchParams(location.search);
if (query.get('address')) $<HTMLInputElement>('address').value = query.get('address')!;

form.addEventListener('submit', (event) => {
  event.preventDefault();
  void task('Connecting', async () => {
    const kind = selectedKind();
    say('connection', kind === 'virtual' ? 'Starting the virtual ESP32 (loading MicroPython)…' : 'Connecting…');
    session = await openSession(kind);
    say('connection', `Connected to ${session.link.transport.description}.`);
    connectButton.hidden = true;
    disconnectButton.hidden = false;
    for (const input of form.querySelectorAll('input, select')) (input as HTMLInputElement).disabled = true;
    $('status').hidden = false;
    $('firmware').hidden = false;
    showStatus();
    $('status-heading').focus();
  });
});

disconnectButton.addEventListener('click', () => {
  void task('Disconnecting', async () => {
    abort?.abort();
    await endSession();
    say('connection', 'Disconnected.');
    connectButton.focus();
  });
});

/** Back to choosing a board: the link is closed (or gone). */
async function endSession(): Promise<void> {
  const ending = session;
  session = undefined;
  connectButton.hidden = false;
  disconnectButton.hidden = true;
  for (const input of form.querySelectorAll('input, select')) (input as HTMLInputElement).disabled = false;
  $('status').hidden = true;
  $('firmware').hidden = true;
  await ending?.close();
}

/** The USB serial port went away (unplugged) while no action ran: say so and offer Connect again. */
function serialLost(error: Error): void {
  if (busy || !session) return; // an action in flight reports it
  void endSession().catch(() => undefined);
  say('connection', 'Disconnected.');
  showError(`The connection was lost: ${error.message}. Plug the board in and connect again.`);
}

async function openSession(kind: string): Promise<Session> {
  let link: BoardLink;
  let close: () => Promise<void>;
  let transferBaud: number | undefined;
  if (kind === 'virtual') {
    const { startPageBoard } = await import('./virtual-board.js');
    const board = await startPageBoard();
    link = board.link;
    close = board.stop;
  } else if (kind === 'serial') {
    const transport = await openWebSerial();
    transferBaud = Number($<HTMLSelectElement>('transfer-baud').value) || undefined;
    transport.onClose((error) => error && serialLost(error));
    link = { transport, hardReset: () => transport.hardReset(), reconnect: async () => transport };
    close = () => transport.close();
  } else {
    const address = $<HTMLInputElement>('address').value.trim();
    const password = $<HTMLInputElement>('password').value;
    const connect = (): Promise<Transport> => connectWebReplSocket(address, password);
    let transport = await connect();
    // A real board drops WebREPL when it resets: the engine reconnects through this link.
    link = {
      get transport() {
        return transport;
      },
      hardReset: undefined,
      reconnect: async () => (transport = await connect()),
    };
    close = () => transport.close();
  }
  const client = await freshClient(link);
  const status = await readStatus(client);
  return { link, client, status, transferBaud, close };
}

async function freshClient(link: BoardLink): Promise<ReplClient> {
  const client = new ReplClient(link.transport);
  await client.enterRawRepl();
  return client;
}

async function refreshStatus(current: Session, client?: ReplClient): Promise<void> {
  if (client) current.client = client;
  else {
    current.client.dispose();
    current.client = await freshClient(current.link);
  }
  current.status = await readStatus(current.client);
  showStatus();
}

// ---- status and verdict ----------------------------------------------------------------

function showStatus(): void {
  if (!session) return;
  const status = session.status;
  renderStatus($('status-list'), status);
  renderFlashMap($('flash-map'), status);
  const verdict = $('verdict');
  verdict.hidden = !status.pendingVerify;
  if (status.pendingVerify) {
    $('verdict-text').textContent =
      `MicroPython ${status.version} runs from '${status.running}' for the first time and is not confirmed: ` +
      `keep it, or roll back to '${status.nextBoot?.partition ?? 'the previous firmware'}'. Until you keep it, the next reset rolls it back.`;
  }
  checkFile();
}

$('confirm-button').addEventListener('click', () => {
  void task('Confirming', async () => {
    const current = requireSession();
    await rollback(current.client, 'cancel');
    await refreshStatus(current);
    say('connection', `Kept MicroPython ${current.status.version} in '${current.status.running}': the bootloader will not roll it back.`);
    $('status-heading').focus();
  });
});

$('rollback-button').addEventListener('click', () => {
  void task('Rolling back', async () => {
    const current = requireSession();
    const result = await rollback(current.client, 'force');
    say('connection', `Rolling back to '${result.boot}': resetting the board…`);
    await refreshStatus(current, await resetBoard(current.link, current.client));
    say('connection', `Rolled back: the board runs MicroPython ${current.status.version} from '${current.status.running}'.`);
    $('status-heading').focus();
  });
});

// ---- the firmware file -----------------------------------------------------------------

fileInput.addEventListener('change', () => {
  const chosen = fileInput.files?.[0];
  if (chosen) void loadFile(chosen);
});
for (const type of ['dragenter', 'dragover'] as const) {
  dropZone.addEventListener(type, (event) => {
    event.preventDefault();
    dropZone.classList.add('dragging');
  });
}
dropZone.addEventListener('dragleave', () => dropZone.classList.remove('dragging'));
dropZone.addEventListener('drop', (event) => {
  event.preventDefault();
  dropZone.classList.remove('dragging');
  const dropped = event.dataTransfer?.files[0];
  if (dropped) void loadFile(dropped);
});

async function loadFile(chosen: File): Promise<void> {
  const bytes = new Uint8Array(await chosen.arrayBuffer());
  let prepared: PreparedImage | undefined;
  let refused = false;
  try {
    prepared = prepareImage(bytes, { extract: true, name: chosen.name });
  } catch (error) {
    refused = true;
    file = { name: chosen.name, bytes, prepared: undefined, refused };
    renderFileInfo($('file-info'), chosen.name, bytes.length, undefined, [{ ok: false, text: plainWords(error) }]);
    updateButton.disabled = true;
    return;
  }
  file = { name: chosen.name, bytes, prepared, refused };
  checkFile();
}

/** The CLI's checks (prepareImage, checkBoardTakes) against the board as it is now. */
function checkFile(): void {
  if (!file?.prepared) {
    updateButton.disabled = true;
    return;
  }
  const prepared = file.prepared;
  const checks: Check[] = [];
  checks.push({
    ok: true,
    text: prepared.extractedFrom
      ? `A combined firmware image: the app is taken from ${prepared.extractedFrom} (an OTA update writes only the app).`
      : 'An app image.',
  });
  checks.push({ ok: true, text: 'ESP-IDF would accept it: header, segments, checksum and SHA-256 are valid.' });
  let ok = true;
  if (session) {
    try {
      const target = checkBoardTakes(session.status, prepared);
      checks.push({ ok: true, text: `Built for ${prepared.image.header.chip}, as the board; fits '${target.label}' (${withThousands(prepared.bytes.length)} of ${withThousands(target.size)} bytes).` });
    } catch (error) {
      ok = false;
      checks.push({ ok: false, text: plainWords(error) });
    }
  }
  file.refused = !ok;
  renderFileInfo($('file-info'), file.name, file.bytes.length, prepared, checks);
  updateButton.disabled = !ok || !session || busy;
}

// ---- the update ----------------------------------------------------------------------

updateButton.addEventListener('click', () => {
  void task('Updating', async () => {
    const current = requireSession();
    if (!file?.prepared || file.refused) return;
    const imageBytes = file.prepared.bytes.length;
    abort = new AbortController();
    cancelButton.hidden = false;
    cancelButton.focus();
    $('progress-box').hidden = false;
    progress.value = 0;
    $('steps').replaceChildren();
    const before = current.status;
    try {
      const result = await update(current.link, current.client, file.bytes, {
        extract: true,
        ...(current.transferBaud ? { transferBaud: current.transferBaud } : {}),
        name: file.name,
        signal: abort.signal,
        onStep: (text) => step(text),
        onProgress: (p) => {
          progress.max = p.imageBytes;
          progress.value = p.ackedBytes;
          const { rate, eta } = rateAndEta(p);
          const baud = current.link.transport.baudRate;
          const line = baud ? ` at ${withThousands(baud)} baud` : '';
          $('progress-text').textContent = `${withThousands(p.ackedBytes)} of ${withThousands(p.imageBytes)} bytes written${line}, ${rate}, about ${eta} left`;
        },
      });
      await refreshStatus(current, result.client);
      // The file is on the board now: start the next update from a fresh choice.
      file = undefined;
      fileInput.value = '';
      $('file-info').replaceChildren();
      say('connection', `Updated: the board runs MicroPython ${current.status.version} from '${current.status.running}'. Keep it or roll back below.`);
      $('verdict-text').focus();
    } catch (error) {
      if (error instanceof TransferError && error.code === 'aborted') {
        await refreshStatus(current);
        step(`Cancelled: nothing was set to boot; the board still runs MicroPython ${current.status.version} from '${current.status.running}'.`);
        say('connection', `Update cancelled. The board still runs MicroPython ${before.version} from '${before.running}'.`);
        return;
      }
      if (error instanceof TransferError && error.code === 'link-lost') {
        await endSession().catch(() => undefined);
        say('connection', 'Disconnected.');
        throw new Error(linkLostWords(error, imageBytes), { cause: error });
      }
      await refreshStatus(current).catch(() => undefined);
      throw error;
    } finally {
      cancelButton.hidden = true;
      abort = undefined;
    }
  });
});

cancelButton.addEventListener('click', () => {
  abort?.abort();
  cancelButton.disabled = true;
  step('Cancelling: finishing the frame in flight and stopping the board’s agent…');
});

function step(text: string): void {
  $('steps').append(Object.assign(document.createElement('li'), { textContent: text }));
}

// ---- plumbing --------------------------------------------------------------------------

function requireSession(): Session {
  if (!session) throw new Error('connect to a board first');
  return session;
}

function showError(text: string): void {
  const error = $('error');
  error.textContent = text;
  error.hidden = false;
  error.focus();
}

function say(id: string, text: string): void {
  $(id).textContent = text;
}

/** Runs one user action at a time; its error, in plain words, goes to the alert box. */
async function task(what: string, action: () => Promise<void>): Promise<void> {
  if (busy) return;
  busy = true;
  document.body.setAttribute('aria-busy', 'true');
  $('error').hidden = true;
  for (const button of [updateButton, $<HTMLButtonElement>('confirm-button'), $<HTMLButtonElement>('rollback-button'), connectButton]) button.disabled = true;
  cancelButton.disabled = false;
  try {
    await action();
  } catch (failure) {
    console.error(failure);
    showError(`${what} failed: ${plainWords(failure)}`);
  } finally {
    busy = false;
    document.body.removeAttribute('aria-busy');
    connectButton.disabled = false;
    $<HTMLButtonElement>('confirm-button').disabled = false;
    $<HTMLButtonElement>('rollback-button').disabled = false;
    checkFile();
  }
}

/** A lost link mid-transfer, for a person at this page (the engine's words are for its API). */
function linkLostWords(error: TransferError, imageBytes: number): string {
  const why = error.cause instanceof Error ? error.cause.message : 'the connection to the board was lost';
  const written = error.ackedBytes === undefined ? '' : ` after ${withThousands(error.ackedBytes)} of ${withThousands(imageBytes)} bytes were written`;
  return `${why}${written}. Nothing was set to boot: the board keeps its old firmware. Connect again and start the update again.`;
}

function plainWords(error: unknown): string {
  if (error instanceof OtaError || error instanceof TransferError) return error.message;
  if (error instanceof DOMException && error.name === 'NotFoundError') return 'no serial port was chosen';
  return error instanceof Error ? error.message : String(error);
}
