/** The checks of a successful rehearsed rollout, the same on every broker. */
import { strict as assert } from 'node:assert';
import type { Rehearsal } from './fleet-e2e.js';

/**
 * Runs `fleet rollout ARGS` and checks that every board ends on the manifest's
 * version, booted from ota_1, confirmed, with `success` reported; that the
 * stages came one after another (no board of a later stage started before
 * the earlier stages' boards had succeeded); and that `fleet status` (table
 * and --json) shows it.
 */
export async function assertRolledOut(rehearsal: Rehearsal, args: readonly string[]): Promise<void> {
  const { fleet, observer, site } = rehearsal;
  const size = fleet.boards.length;
  const result = await rehearsal.rollout([...args, '--max-failures', '0', '--timeout', '180s']);
  const context = `${result.stdout}\n${result.stderr}\n${rehearsal.describe()}`;
  assert.equal(result.code, 0, context);
  assert.match(result.stdout, new RegExp(`Done: ${size} of ${size} devices run ${site.version.replaceAll('.', '\\.')}\\.`), context);
  assert.equal((result.stdout.match(/^Stage \d of 3 /gm) ?? []).length, 3, `three stages\n${context}`);
  await observer.waitFor(`every board on ${site.version}, confirmed`, (statuses) => [...statuses.values()].every((s) => s.version === site.version && s.confirmed), 10_000);
  for (const { id, board } of fleet.boards) {
    const status = observer.statuses.get(id);
    assert.equal(status?.version, site.version, `board ${id}\n${context}`);
    assert.equal(status.partition, 'ota_1');
    assert.equal(status.state, 'valid');
    assert.equal(status.update?.result, 'success');
    assert.deepEqual(observer.results.get(id), ['downloading', 'installed', 'success'], `board ${id}'s reports\n${context}`);
    assert.equal(board.booted?.partition.label, 'ota_1', `board ${id} boots the new app`);
    assert.equal(board.identity?.version, site.version);
  }
  // Stage by stage: a board's first report comes after every board that started before it in an earlier stage succeeded.
  const started = [...new Set(observer.timeline.filter((event) => event.result === 'downloading').map((event) => event.device))];
  const firstStage = started[0]!;
  const firstSuccess = observer.timeline.findIndex((event) => event.device === firstStage && event.result === 'success');
  const othersStarted = observer.timeline.findIndex((event) => event.device !== firstStage && event.result === 'downloading');
  assert.ok(firstSuccess !== -1 && othersStarted > firstSuccess, `the first stage's board succeeded before any other board started\n${JSON.stringify(observer.timeline)}`);
  assert.ok(site.log.some((line) => / GET \/micropython\.bin\.deflate 200 /.test(line)), site.log.join('\n'));

  const table = await rehearsal.status(['--wait', '2']);
  assert.equal(table.code, 0, table.stderr);
  for (const { id } of fleet.boards) assert.match(table.stdout, new RegExp(`^ *${id} +esp32 +${site.version.replaceAll('.', '\\.')} +ota_1 +valid +yes +yes +success`, 'm'), table.stdout);
  assert.match(table.stdout, new RegExp(`${size} devices, ${size} on ${site.version.replaceAll('.', '\\.')}`));
  const json = await rehearsal.status(['--wait', '2', '--json']);
  const snapshot = JSON.parse(json.stdout) as { devices: { device: string; version: string; confirmed: boolean }[]; rollout: { state: string } };
  assert.deepEqual(snapshot.devices.map((device) => device.device).sort(), fleet.boards.map((board) => board.id).sort());
  assert.ok(snapshot.devices.every((device) => device.version === site.version && device.confirmed));
  assert.equal(snapshot.rollout.state, 'done');
}
