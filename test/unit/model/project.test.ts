// A Project's source limits over every source of an app (multi-source, #13).

import { describe, expect, it } from 'vitest';
import { appSourcesRefusal, ProjectSchema } from '../../../lib/model/project.js';

const project = ProjectSchema.parse({
  apiVersion: 'driftless.dev/v1',
  kind: 'Project',
  metadata: { name: 'team' },
  spec: { sourceRepos: ['https://github.com/acme/*', 'https://charts.example.com'] },
});

describe('appSourcesRefusal', () => {
  const chart = { repoURL: 'https://charts.example.com' };
  it('checks the single source as before', () => {
    expect(appSourcesRefusal(project, { source: chart })).toBeUndefined();
    expect(
      appSourcesRefusal(project, { source: { repoURL: 'https://evil.example.com/x.git' } }),
    ).toMatchObject({
      field: 'spec.source.repoURL',
    });
  });

  it('refuses a multi-source app one of whose sources the project does not allow, naming it', () => {
    const ok = {
      source: chart,
      sources: [chart, { repoURL: 'https://github.com/acme/config.git' }],
    };
    expect(appSourcesRefusal(project, ok)).toBeUndefined();
    const values = { repoURL: 'https://gitlab.example.com/other/values.git' };
    const refused = appSourcesRefusal(project, { source: chart, sources: [chart, values] });
    expect(refused?.field).toBe('spec.sources[1].repoURL');
    expect(refused?.message).toMatch(
      /does not allow source repository https:\/\/gitlab\.example\.com\/other\/values\.git/,
    );
  });
});
