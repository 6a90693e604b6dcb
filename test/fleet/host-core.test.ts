/** The fleet's pure core with no broker: topics, payloads, stages and order, the rollout state machine with an injected clock, resume. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  FleetError,
  fleetTopics,
  newRolloutId,
  parseCommand,
  parseOnline,
  parseRolloutState,
  parseStages,
  parseStatus,
  planRolloutStart,
  rolloutOrder,
  RolloutMachine,
  stageSize,
  type DeviceStatus,
  type RolloutEffect,
  type RolloutState,
  type UpdateResult,
} from '../../src/fleet/index.js';
import { ManifestError, parseManifest, resolveFirmwareUrl } from '../../src/ota/manifest.js';

const status = (device: string, update: { rollout: string; result: UpdateResult; error?: string } | null = null, version = 'v1.23.0'): DeviceStatus => ({
  device,
  fleet: 'lab',
  chip: 'esp32',
  version,
  partition: 'ota_0',
  state: 'valid',
  confirmed: true,
  update: update ? { rollout: update.rollout, version: 'v1.24.0', result: update.result, error: update.error ?? null } : null,
  package: '0.2.0',
  time: 5,
});

const devices = (n: number) => Array.from({ length: n }, (_, i) => `dev${String(i).padStart(2, '0')}`);

function newState(n: number, stages = [0.1, 0.5, 1], maxFailures = 0): RolloutState {
  const start = planRolloutStart(undefined, { manifest: 'http://fw/m.json', version: 'v1.24.0', stages, maxFailures, now: Date.UTC(2026, 10, 30, 18) }, new Map(devices(n).map((d) => [d, status(d)])));
  assert.equal(start.kind, 'new');
  return start.state;
}

const commanded = (effects: readonly RolloutEffect[]) => effects.filter((e) => e.kind === 'command').map((e) => e.device);
const deleted = (effects: readonly RolloutEffect[]) => effects.filter((e) => e.kind === 'delete-command').map((e) => e.device);
const states = (effects: readonly RolloutEffect[]) => effects.filter((e) => e.kind === 'state').map((e) => e.state);

describe('topics', () => {
  it('builds the documented names and reads device topics back', () => {
    const topics = fleetTopics('lab');
    assert.equal(topics.device('a4cf12fe0b7c', 'status'), 'esp32-ota/lab/devices/a4cf12fe0b7c/status');
    assert.equal(topics.rollout, 'esp32-ota/lab/rollout');
    assert.equal(fleetTopics('lab', 'acme').allStatuses, 'acme/lab/devices/+/status');
    assert.deepEqual(topics.parse('esp32-ota/lab/devices/x1/online'), { device: 'x1', kind: 'online' });
    assert.equal(topics.parse('esp32-ota/lab/devices/x1/other'), undefined);
    assert.equal(topics.parse('esp32-ota/lab2/devices/x1/status'), undefined);
    assert.equal(topics.parse('esp32-ota/lab/devices/x1/status/extra'), undefined);
  });
  it('refuses names with MQTT wildcards or separators', () => {
    for (const name of ['a/b', 'a+', '#', '', 'a b']) assert.throws(() => fleetTopics(name), FleetError);
    assert.throws(() => fleetTopics('lab', 'x/y'), /the prefix 'x\/y' may hold only/);
    assert.throws(() => fleetTopics('lab').device('a#', 'command'), /the device id 'a#'/);
  });
});

describe('payloads', () => {
  const good = { device: 'd1', fleet: 'lab', chip: 'esp32', version: 'v1.23.0', partition: 'ota_0', state: 'valid', confirmed: true, update: { rollout: 'r-1', version: 'v1.24.0', result: 'success', error: null }, package: '0.2.0', time: 12 };
  it('reads the documented status', () => {
    const parsed = parseStatus(JSON.stringify(good), 'd1');
    assert.equal(parsed.problem, undefined);
    assert.deepEqual(parsed.value, good);
  });
  it('takes absent optional fields as null', () => {
    const { update: _u, package: _p, time: _t, fleet: _f, partition: _pa, ...bare } = good;
    assert.deepEqual(parseStatus(JSON.stringify(bare), 'd1').value, { ...bare, fleet: null, partition: null, update: null, package: null, time: null });
  });
  it('names what is wrong in a malformed status, never throws', () => {
    const cases: [string, RegExp][] = [
      ['{"device":', /not JSON/],
      ['[1]', /not a JSON object but an array/],
      ['42', /a number/],
      [JSON.stringify({ ...good, device: 'd2' }), /"device" is "d2" but the topic is for 'd1'/],
      [JSON.stringify({ ...good, chip: 3 }), /"chip" must be a non-empty string/],
      [JSON.stringify({ ...good, confirmed: 'yes' }), /"confirmed" must be true or false/],
      [JSON.stringify({ ...good, update: { ...good.update, result: 'exploded' } }), /"update.result" must be one of downloading, installed/],
      [JSON.stringify({ ...good, update: 'x' }), /"update" must be an object or null/],
      [JSON.stringify({ ...good, time: 'noon' }), /"time" must be a number/],
    ];
    for (const [text, problem] of cases) {
      const parsed = parseStatus(text, 'd1');
      assert.equal(parsed.value, undefined, text);
      assert.match(parsed.problem!, problem);
    }
  });
  it('reads online flags and commands', () => {
    assert.deepEqual(parseOnline('1'), { value: true });
    assert.deepEqual(parseOnline('0'), { value: false });
    assert.match(parseOnline('true').problem!, /must be 1 or 0/);
    assert.deepEqual(parseCommand('{"rollout":"r","manifest":"http://m.json","version":"v1"}').value, { rollout: 'r', manifest: 'http://m.json', version: 'v1', force: false });
    assert.match(parseCommand('{"rollout":"r"}').problem!, /"manifest" must be/);
  });
  it('reads a rollout state back exactly as written, and refuses a broken one', () => {
    const state = newState(10);
    assert.deepEqual(parseRolloutState(JSON.stringify(state)).value, state);
    assert.match(parseRolloutState(JSON.stringify({ ...state, stages: [0.5, 0.2] })).problem!, /increasing/);
    assert.match(parseRolloutState(JSON.stringify({ ...state, stage: 3 })).problem!, /"stage" must be an index into "stages" \(0 to 2\)/);
    assert.match(parseRolloutState(JSON.stringify({ ...state, state: 'paused' })).problem!, /"state" must be one of running, halted, done/);
    assert.match(parseRolloutState(JSON.stringify({ ...state, order: [1] })).problem!, /"order" must be a list/);
    assert.match(parseRolloutState('').problem!, /not JSON/);
  });
});

describe('plan', () => {
  it('parses --stages and refuses bad values', () => {
    assert.deepEqual(parseStages('5%,25%,100%'), [0.05, 0.25, 1]);
    assert.deepEqual(parseStages('12.5%, 100%'), [0.125, 1]);
    assert.throws(() => parseStages('5,25,100'), /'5' is not one/);
    assert.throws(() => parseStages('0%,100%'), /0% is not above 0 %/);
    assert.throws(() => parseStages('50%,150%'), /150% is not above 0 % and at most 100 %/);
    assert.throws(() => parseStages('50%,25%'), /must increase: 25% follows 50%/);
    assert.throws(() => parseStages('50%,50%'), /must increase/);
    assert.throws(() => parseStages(''), /'' is not one/);
  });
  it('selects ceil(fraction × n), without binary floating point surprises', () => {
    assert.equal(stageSize(0.05, 20), 1);
    assert.equal(stageSize(0.05, 21), 2);
    assert.equal(stageSize(0.07, 100), 7); // 0.07 × 100 = 7.000000000000001
    assert.equal(stageSize(0.29, 100), 29);
    assert.equal(stageSize(0.01, 1), 1);
    assert.equal(stageSize(1, 3), 3);
    assert.equal(stageSize(0.5, 0), 0);
  });
  it('orders by the SHA-256 of id + device, reproducibly', () => {
    const order = rolloutOrder('r-1', ['b', 'a', 'c', 'a']);
    const expected = ['a', 'b', 'c'].sort((x, y) => {
      const hx = createHash('sha256').update(`r-1${x}`).digest('hex');
      const hy = createHash('sha256').update(`r-1${y}`).digest('hex');
      return hx < hy ? -1 : 1;
    });
    assert.deepEqual(order, expected);
    assert.deepEqual(rolloutOrder('r-1', ['c', 'b', 'a']), order);
    // Another rollout id gives another sample: over 50 devices, the first five differ.
    assert.notDeepEqual(rolloutOrder('r-2', devices(50)).slice(0, 5), rolloutOrder('r-1', devices(50)).slice(0, 5));
  });
  it('makes rollout ids of the documented form', () => {
    const id = newRolloutId('http://fw/m.json', 'v1.24.0', Date.UTC(2026, 10, 30, 18));
    assert.match(id, /^r-20261130-[0-9a-f]{6}$/);
    assert.notEqual(newRolloutId('http://fw/m.json', 'v1.24.0', Date.UTC(2026, 10, 30, 19)), id);
  });
});

describe('the rollout state machine', () => {
  it('runs three cumulative stages to done, publishing commands per stage and its state', () => {
    const state = newState(20);
    const machine = new RolloutMachine(state, 60_000);
    let now = 1000;
    const first = machine.begin(devices(20).map((d) => status(d)), now);
    assert.deepEqual(commanded(first.effects), state.order.slice(0, 2));
    assert.equal(states(first.effects).length, 1);
    assert.equal(first.events[0]!.kind, 'stage-started');
    for (const [stage, size] of [[0, 2], [1, 10], [2, 20]] as const) {
      assert.equal(machine.state.stage, stage);
      assert.equal(machine.progress().selected, size);
      const start = stage === 0 ? 0 : stage === 1 ? 2 : 10;
      for (const device of state.order.slice(start, size)) {
        machine.observe(status(device, { rollout: state.id, result: 'downloading' }), (now += 10));
        const step = machine.observe(status(device, { rollout: state.id, result: 'success' }, 'v1.24.0'), (now += 10));
        if (device === state.order[size - 1] && stage < 2) {
          // The last success of a stage starts the next: commands to the newly selected devices only.
          assert.deepEqual(commanded(step.effects), state.order.slice(size, stage === 0 ? 10 : 20));
          assert.equal(states(step.effects)[0]!.stage, stage + 1);
        }
      }
    }
    assert.equal(machine.state.state, 'done');
    assert.equal(machine.deadline(), undefined);
    assert.deepEqual(machine.progress(), { stage: 2, stages: 3, fraction: 1, selected: 20, succeeded: 20, failed: 0, updating: 0, waiting: 0, missing: 0 });
  });

  it('halts when failures pass the limit: later stages untouched, commands of devices not started deleted', () => {
    const state = newState(20, [0.25, 1], 1);
    const machine = new RolloutMachine(state, 60_000);
    machine.begin(devices(20).map((d) => status(d)), 0);
    const [a, b, c, d, e] = state.order;
    machine.observe(status(a!, { rollout: state.id, result: 'downloading' }), 1);
    machine.observe(status(b!, { rollout: state.id, result: 'downloading' }), 1);
    const one = machine.observe(status(a!, { rollout: state.id, result: 'rolled-back', error: 'health check failed' }), 2);
    assert.equal(machine.state.state, 'running', 'one failure is within --max-failures 1');
    assert.deepEqual(states(one.effects)[0]!.failures, [a]);
    const two = machine.observe(status(c!, { rollout: state.id, result: 'failed', error: 'HTTP 404' }), 3);
    assert.equal(machine.state.state, 'halted');
    assert.match(machine.state.reason!, /2 failures \(.* rolled-back, .* failed\), more than --max-failures 1, in stage 1 of 2 \(25%\)/);
    // b is downloading and keeps its command; d and e had not started.
    assert.deepEqual(deleted(two.effects).sort(), [d!, e!].sort());
    assert.deepEqual(commanded(two.effects), []);
    assert.equal(machine.state.stage, 0);
    assert.equal(machine.deadline(), undefined);
    // Nothing more happens: no later stage, however the remaining devices report.
    const later = machine.observe(status(b!, { rollout: state.id, result: 'success' }), 4);
    assert.deepEqual(commanded(later.effects), []);
    assert.equal(machine.tick(10_000_000).effects.length, 0);
  });

  it('ends a stage at its timeout: devices left are missing, not failures, keep their commands, and do not hold up later stages', () => {
    const state = newState(10, [0.2, 1], 0);
    const machine = new RolloutMachine(state, 5_000);
    machine.begin(devices(10).map((d) => status(d)), 0);
    const [a, b] = state.order;
    machine.observe(status(a!, { rollout: state.id, result: 'success' }), 100);
    assert.equal(machine.deadline(), 5_000);
    assert.equal(machine.tick(4_999).events.length, 0);
    const timeout = machine.tick(5_000);
    const ended = timeout.events.find((e) => e.kind === 'stage-ended');
    assert.deepEqual(ended && ended.kind === 'stage-ended' && ended.missing, [b]);
    assert.deepEqual(machine.state.missing, [b]);
    assert.deepEqual(machine.state.failures, []);
    assert.equal(machine.state.stage, 1);
    assert.deepEqual(commanded(timeout.effects), state.order.slice(2));
    assert.deepEqual(deleted(timeout.effects), []);
    // Stage 2 ends when the others are done, without waiting for b again.
    for (const device of state.order.slice(2)) machine.observe(status(device, { rollout: state.id, result: 'success' }), 6_000);
    assert.equal(machine.state.state, 'done');
    assert.equal(machine.progress().missing, 1);
    // b still has its retained command (re-published after a broker restart).
    assert.ok(machine.retained().some((e) => e.kind === 'command' && e.device === b));
  });

  it('takes a missing device back when it reports, and counts its failure then', () => {
    const state = newState(4, [0.5, 1], 0);
    const machine = new RolloutMachine(state, 1_000);
    machine.begin(devices(4).map((d) => status(d)), 0);
    const [a, b] = state.order;
    machine.observe(status(a!, { rollout: state.id, result: 'success' }), 10);
    machine.tick(1_000);
    assert.deepEqual(machine.state.missing, [b]);
    const late = machine.observe(status(b!, { rollout: state.id, result: 'rolled-back', error: 'boot loop' }), 1_500);
    assert.deepEqual(machine.state.missing, []);
    assert.equal(machine.state.state, 'halted');
    assert.deepEqual(deleted(late.effects).sort(), state.order.slice(2).sort());
  });

  it('appends devices that join during the rollout and selects them by the cumulative rule', () => {
    const state = newState(3, [0.5, 1], 0);
    const machine = new RolloutMachine(state, 60_000);
    machine.begin(devices(3).map((d) => status(d)), 0);
    assert.equal(machine.selection().length, 2);
    const joined = machine.observe(status('newcomer'), 5);
    assert.ok(joined.events.some((e) => e.kind === 'device-joined' && e.device === 'newcomer'));
    assert.deepEqual(states(joined.effects)[0]!.order, [...state.order, 'newcomer']);
    for (const device of state.order) machine.observe(status(device, { rollout: state.id, result: 'success' }), 10);
    assert.equal(machine.state.stage, 1);
    assert.ok(machine.retained().some((e) => e.kind === 'command' && e.device === 'newcomer'));
    machine.observe(status('newcomer', { rollout: state.id, result: 'success' }), 20);
    assert.equal(machine.state.state, 'done');
  });

  it('ignores reports for other rollouts and publishes its state only when it changes', () => {
    const state = newState(2, [1], 0);
    const machine = new RolloutMachine(state, 60_000);
    machine.begin(devices(2).map((d) => status(d)), 0);
    const other = machine.observe(status(state.order[0]!, { rollout: 'r-other', result: 'failed' }), 5);
    assert.deepEqual(other.effects, []);
    assert.equal(machine.state.failures.length, 0);
    const again = machine.observe(status(state.order[0]!, { rollout: 'r-other', result: 'failed' }), 6);
    assert.deepEqual(again, { effects: [], events: [] });
  });

  it('counts a device already past its stage (reported while the host was away) at begin', () => {
    const state = newState(10, [0.2, 1], 0);
    const machine = new RolloutMachine(state, 60_000);
    const step = machine.begin(
      devices(10).map((d) => (d === state.order[0] || d === state.order[1] ? status(d, { rollout: state.id, result: 'success' }) : status(d))),
      0,
    );
    assert.equal(machine.state.stage, 1, 'the first stage was complete already');
    assert.deepEqual(commanded(step.effects), state.order.slice(2));
  });
});

describe('starting: new, resumed, or staying halted', () => {
  const known = new Map(devices(5).map((d) => [d, status(d)]));
  const request = { manifest: 'http://fw/m.json', version: 'v1.24.0', now: Date.UTC(2026, 10, 30, 19) };

  it('refuses a new rollout with no devices, or without stages', () => {
    assert.throws(() => planRolloutStart(undefined, { ...request, stages: [1] }, new Map()), /no device of this fleet has reported/);
    assert.throws(() => planRolloutStart(undefined, request, known), /a new rollout needs --stages/);
  });

  it('resumes the recorded rollout for the same manifest and version, keeping its id, order, stage and stages', () => {
    const recorded = { ...newState(5), stage: 1 };
    const start = planRolloutStart(recorded, { ...request, stages: [0.5, 1] }, known);
    assert.equal(start.kind, 'resume');
    assert.equal(start.state.id, recorded.id);
    assert.deepEqual(start.state.order, recorded.order);
    assert.equal(start.state.stage, 1);
    assert.deepEqual(start.state.stages, recorded.stages);
    assert.match(start.kind === 'resume' ? start.notes.join() : '', /keeps its stages 10%,50%,100%/);
  });

  it('keeps a halted rollout halted unless --max-failures allows its failures', () => {
    const halted: RolloutState = { ...newState(5), state: 'halted', reason: '1 failure (x)', failures: ['dev01'] };
    const stays = planRolloutStart(halted, request, known);
    assert.equal(stays.kind, 'stays-halted');
    assert.match(stays.kind === 'stays-halted' ? stays.reason : '', /stays halted: resume it with --max-failures 1 or more/);
    const resumed = planRolloutStart(halted, { ...request, maxFailures: 1 }, known);
    assert.equal(resumed.kind, 'resume');
    assert.equal(resumed.state.state, 'running');
    assert.equal(resumed.state.reason, null);
    assert.equal(resumed.state.maxFailures, 1);
    // Resumed, the machine sends the deleted commands again to the selected devices without a result.
    const machine = new RolloutMachine(resumed.state, 60_000);
    const step = machine.begin(known.values(), 0);
    assert.deepEqual(commanded(step.effects), resumed.state.order.slice(0, 1));
  });

  it('a new manifest replaces the recorded rollout and deletes its commands to devices that had not started it', () => {
    const old = { ...newState(5), stage: 1 }; // 50 %: three selected
    const statuses = new Map(known);
    statuses.set(old.order[0]!, status(old.order[0]!, { rollout: old.id, result: 'success' }));
    const start = planRolloutStart(old, { ...request, version: 'v1.25.0', stages: [1] }, statuses);
    assert.equal(start.kind, 'new');
    assert.notEqual(start.state.id, old.id);
    assert.deepEqual(start.kind === 'new' && start.deleteCommands, old.order.slice(1, 3));
  });

  it('a done rollout run again sends commands only to devices that joined since', () => {
    const done: RolloutState = { ...newState(5, [1]), state: 'done' };
    const machine = new RolloutMachine(done, 60_000);
    const all = [...done.order.map((d) => status(d, { rollout: done.id, result: 'success' })), status('late')];
    const step = machine.begin(all, 0);
    assert.deepEqual(commanded(step.effects), ['late']);
    assert.equal(machine.state.state, 'running');
    machine.observe(status('late', { rollout: done.id, result: 'success' }), 1);
    assert.equal(machine.state.state, 'done');
  });
});

describe('the manifest a rollout checks (parseManifest)', () => {
  const good = { firmware: 'fw.bin', sha: 'ab'.repeat(32), length: 1000, version: 'v1.24.0', chip: 'esp32' };
  it('takes a good manifest, with compression and signature', () => {
    const compressed = { ...good, compression: { method: 'deflate', wbits: 12, firmware: 'fw.bin.deflate', sha: 'cd'.repeat(32), length: 700 }, signature: 'ef'.repeat(64) };
    assert.deepEqual(parseManifest(JSON.stringify(compressed), 'm.json'), compressed);
  });
  it('names every problem', () => {
    const cases: [unknown, RegExp][] = [
      [{ ...good, sha: 'xyz' }, /m\.json: "sha" must be 64 hex digits/],
      [{ ...good, length: -1 }, /"length" must be a positive whole number/],
      [{ ...good, version: 124 }, /"version" must be a string/],
      [{ ...good, compression: { method: 'zip', wbits: 20, firmware: '', sha: '', length: 0 } }, /"compression\.method" must be "deflate"; "compression\.wbits" must be a whole number from 8 to 15; "compression\.firmware" must be/],
      [{ ...good, signature: 'abc' }, /"signature" must be 128 hex digits/],
      [{ firmware: 'x' }, /must be a JSON object with keys "firmware", "sha" and "length" \(missing: sha, length\)/],
      [[1], /not an array/],
    ];
    for (const [value, problem] of cases) assert.throws(() => parseManifest(JSON.stringify(value), 'm.json'), (error: Error) => error instanceof ManifestError && problem.test(error.message));
    assert.throws(() => parseManifest('{', 'm.json'), /m\.json is not valid JSON/);
  });
  it('resolves the firmware by the seed rule', () => {
    assert.equal(resolveFirmwareUrl('http://h/fw/m.json', 'a.bin'), 'http://h/fw/a.bin');
    assert.equal(resolveFirmwareUrl('http://h/fw/m.json', 'https://cdn/a.bin'), 'https://cdn/a.bin');
  });
});
