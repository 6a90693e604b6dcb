/**
 * The fleet's payloads (docs/fleet.md), read with checks: a retained message
 * another tool wrote in another shape is a problem to report and ignore, never
 * a crash. Each reader returns the value or a sentence naming what is wrong.
 */

export const UPDATE_RESULTS = ['downloading', 'installed', 'success', 'rolled-back', 'failed'] as const;
export type UpdateResult = (typeof UPDATE_RESULTS)[number];
/** The results that end a device's part in a rollout. */
export const FINAL_RESULTS: readonly UpdateResult[] = ['success', 'rolled-back', 'failed'];
export const isFailure = (result: UpdateResult | undefined): boolean => result === 'rolled-back' || result === 'failed';

export interface UpdateReport {
  readonly rollout: string;
  readonly version: string;
  readonly result: UpdateResult;
  readonly error: string | null;
}

export interface DeviceStatus {
  readonly device: string;
  readonly fleet: string | null;
  readonly chip: string;
  readonly version: string;
  readonly partition: string | null;
  readonly state: string;
  readonly confirmed: boolean;
  readonly update: UpdateReport | null;
  readonly package: string | null;
  /** Seconds since the board booted. */
  readonly time: number | null;
}

export interface FleetCommand {
  readonly rollout: string;
  readonly manifest: string;
  readonly version: string;
  readonly force: boolean;
}

export const ROLLOUT_PHASES = ['running', 'halted', 'done'] as const;
export type RolloutPhase = (typeof ROLLOUT_PHASES)[number];

export interface RolloutState {
  readonly id: string;
  readonly manifest: string;
  readonly version: string;
  /** Cumulative fractions of the fleet, increasing, each in (0, 1]. */
  readonly stages: readonly number[];
  readonly maxFailures: number;
  readonly order: readonly string[];
  /** The index in `stages` of the current (or last) stage: 0 is the first. */
  readonly stage: number;
  readonly state: RolloutPhase;
  readonly reason: string | null;
  readonly failures: readonly string[];
  readonly missing: readonly string[];
  /** ISO 8601 times. */
  readonly started: string;
  readonly updated: string;
}

export type Parsed<T> = { readonly value: T; readonly problem?: undefined } | { readonly value?: undefined; readonly problem: string };

type Json = Record<string, unknown>;

class Problem extends Error {}

function parseObject(text: string): Json {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Problem(`not JSON: ${JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Problem(`not a JSON object but ${Array.isArray(value) ? 'an array' : value === null ? 'null' : `a ${typeof value}`}`);
  return value as Json;
}

function string(record: Json, key: string): string {
  const value = record[key];
  if (typeof value !== 'string' || value === '') throw new Problem(`"${key}" must be a non-empty string, not ${JSON.stringify(value) ?? 'missing'}`);
  return value;
}

function optional<T>(record: Json, key: string, check: (value: unknown) => value is T, what: string): T | null {
  const value = record[key];
  if (value === undefined || value === null) return null;
  if (!check(value)) throw new Problem(`"${key}" must be ${what} or null, not ${JSON.stringify(value)}`);
  return value;
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

function wrap<T>(read: () => T): Parsed<T> {
  try {
    return { value: read() };
  } catch (error) {
    if (error instanceof Problem) return { problem: error.message };
    throw error;
  }
}

function readUpdate(value: unknown): UpdateReport | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw new Problem(`"update" must be an object or null, not ${JSON.stringify(value)}`);
  const record = value as Json;
  const result = record['result'];
  if (!UPDATE_RESULTS.includes(result as UpdateResult)) throw new Problem(`"update.result" must be one of ${UPDATE_RESULTS.join(', ')}, not ${JSON.stringify(result) ?? 'missing'}`);
  return { rollout: string(record, 'rollout'), version: string(record, 'version'), result: result as UpdateResult, error: optional(record, 'error', isString, 'a string') };
}

/** A device's status; `device` is the id in the topic, which the payload's own `device` must match. */
export function parseStatus(text: string, device: string): Parsed<DeviceStatus> {
  return wrap(() => {
    const record = parseObject(text);
    const named = string(record, 'device');
    if (named !== device) throw new Problem(`"device" is ${JSON.stringify(named)} but the topic is for '${device}'`);
    const confirmed = record['confirmed'];
    if (typeof confirmed !== 'boolean') throw new Problem(`"confirmed" must be true or false, not ${JSON.stringify(confirmed) ?? 'missing'}`);
    return {
      device,
      fleet: optional(record, 'fleet', isString, 'a string'),
      chip: string(record, 'chip'),
      version: string(record, 'version'),
      partition: optional(record, 'partition', isString, 'a string'),
      state: string(record, 'state'),
      confirmed,
      update: readUpdate(record['update']),
      package: optional(record, 'package', isString, 'a string'),
      time: optional(record, 'time', isNumber, 'a number'),
    };
  });
}

/** The online flag: `1` or `0`. */
export function parseOnline(text: string): Parsed<boolean> {
  if (text === '1' || text === '0') return { value: text === '1' };
  return { problem: `must be 1 or 0, not ${JSON.stringify(text.slice(0, 40))}` };
}

export function parseCommand(text: string): Parsed<FleetCommand> {
  return wrap(() => {
    const record = parseObject(text);
    const force = record['force'] ?? false;
    if (typeof force !== 'boolean') throw new Problem(`"force" must be true or false, not ${JSON.stringify(force)}`);
    return { rollout: string(record, 'rollout'), manifest: string(record, 'manifest'), version: string(record, 'version'), force };
  });
}

function stringList(record: Json, key: string): string[] {
  const value = record[key];
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) throw new Problem(`"${key}" must be a list of device ids`);
  return value as string[];
}

export function parseRolloutState(text: string): Parsed<RolloutState> {
  return wrap(() => {
    const record = parseObject(text);
    const stages = record['stages'];
    if (!Array.isArray(stages) || stages.length === 0 || !stages.every((stage, i) => isNumber(stage) && stage > 0 && stage <= 1 && (i === 0 || stage > (stages[i - 1] as number)))) {
      throw new Problem('"stages" must be a non-empty, increasing list of fractions in (0, 1]');
    }
    const maxFailures = record['maxFailures'];
    if (!Number.isSafeInteger(maxFailures) || (maxFailures as number) < 0) throw new Problem(`"maxFailures" must be a whole number, not ${JSON.stringify(maxFailures)}`);
    const stage = record['stage'];
    if (!Number.isSafeInteger(stage) || (stage as number) < 0 || (stage as number) >= stages.length) throw new Problem(`"stage" must be an index into "stages" (0 to ${stages.length - 1}), not ${JSON.stringify(stage)}`);
    const state = record['state'];
    if (!ROLLOUT_PHASES.includes(state as RolloutPhase)) throw new Problem(`"state" must be one of ${ROLLOUT_PHASES.join(', ')}, not ${JSON.stringify(state)}`);
    return {
      id: string(record, 'id'),
      manifest: string(record, 'manifest'),
      version: string(record, 'version'),
      stages: stages as number[],
      maxFailures: maxFailures as number,
      order: stringList(record, 'order'),
      stage: stage as number,
      state: state as RolloutPhase,
      reason: optional(record, 'reason', isString, 'a string'),
      failures: stringList(record, 'failures'),
      missing: stringList(record, 'missing'),
      started: string(record, 'started'),
      updated: string(record, 'updated'),
    };
  });
}
