import { describe, expect, it } from 'vitest';
import { Discovery } from '../../../lib/kube/discovery.js';

describe('Discovery', () => {
  it('reports a failed /api only after /apis has settled too, so no request outlives the caller', async () => {
    let apisSettled = false;
    const discovery = new Discovery(async (path) => {
      if (path === '/api') throw new Error('api down');
      await new Promise((r) => setTimeout(r, 30));
      apisSettled = true;
      return { kind: 'APIGroupDiscoveryList', items: [] };
    });
    await expect(discovery.has('', 'v1', 'ConfigMap')).rejects.toThrow('api down');
    expect(apisSettled).toBe(true);
  });
});
