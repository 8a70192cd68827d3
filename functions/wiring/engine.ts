// What the reconcile engine needs beyond the store: leases, git, the render
// cache (with the SOPS keys: age identities from Secrets Manager, AWS KMS),
// the clusters and the Git credentials of private repositories (API previews
// and the worker).

import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoCatalog } from '../../lib/aws/catalog/index.js';
import { DynamoClusterGuard } from '../../lib/aws/cluster-guard.js';
import { AwsKmsDecrypter } from '../../lib/aws/kms.js';
import { DynamoLeaseManager } from '../../lib/aws/lease.js';
import { SecretsManagerSource } from '../../lib/aws/secrets.js';
import { ClusterRouter } from '../../lib/kube/connector.js';
import type { SecretSource } from '../../lib/ports/secrets.js';
import { CredentialsResolver, type GitHubAppCredentials } from '../../lib/source/credentials.js';
import { IsomorphicGitSource, SourceCache } from '../../lib/source/index.js';
import type { DataPlaneConfig } from './config.js';

export function enginePlane(
  config: DataPlaneConfig,
  dynamo: DynamoDBClient,
  catalog: DynamoCatalog,
) {
  const leases = new DynamoLeaseManager({ client: dynamo, tableName: config.tableName });
  const git = new IsomorphicGitSource({ cacheRoot: config.gitCacheDir });
  const clusters = new ClusterRouter();
  const guard = new DynamoClusterGuard({ client: dynamo, tableName: config.tableName });
  // One render cache per process: a warm Lambda renders an unchanged commit once.
  const secrets = new SecretsManagerSource({});
  // SOPS age keys are named like source credentials: under the stack's prefix.
  const prefixed: SecretSource = {
    getSecretString: (name) => secrets.getSecretString(`${config.secretPrefix ?? ''}${name}`),
  };
  const renderer = new SourceCache({
    decryption: {
      secrets: prefixed,
      kms: new AwsKmsDecrypter({ endpoint: config.kmsEndpoint }),
    },
  });
  const auth = config.githubAuth;
  const credentials = new CredentialsResolver({
    secrets,
    repositories: catalog,
    secretPrefix: config.secretPrefix,
    // {"type":"githubApp"}: the App of the commit statuses reads the repository too.
    githubApp: auth?.kind === 'app' ? lazyGitHubApp(config, auth, secrets) : undefined,
  });
  return {
    leases,
    git,
    clusters,
    guard,
    renderer,
    credentialsFor: credentials.credentialsFor,
  };
}

/** The App's token minting, loaded on first use: most repositories never need it. */
function lazyGitHubApp(
  config: DataPlaneConfig,
  auth: Extract<NonNullable<DataPlaneConfig['githubAuth']>, { kind: 'app' }>,
  secrets: SecretsManagerSource,
): GitHubAppCredentials {
  let tokens: Promise<GitHubAppCredentials> | undefined;
  return {
    credentialsFor: async (repoURL) => {
      tokens ??= import('../../lib/github/app-token.js').then(
        (m) =>
          new m.GitHubAppTokens({
            auth,
            secrets,
            apiBaseUrl: config.githubApiUrl,
            webHost: config.githubWebHost,
          }),
      );
      return (await tokens).credentialsFor(repoURL);
    },
  };
}
