import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../../lib/cli/command.js';
import { parseClusterMap } from '../../../../lib/cli/commands/import.js';

describe('driftless import --cluster-map', () => {
  it('maps servers and names to clusters, splitting at the last =', () => {
    expect(
      parseClusterMap([
        'https://prod.example.com:6443=prod',
        'https://x.example.com/?a=b=x',
        'staging=stage-eu',
      ]),
    ).toEqual({
      'https://prod.example.com:6443': 'prod',
      'https://x.example.com/?a=b': 'x',
      staging: 'stage-eu',
    });
  });

  it('refuses a pair without a key or with a cluster name that is not a DNS label', () => {
    expect(() => parseClusterMap(['prod'])).toThrow(UsageError);
    expect(() => parseClusterMap(['=prod'])).toThrow(UsageError);
    expect(() => parseClusterMap(['https://a=Prod_EU'])).toThrow(
      /--cluster-map https:\/\/a=Prod_EU: expected/,
    );
  });
});
