// API Priority and Fairness in the test cluster, aimed at one service account
// of a fresh namespace: a PriorityLevelConfiguration with no seats, nothing
// lent or borrowed and no queue (APF still dispatches one request when none
// is executing, and rejects every other with 429 and Retry-After), and a
// FlowSchema matching only that account. `occupySeat` holds one of its
// requests in the only seat (an admission webhook holds it), so the 429s are
// a state the test sets, not a race. Removed after the calling file's tests.

import {
  type AuthenticationV1TokenRequest,
  CoreV1Api,
  FlowcontrolApiserverV1Api,
  RbacAuthorizationV1Api,
} from '@kubernetes/client-node';
import { afterAll } from 'vitest';
import { KubeClient } from '../../lib/kube/client.js';
import { kubeconfigAccess } from '../../lib/kube/kubeconfig.js';
import { testenv, uniqueName } from './env.js';
import { type HoldingWebhook, holdingWebhook } from './holding-webhook.js';
import { eventually, kubeConfig, testNamespace } from './kube.js';

export interface StarvedAccount {
  namespace: string;
  /** A bearer token of the throttled service account (admin of `namespace`). */
  token: string;
  /** A client as that account (its own connection pool and retries). */
  client(opts?: ConstructorParameters<typeof KubeClient>[1]): Promise<KubeClient>;
  /**
   * Puts one request of the account in its only seat and keeps it there:
   * until released, every other request of the account is rejected with 429.
   */
  occupySeat(): Promise<{ release(): Promise<void> }>;
}

const HOLD = 'driftless.test/hold';

export async function starvedAccount(prefix: string): Promise<StarvedAccount> {
  const ns = await testNamespace(prefix);
  const kc = kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const flowcontrol = kc.makeApiClient(FlowcontrolApiserverV1Api);
  const sa = uniqueName('driftless');
  await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: sa } } });
  await kc.makeApiClient(RbacAuthorizationV1Api).createNamespacedRoleBinding({
    namespace: ns,
    body: {
      metadata: { name: sa },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'admin' },
      subjects: [{ kind: 'ServiceAccount', name: sa, namespace: ns }],
    },
  });
  const tr = (await core.createNamespacedServiceAccountToken({
    name: sa,
    namespace: ns,
    body: { spec: { audiences: [], expirationSeconds: 3600 } } as AuthenticationV1TokenRequest,
  })) as AuthenticationV1TokenRequest;
  const token = tr.status?.token as string;
  const priorityLevel = uniqueName('driftless-starved');
  const flowSchema = uniqueName('driftless-starved');
  await flowcontrol.createPriorityLevelConfiguration({
    body: {
      metadata: { name: priorityLevel },
      spec: {
        type: 'Limited',
        limited: {
          nominalConcurrencyShares: 0,
          lendablePercent: 0,
          borrowingLimitPercent: 0,
          limitResponse: { type: 'Reject' },
        },
      },
    },
  });
  await flowcontrol.createFlowSchema({
    body: {
      metadata: { name: flowSchema },
      spec: {
        priorityLevelConfiguration: { name: priorityLevel },
        matchingPrecedence: 500,
        distinguisherMethod: { type: 'ByUser' },
        rules: [
          {
            subjects: [{ kind: 'ServiceAccount', serviceAccount: { name: sa, namespace: ns } }],
            resourceRules: [
              {
                verbs: ['*'],
                apiGroups: ['*'],
                resources: ['*'],
                namespaces: ['*'],
                clusterScope: true,
              },
            ],
            nonResourceRules: [{ verbs: ['*'], nonResourceURLs: ['*'] }],
          },
        ],
      },
    },
  });
  afterAll(async () => {
    await flowcontrol.deleteFlowSchema({ name: flowSchema }).catch(() => {});
    await flowcontrol.deletePriorityLevelConfiguration({ name: priorityLevel }).catch(() => {});
  });
  // The APF controller has read the schema once it reports on it.
  await eventually('the FlowSchema in force', async () => {
    const fs = await flowcontrol.readFlowSchema({ name: flowSchema });
    return fs.status?.conditions?.some((c) => c.type === 'Dangling' && c.status === 'False')
      ? true
      : undefined;
  });
  const webhook: HoldingWebhook = await holdingWebhook(ns, HOLD);

  const client = async (opts: ConstructorParameters<typeof KubeClient>[1] = {}) => {
    const admin = await kubeconfigAccess(testenv().kube.kubeconfig);
    return new KubeClient(
      { ...admin, name: 'test', credentials: async () => ({ token }) },
      { clusterName: 'test', ...opts },
    );
  };

  const occupySeat = async () => {
    // With retries: its own two discovery requests share the one seat.
    const holder = await client();
    const name = uniqueName('seat');
    const created = holder.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, namespace: ns, labels: { [HOLD]: 'true' } },
      data: { k: 'v' },
    });
    await eventually('the seat taken', async () => (webhook.held > 0 ? true : undefined));
    return {
      async release() {
        webhook.release();
        await created;
        holder.close();
      },
    };
  };

  return { namespace: ns, token, client, occupySeat };
}
