// The LeaseManager contract (lib/ports/lease.ts), defined once and run
// against the DynamoDB leases (on moto) and the memory leases by
// test/integration/contract.test.ts.

import { expect, it } from 'vitest';
import type { TargetId } from '../../../lib/model/target.js';
import type { Lease } from '../../../lib/ports/lease.js';
import { application, type MakeStore } from './fixtures.js';

export function leaseContract(make: MakeStore): void {
  const t: TargetId = { app: 'leased', cluster: 'prod' };

  it('gives a free target to one holder until it expires, with growing tokens', async () => {
    const { leases, clock } = await make();
    const a = await leases.acquire(t, 'worker-a', 60_000);
    expect(a).toEqual({
      target: t,
      holder: 'worker-a',
      fencingToken: 1,
      expiresAt: clock.now() + 60_000,
    });
    expect(await leases.acquire(t, 'worker-b', 60_000)).toBeUndefined();
    // The holder itself may take it again (a redelivered job): a new token.
    expect((await leases.acquire(t, 'worker-a', 60_000))?.fencingToken).toBe(2);
    clock.advance(60_000);
    const b = await leases.acquire(t, 'worker-b', 60_000);
    expect(b?.fencingToken).toBe(3);
    expect(await leases.acquire(t, 'worker-a', 60_000)).toBeUndefined();
  });

  it('renews only its own lease; a lease taken over fails to renew with LeaseLost', async () => {
    const { leases, clock } = await make();
    const a = (await leases.acquire(t, 'worker-a', 10_000)) as Lease;
    clock.advance(8_000);
    const renewed = await leases.renew(a, 10_000);
    expect(renewed).toEqual({ ...a, expiresAt: clock.now() + 10_000 });
    clock.advance(8_000); // 16 s after acquiring, 8 s after renewing: still held
    expect(await leases.acquire(t, 'worker-b', 10_000)).toBeUndefined();
    clock.advance(3_000);
    const b = (await leases.acquire(t, 'worker-b', 10_000)) as Lease;
    expect(b.fencingToken).toBe(a.fencingToken + 1);
    await expect(leases.renew(renewed, 10_000)).rejects.toMatchObject({
      reason: 'LeaseLost',
      message: expect.stringContaining('worker-b'),
    });
  });

  it('refuses to renew an expired lease even when nobody took it', async () => {
    const { leases, clock } = await make();
    const a = (await leases.acquire(t, 'worker-a', 10_000)) as Lease;
    clock.advance(10_000);
    await expect(leases.renew(a, 10_000)).rejects.toMatchObject({
      reason: 'LeaseLost',
      message: expect.stringContaining('expired'),
    });
    // Taking it again is how a holder continues: with a new token.
    expect((await leases.acquire(t, 'worker-a', 10_000))?.fencingToken).toBe(2);
  });

  it('releases only its own lease, and the token keeps growing after a release', async () => {
    const { leases } = await make();
    const a = (await leases.acquire(t, 'worker-a', 60_000)) as Lease;
    await leases.release(a);
    await leases.release(a); // twice is fine
    await expect(leases.renew(a, 1_000)).rejects.toMatchObject({ reason: 'LeaseLost' });
    const b = (await leases.acquire(t, 'worker-b', 60_000)) as Lease;
    expect(b.fencingToken).toBe(2);
    await leases.release(a); // a stale release must not free b's lease
    expect(await leases.acquire(t, 'worker-c', 60_000)).toBeUndefined();
    await expect(leases.renew({ ...b, holder: 'worker-c' }, 1_000)).rejects.toMatchObject({
      reason: 'LeaseLost',
    });
    await leases.release(b);
    expect((await leases.acquire(t, 'worker-c', 60_000))?.fencingToken).toBe(3);
  });

  it('keeps the lease across a spec update and a push on the same target', async () => {
    const { catalog, leases } = await make();
    await catalog.putApplication(application(t.app, [t.cluster]));
    const lease = (await leases.acquire(t, 'worker-a', 60_000)) as Lease;
    await catalog.recordWantedRevision(t, 'c0ffee', 5);
    await catalog.putApplication(application(t.app, [t.cluster], { suspended: true }));
    expect(await leases.acquire(t, 'worker-b', 60_000)).toBeUndefined();
    await leases.renew(lease, 60_000);
    expect(await catalog.getTargetRecord(t)).toMatchObject({
      wantedRevision: 'c0ffee',
      suspended: true,
    });
  });

  it('fails to renew on a deleted target, and tokens keep growing across delete and register', async () => {
    const { catalog, leases } = await make();
    await catalog.putApplication(application(t.app, [t.cluster]));
    const a = (await leases.acquire(t, 'worker-a', 60_000)) as Lease;
    await catalog.deleteApplication(t.app);
    await expect(leases.renew(a, 60_000)).rejects.toMatchObject({
      reason: 'LeaseLost',
      message: expect.stringContaining('deleted'),
    });
    await leases.release(a);
    await catalog.putApplication(application(t.app, [t.cluster]));
    const b = (await leases.acquire(t, 'worker-b', 60_000)) as Lease;
    expect(b.fencingToken).toBe(a.fencingToken + 1);
    await leases.renew(b, 60_000);
  });
}
