import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseApplication } from '../../../lib/model/application.js';
import { canonicalJson } from '../../../lib/model/canonical.js';
import { sourceDigest } from '../../../lib/reconcile/types.js';

const base = {
  apiVersion: 'driftless.dev/v1',
  kind: 'Application',
  metadata: { name: 'web' },
};

describe('sourceDigest', () => {
  it('keeps the digest a single-source app always had, whatever its revision', () => {
    const app = parseApplication({
      ...base,
      spec: {
        source: { repoURL: 'https://git.example.com/web.git', revision: 'main', path: 'a' },
        destinations: [{ cluster: 'prod', namespace: 'web' }],
      },
    });
    const { revision: _r, ...source } = app.spec.source;
    const before = createHash('sha256').update(canonicalJson(source)).digest('hex').slice(0, 16);
    expect(sourceDigest(app)).toBe(before);
  });

  it('changes when any source of a multi-source app changes, not when a revision does', () => {
    const spec = (valuesPath: string, revision: string) =>
      parseApplication({
        ...base,
        spec: {
          sources: [
            { repoURL: 'https://git.example.com/values.git', revision, ref: 'values' },
            {
              repoURL: 'https://charts.example.com',
              chart: 'web',
              revision: '^1.0.0',
              helm: { valueFiles: [`$values/${valuesPath}`] },
            },
          ],
          destinations: [{ cluster: 'prod', namespace: 'web' }],
        },
      });
    expect(sourceDigest(spec('prod.yaml', 'main'))).toBe(sourceDigest(spec('prod.yaml', 'v2')));
    expect(sourceDigest(spec('prod.yaml', 'main'))).not.toBe(sourceDigest(spec('eu.yaml', 'main')));
  });
});
