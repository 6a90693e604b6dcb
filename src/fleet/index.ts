/** Fleets over MQTT (docs/fleet.md): topics, payloads, the rollout plan and state machine. Pure and browser-safe. */
export * from './errors.js';
export * from './topics.js';
export * from './payloads.js';
export * from './plan.js';
export * from './rollout-machine.js';
export * from './start.js';
export * from './records.js';
