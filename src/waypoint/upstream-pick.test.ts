/** The "pick upstream" stage's memo: a vetting is reused only while every input is the same; otherwise re-vetted. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Snapshot } from '../mesh/snapshot.ts';
import { compileAddressGuard, type AddressGuard } from '../upstream/private-address-guard.ts';
import { Refusal } from './refusal.ts';
import { pickUpstream, type PickMemo, type ReadyPlan } from './upstream-pick.ts';

const plan: ReadyPlan = {
  ok: true,
  targets: [{ kind: 'name', host: 'api.example', port: 443 }],
  egressCheck: false,
  shuffle: false,
};
const snapshot = { egressPolicies: {} } as unknown as Snapshot;

/** A real guard that counts how often it is asked. */
function counted(allowedPrivateCidrs: string[]): AddressGuard & { calls: number } {
  const inner = compileAddressGuard({ allowedPrivateCidrs });
  const g = {
    calls: 0,
    check(ip: string, port?: number) {
      g.calls++;
      return inner.check(ip, port);
    },
  };
  return g;
}

test('the same plan, guard, policies and answers reuse the vetting; a new guard or a new answer is vetted again', async () => {
  let answer = ['93.184.216.34'];
  const resolve = async () => [...answer];
  const memo: { picked: PickMemo | null } = { picked: null };
  const open = counted([]);
  const first = await pickUpstream(plan, 'api.example:443', { resolve, guard: open, snapshot, memo });
  assert.deepEqual(first, [{ ip: '93.184.216.34', port: 443, from: 'api.example' }]);
  const again = await pickUpstream(plan, 'api.example:443', { resolve, guard: open, snapshot, memo });
  assert.equal(again, first, 'reused');
  assert.equal(open.calls, 1);

  // The name now answers with a private address: vetted again, refused.
  answer = ['10.1.2.3'];
  const moved = await pickUpstream(plan, 'api.example:443', { resolve, guard: open, snapshot, memo });
  assert.ok(moved instanceof Refusal, 'a private answer is refused');
  assert.match(moved.reason, /10\.1\.2\.3/);
  assert.equal(open.calls, 2);

  // A new guard (a snapshot that allows 10.0.0.0/8) is asked, whatever the memo holds.
  const widened = counted(['10.0.0.0/8']);
  const allowed = await pickUpstream(plan, 'api.example:443', { resolve, guard: widened, snapshot, memo });
  assert.deepEqual(allowed, [{ ip: '10.1.2.3', port: 443, from: 'api.example' }]);
  assert.equal(widened.calls, 1);
  // And the old guard again (narrowed back): asked again, still refuses.
  const narrowed = await pickUpstream(plan, 'api.example:443', { resolve, guard: open, snapshot, memo });
  assert.ok(narrowed instanceof Refusal);
  assert.equal(open.calls, 3);
});
