/** esp32-ota fleet broker | status | rollout: fleets over MQTT (docs/fleet.md). */
import type { Command } from 'commander';
import { formatStage, formatStages, parseStages } from '../../fleet/plan.js';
import { DEFAULT_PREFIX } from '../../fleet/topics.js';
import type { RolloutEvent, StageProgress } from '../../fleet/rollout-machine.js';
import { startFleetBroker } from '../../node/mqtt-broker.js';
import { readFleetStatus } from '../../node/fleet-status.js';
import { runRollout } from '../../node/fleet-rollout.js';
import type { BrokerOptions } from '../../node/mqtt-connection.js';
import { InterruptedError, UserError } from '../errors.js';
import { readPemFile } from '../files.js';
import { listening, reachableUrls } from '../listening.js';
import { durationOption, integerOption, parseCredentials, positiveNumberOption } from '../option-values.js';
import { printJson, printNote, printText, stderr } from '../output.js';
import { fleetStatusJson, fleetStatusText, progressText, updateText } from '../views/fleet-view.js';

interface BrokerFlags {
  broker: string;
  fleet: string;
  prefix: string;
  user?: string;
  password?: string;
  ca?: string;
}

function addBrokerFlags(command: Command): Command {
  return command
    .requiredOption('--broker <url>', 'the MQTT broker: mqtt://[USER:PASS@]HOST[:PORT], mqtts://, ws:// or wss://')
    .requiredOption('--fleet <name>', 'the fleet name (letters, digits, _ . -)')
    .option('--prefix <prefix>', 'the topic prefix', DEFAULT_PREFIX)
    .option('--user <name>', 'user name for the broker (or USER:PASS@ in --broker)')
    .option('--password <password>', 'password for the broker')
    .option('--ca <file>', 'the CA certificate (PEM) that signed the broker\'s TLS certificate');
}

async function brokerOptions(flags: BrokerFlags): Promise<BrokerOptions & { fleet: string; prefix: string }> {
  return {
    broker: flags.broker,
    fleet: flags.fleet,
    prefix: flags.prefix,
    ...(flags.user !== undefined && { user: flags.user }),
    ...(flags.password !== undefined && { password: flags.password }),
    ...(flags.ca !== undefined && { ca: await readPemFile(flags.ca) }),
  };
}

export function registerFleetCommands(program: Command): void {
  const fleet = program
    .command('fleet')
    .description('fleets over MQTT: an embedded broker, the devices\' status, staged rollouts that halt on failure (docs/fleet.md)');
  registerBroker(fleet);
  registerStatus(fleet);
  registerRollout(fleet);
}

interface BrokerCommandOptions {
  port: number;
  host: string;
  wsPort?: number;
  auth?: string;
  tlsCert?: string;
  tlsKey?: string;
}

function registerBroker(fleet: Command): void {
  fleet
    .command('broker')
    .description('run an embedded MQTT broker (aedes) for a fleet on one machine; retained messages are kept in memory only')
    .option('--port <n>', 'TCP port (0: any free port)', integerOption('--port', { max: 65535 }), 1883)
    .option('--host <address>', 'address to listen on (0.0.0.0: every interface)', '0.0.0.0')
    .option('--ws-port <n>', 'also serve MQTT over WebSocket on this port', integerOption('--ws-port', { max: 65535 }))
    .option('--auth <user:pass>', 'require this user name and password')
    .option('--tls-cert <file>', 'serve MQTT over TLS (mqtts) with this certificate (PEM)')
    .option('--tls-key <file>', 'the private key of --tls-cert (PEM)')
    .action(async (options: BrokerCommandOptions) => {
      const auth = options.auth !== undefined ? parseCredentials('--auth', options.auth) : undefined;
      if (Boolean(options.tlsCert) !== Boolean(options.tlsKey)) throw new UserError('TLS needs both --tls-cert and --tls-key');
      const tls = options.tlsCert && options.tlsKey ? { cert: await readPemFile(options.tlsCert), key: await readPemFile(options.tlsKey) } : undefined;
      const broker = await listening(
        () =>
          startFleetBroker({
            host: options.host,
            port: options.port,
            ...(options.wsPort !== undefined && { wsPort: options.wsPort }),
            ...(auth && { auth }),
            ...(tls && { tls }),
            log: (line) => printText(line),
          }),
        options.host,
        options.wsPort !== undefined ? options.wsPort : options.port,
      );
      const urls = [broker.url, ...(broker.wsUrl ? [broker.wsUrl] : [])];
      const reachable = urls.flatMap(reachableUrls).filter((url) => !urls.includes(url));
      printText(
        [
          `MQTT broker on ${urls.join(' and ')}${auth ? ' (user name and password required)' : ''} — Ctrl-C stops`,
          ...reachable.map((url) => `  reachable as ${url}`),
          '  Retained messages are kept in memory only: after a restart the boards and a running rollout publish theirs again when they reconnect.',
        ].join('\n'),
      );
      await new Promise<void>((resolve) => process.once('SIGINT', resolve).once('SIGTERM', resolve));
      await broker.close();
    });
}

interface StatusCommandOptions extends BrokerFlags {
  json?: boolean;
  wait: number;
}

function registerStatus(fleet: Command): void {
  addBrokerFlags(fleet.command('status').description('the fleet\'s devices (versions, partitions, confirmed or not, last update) and its rollout, from the broker\'s retained messages'))
    .option('--wait <seconds>', 'the longest to listen for the retained messages', positiveNumberOption('--wait'), 3)
    .option('--json', 'machine-readable output (docs/json-output.md)')
    .action(async (options: StatusCommandOptions) => {
      const snapshot = await readFleetStatus({ ...(await brokerOptions(options)), waitMs: options.wait * 1000 });
      for (const message of snapshot.ignored) printNote(`ignored ${message.topic}: ${message.problem}`);
      if (options.json) printJson(fleetStatusJson(snapshot));
      else printText(fleetStatusText(snapshot));
    });
}

interface RolloutCommandOptions extends BrokerFlags {
  stages?: number[];
  maxFailures?: number;
  timeout: number;
}

function registerRollout(fleet: Command): void {
  addBrokerFlags(
    fleet
      .command('rollout')
      .description('roll a manifest\'s firmware out to the fleet in stages; halts when failures pass --max-failures; run again to resume')
      .argument('<manifest-url>', 'the manifest (esp32-ota manifest) as the boards reach it over HTTP(S)'),
  )
    .option('--stages <list>', 'cumulative percentages of the fleet per stage, e.g. 5%,25%,100% (a new rollout needs it)', (text: string) => parseStages(text))
    .option('--max-failures <n>', 'halt when more devices than this fail or roll back (default 0, or the resumed rollout\'s)', integerOption('--max-failures'))
    .option('--timeout <duration>', 'how long a stage waits for its devices (90s, 10m, 1h); those left are missing', durationOption('--timeout'), 600_000)
    .action(async (manifestUrl: string, options: RolloutCommandOptions) => {
      const broker = await brokerOptions(options);
      const controller = new AbortController();
      const onInterrupt = () => controller.abort();
      process.once('SIGINT', onInterrupt);
      const live = liveLine();
      try {
        const outcome = await runRollout(
          {
            ...broker,
            manifest: manifestUrl,
            ...(options.stages && { stages: options.stages }),
            ...(options.maxFailures !== undefined && { maxFailures: options.maxFailures }),
            stageTimeoutMs: options.timeout,
            signal: controller.signal,
          },
          {
            onManifest: (checked) => printNote(`Manifest ${checked.url}: MicroPython ${checked.version}${checked.manifest.chip ? ` for ${checked.manifest.chip}` : ''}, ${checked.manifest.length.toLocaleString('en-US')} bytes`),
            onStart: (start, devices) => {
              if (start.kind === 'stays-halted') return;
              const state = start.state;
              const verb = start.kind === 'new' ? 'Starting rollout' : 'Resuming rollout';
              if (start.kind === 'new' && start.replaced) printText(`It replaces rollout ${start.replaced.id} (${start.replaced.version}, ${start.replaced.state})${start.deleteCommands.length ? `: deleted its commands to ${start.deleteCommands.length} devices that had not started it` : ''}.`);
              printText(
                `${verb} ${state.id}: ${state.version} to ${devices} devices of fleet '${broker.fleet}', stages ${formatStages(state.stages)}, ` +
                  `halts after more than ${state.maxFailures} failure${state.maxFailures === 1 ? '' : 's'}, ${options.timeout / 1000} s per stage`,
              );
              if (start.kind === 'resume') for (const note of start.notes) printText(`  (${note})`);
            },
            onEvent: (event, progress) => {
              live.clear();
              reportEvent(event, progress);
              if (event.kind !== 'done' && event.kind !== 'halted') live.show(progressText(progress));
            },
            onIgnored: (message) => printNote(`ignored ${message.topic}: ${message.problem}`),
            onConnection: (state) => printNote(state === 'lost' ? 'Lost the broker: reconnecting…' : 'Reconnected to the broker: published the rollout\'s commands and state again'),
          },
        );
        live.clear();
        if (outcome.result === 'interrupted' && !outcome.published) throw new InterruptedError('stopped before anything was published: the fleet is as it was');
        if (outcome.result === 'interrupted') {
          throw new InterruptedError(
            `stopped: rollout ${outcome.state.id} stays recorded as ${outcome.state.state} at stage ${outcome.state.stage + 1} of ${outcome.state.stages.length} on the broker, and boards already given a command carry on; ` +
              `run the same command again to resume it`,
          );
        }
        if (outcome.result === 'halted') {
          throw new UserError(
            outcome.published
              ? `rollout ${outcome.state.id} halted: ${outcome.reason}. Resume it with a higher --max-failures, or roll out a fixed firmware (another manifest)`
              : (outcome.reason ?? 'the rollout is halted'),
          );
        }
        const final = outcome.progress!;
        printText(`Done: ${final.succeeded} of ${final.selected} devices run ${outcome.state.version}${final.failed ? `, ${final.failed} failed` : ''}${final.missing ? `, ${final.missing} missing (${outcome.state.missing.join(', ')}): their command stays, so they update when they return` : ''}.`);
      } finally {
        live.clear();
        process.removeListener('SIGINT', onInterrupt);
      }
    });
}

function reportEvent(event: RolloutEvent, progress: StageProgress): void {
  switch (event.kind) {
    case 'stage-started': {
      const shown = event.selected.length > 12 ? `${event.selected.slice(0, 12).join(', ')}, …` : event.selected.join(', ');
      printText(`Stage ${event.stage + 1} of ${progress.stages} (${formatStage(progress.fraction)}): ${progress.selected} selected${event.selected.length ? `, commands to ${event.selected.length}: ${shown}` : ''}`);
      return;
    }
    case 'device-joined':
      printText(`  ${event.device} joined the fleet (appended to the rollout's order)`);
      return;
    case 'device-result':
      if (event.report.result === 'downloading' || event.report.result === 'installed') return;
      printText(`  ${event.device}: ${updateText(event.report)}`);
      return;
    case 'stage-ended':
      printText(`  ${progressText(event.progress)}${event.missing.length ? `; missing at the timeout: ${event.missing.join(', ')}` : ''}`);
      return;
    case 'halted':
      printText(`Halted.${event.deleted.length ? ` Deleted the commands to ${event.deleted.length} selected devices that had not started: ${event.deleted.join(', ')}.` : ''} No later stage was started.`);
      return;
    case 'done':
      return;
  }
}

/** A progress line kept up to date on a terminal (stderr); nothing otherwise. */
function liveLine(): { show(text: string): void; clear(): void } {
  const stream = stderr();
  let shown = false;
  return {
    show(text) {
      if (!stream.isTTY) return;
      stream.write(`\r\x1b[K  ${text}`);
      shown = true;
    },
    clear() {
      if (shown) stream.write('\r\x1b[K');
      shown = false;
    },
  };
}
