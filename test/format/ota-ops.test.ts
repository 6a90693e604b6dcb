import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BLANK_ENTRY, OtaImageState, makeOtaSelectEntry, otaSelectCrc, type OtaData } from '../../src/format/otadata.js';
import {
  OtaOperationError,
  applyOtadataWrites,
  bootCandidates,
  initialEntryFor,
  planMarkInvalid,
  planMarkValid,
  planSetBoot,
  selectBootPartition,
} from '../../src/format/ota-ops.js';

const BLANK: OtaData = [BLANK_ENTRY, BLANK_ENTRY];
const ROLLBACK = { otaAppCount: 2, hasFactory: false, rollbackEnabled: true };

/** One bootloader pass: select, apply its writes, return the slot and the new otadata. */
function boot(otadata: OtaData, options = ROLLBACK): { slot: number | 'factory'; otadata: OtaData } {
  const selection = selectBootPartition({ ...options, otadata });
  let next = applyOtadataWrites(otadata, selection.writes);
  const slot = selection.target.kind === 'factory' ? 'factory' : selection.target.slot;
  if (selection.recordSlotAfterLoad && typeof slot === 'number') next = applyOtadataWrites(next, [initialEntryFor(slot)]);
  return { slot, otadata: next };
}

describe('bootloader slot selection', () => {
  it('boots factory when there is no otadata partition', () => {
    const selection = selectBootPartition({ ...ROLLBACK, hasFactory: true, otadata: undefined });
    assert.deepEqual(selection.target, { kind: 'factory' });
    assert.deepEqual(selection.writes, []);
  });

  it('boots factory on blank otadata when there is one', () => {
    assert.equal(boot(BLANK, { ...ROLLBACK, hasFactory: true }).slot, 'factory');
  });

  it('boots ota_0 on blank otadata without factory, then records entry 0 = {seq 1, VALID}', () => {
    const result = boot(BLANK);
    assert.equal(result.slot, 0);
    assert.deepEqual(result.otadata[0], makeOtaSelectEntry(1, OtaImageState.VALID));
    assert.deepEqual(result.otadata[1], BLANK_ENTRY);
    // Once recorded, the next boot leaves otadata alone.
    assert.deepEqual(boot(result.otadata).otadata, result.otadata);
  });

  it('turns a NEW entry into PENDING_VERIFY on its first boot, and aborts it on the next (rollback)', () => {
    let otadata: OtaData = [makeOtaSelectEntry(1, OtaImageState.VALID), makeOtaSelectEntry(2, OtaImageState.NEW)];
    let result = boot(otadata);
    assert.equal(result.slot, 1);
    assert.equal(result.otadata[1].state, OtaImageState.PENDING_VERIFY);
    otadata = result.otadata;
    result = boot(otadata);
    assert.equal(result.slot, 0, 'the unconfirmed image is abandoned');
    assert.equal(result.otadata[1].state, OtaImageState.ABORTED);
    assert.equal(result.otadata[0].state, OtaImageState.VALID);
  });

  it('keeps booting a confirmed image', () => {
    const first = boot([makeOtaSelectEntry(1, OtaImageState.VALID), makeOtaSelectEntry(2, OtaImageState.NEW)]);
    const confirmed = applyOtadataWrites(first.otadata, [planMarkValid(first.otadata, 2)!]);
    assert.equal(boot(confirmed).slot, 1);
    assert.equal(boot(boot(confirmed).otadata).slot, 1);
  });

  it('without rollback support, NEW/UNDEFINED entries are never rewritten', () => {
    const otadata: OtaData = [makeOtaSelectEntry(1, OtaImageState.UNDEFINED), makeOtaSelectEntry(2, OtaImageState.NEW)];
    const selection = selectBootPartition({ ...ROLLBACK, rollbackEnabled: false, otadata });
    assert.deepEqual(selection.target, { kind: 'ota', slot: 1 });
    assert.deepEqual(selection.writes, []);
  });

  it('a PENDING_VERIFY entry with a higher seq than a VALID one is aborted in favour of the VALID one', () => {
    const otadata: OtaData = [makeOtaSelectEntry(3, OtaImageState.VALID), makeOtaSelectEntry(4, OtaImageState.PENDING_VERIFY)];
    const selection = selectBootPartition({ ...ROLLBACK, otadata });
    assert.deepEqual(selection.target, { kind: 'ota', slot: 0 });
    assert.equal(selection.activeEntry, 0);
    assert.deepEqual(selection.writes, [{ index: 1, entry: { ...otadata[1], state: OtaImageState.ABORTED } }]);
  });

  it('with a bad CRC on one entry and factory present, still uses the good entry', () => {
    const bad = { ...makeOtaSelectEntry(5, OtaImageState.VALID), crc: 0 };
    assert.equal(boot([bad, makeOtaSelectEntry(2, OtaImageState.VALID)], { ...ROLLBACK, hasFactory: true }).slot, 1);
  });

  it('tries apps in the bootloader order when the chosen one fails', () => {
    const names = (list: ReturnType<typeof bootCandidates>) => list.map((t) => (t.kind === 'factory' ? 'factory' : `ota_${t.slot}`));
    assert.deepEqual(names(bootCandidates({ kind: 'ota', slot: 2 }, 4)), ['ota_2', 'ota_1', 'ota_0', 'factory', 'ota_3']);
    assert.deepEqual(names(bootCandidates({ kind: 'factory' }, 2)), ['factory', 'ota_0', 'ota_1']);
  });
});

describe('esp_ota_set_boot_partition', () => {
  it('from blank otadata writes seq slot+1 in entry 0', () => {
    const write = planSetBoot(BLANK, 1, 2, true);
    assert.equal(write.index, 0);
    assert.equal(write.entry.seq, 2);
    assert.equal(write.entry.state, OtaImageState.NEW);
    assert.equal(write.entry.crc, otaSelectCrc(2));
  });

  it('writes the smallest seq >= the active one that selects the slot, into the other entry', () => {
    const otadata: OtaData = [makeOtaSelectEntry(5, OtaImageState.VALID), makeOtaSelectEntry(4, OtaImageState.VALID)];
    // active: entry 0, seq 5 -> slot 0 of 2. Switching to slot 1 needs seq 6.
    const toOther = planSetBoot(otadata, 1, 2, true);
    assert.deepEqual([toOther.index, toOther.entry.seq], [1, 6]);
    // Setting the running slot again (rollback.cancel_force) keeps seq 5 but writes it into the other entry.
    const same = planSetBoot(otadata, 0, 2, false);
    assert.deepEqual([same.index, same.entry.seq, same.entry.state], [1, 5, OtaImageState.UNDEFINED]);
  });

  it('refuses a slot the table does not have', () => {
    assert.throws(() => planSetBoot(BLANK, 2, 2, true), /OTA slot 2 does not exist/);
  });

  it('for any history of updates, the next boot runs the slot last set', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 16 }),
        fc.array(fc.record({ slot: fc.nat(), confirm: fc.boolean() }), { minLength: 1, maxLength: 30 }),
        (count, steps) => {
          let otadata = BLANK;
          otadata = boot(otadata, { ...ROLLBACK, otaAppCount: count }).otadata;
          for (const step of steps) {
            const slot = step.slot % count;
            otadata = applyOtadataWrites(otadata, [planSetBoot(otadata, slot, count, true)]);
            const result = boot(otadata, { ...ROLLBACK, otaAppCount: count });
            assert.equal(result.slot, slot);
            otadata = result.otadata;
            if (step.confirm) {
              const write = planMarkValid(otadata, count);
              if (write) otadata = applyOtadataWrites(otadata, [write]);
              assert.equal(boot(otadata, { ...ROLLBACK, otaAppCount: count }).slot, slot);
            }
          }
        },
      ),
    );
  });
});

describe('mark valid / invalid', () => {
  it('marks the active entry VALID in place, and does nothing when it already is', () => {
    const otadata: OtaData = [makeOtaSelectEntry(1, OtaImageState.VALID), makeOtaSelectEntry(2, OtaImageState.PENDING_VERIFY)];
    assert.deepEqual(planMarkValid(otadata, 2), { index: 1, entry: { ...otadata[1], state: OtaImageState.VALID } });
    assert.equal(planMarkValid([otadata[0], BLANK_ENTRY], 2), undefined);
  });

  it('fails as ESP_FAIL when the factory app runs (no active entry)', () => {
    assert.throws(() => planMarkValid(BLANK, 2), (error: unknown) => error instanceof OtaOperationError && error.espError === 'ESP_FAIL');
  });

  it('marks the active entry INVALID only when another app can boot', () => {
    const otadata: OtaData = [makeOtaSelectEntry(1, OtaImageState.VALID), makeOtaSelectEntry(2, OtaImageState.VALID)];
    assert.equal(planMarkInvalid(otadata, 2, true).entry.state, OtaImageState.INVALID);
    assert.throws(() => planMarkInvalid(otadata, 2, false), /rollback is not possible/);
  });
});
