// One cluster's throttle (lib/kube/throttle.ts): a 429's pause holds back
// every request, the next requests go one at a time until enough got
// through, and the 429s are taken once.

import { describe, expect, it } from 'vitest';
import { ClusterThrottle, ClusterThrottles } from '../../../lib/kube/throttle.js';

describe('ClusterThrottle', () => {
  it('lets requests run in parallel until a 429, then one at a time for the next few', async () => {
    const t = new ClusterThrottle(2);
    const a = await t.enter();
    const b = await t.enter(); // no 429 yet: both in flight
    a(false);
    b(false);
    t.note(0);
    const first = await t.enter();
    let secondIn = false;
    const second = t.enter().then((turn) => {
      secondIn = true;
      return turn;
    });
    await new Promise((r) => setImmediate(r));
    expect(secondIn).toBe(false); // waits for the first
    first(false);
    const turn = await second;
    expect(secondIn).toBe(true);
    turn(false);
    // Two got through after the 429: parallel again.
    const c = await t.enter();
    const d = await t.enter();
    c(false);
    d(false);
  });

  it('reports each 429 once, and the pause while it is ahead', () => {
    const throttles = new ClusterThrottles();
    const now = Date.now();
    throttles.for('prod').note(60_000, now);
    throttles.for('prod').note(1_000, now);
    const report = throttles.take('prod');
    expect(report.throttled).toBe(2);
    expect(report.backoffUntil).toBe(now + 60_000);
    expect(throttles.take('prod').throttled).toBe(0);
    expect(throttles.take('other')).toEqual({ throttled: 0 });
    expect(throttles.for('prod').count).toBe(2);
  });
});
