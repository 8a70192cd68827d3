// Health per kind, table-driven over live objects shaped like what the API
// server returns (status written by the real controllers).

import { describe, expect, it } from 'vitest';
import { appHealth, evaluateHealth, type ObjectHealth } from '../../lib/health/index.js';
import type { KubeObject } from '../../lib/model/object.js';
import type { HealthResult, HealthStatus } from '../../lib/model/status.js';

type Json = Record<string, unknown>;

interface Case {
  name: string;
  obj: KubeObject;
  status: HealthStatus;
  /** A substring or pattern the message must contain. */
  message?: string | RegExp;
}

const T = '2025-06-01T10:00:00Z';

function cond(type: string, status: string, reason?: string, message?: string): Json {
  return {
    type,
    status,
    lastTransitionTime: T,
    ...(reason ? { reason } : {}),
    ...(message ? { message } : {}),
  };
}

function meta(
  name: string,
  namespace: string | undefined,
  extra: Json = {},
): KubeObject['metadata'] {
  return {
    name,
    ...(namespace ? { namespace } : {}),
    uid: '6d1f0c1e-7b4e-4c55-9a55-2f8a2c1d0e11',
    resourceVersion: '4711',
    creationTimestamp: T,
    ...extra,
  };
}

function check(cases: Case[]) {
  it.each(cases)('$name', ({ obj, status, message }) => {
    const result = evaluateHealth(obj);
    expect(result.status).toBe(status);
    if (message !== undefined) {
      if (typeof message === 'string') expect(result.message).toContain(message);
      else expect(result.message).toMatch(message);
    }
    // Never block: anything in progress says when to look again, nothing else does.
    if (status === 'Progressing') {
      expect(result.recheckAfterMs).toBeGreaterThanOrEqual(5_000);
      expect(result.recheckAfterMs).toBeLessThanOrEqual(15_000);
    } else {
      expect(result.recheckAfterMs).toBeUndefined();
    }
  });
}

// --- workloads -------------------------------------------------------------

const podTemplate = (app: string) => ({
  metadata: { labels: { app } },
  spec: { containers: [{ name: app, image: `${app}:1.0` }] },
});

function deployment(o: { generation?: number; spec?: Json; status?: Json } = {}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta('web', 'prod', { generation: o.generation ?? 2 }),
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: 'web' } },
      template: podTemplate('web'),
      strategy: {
        type: 'RollingUpdate',
        rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' },
      },
      progressDeadlineSeconds: 600,
      revisionHistoryLimit: 10,
      ...o.spec,
    },
    status: {
      observedGeneration: 2,
      replicas: 3,
      updatedReplicas: 3,
      readyReplicas: 3,
      availableReplicas: 3,
      conditions: [
        cond(
          'Available',
          'True',
          'MinimumReplicasAvailable',
          'Deployment has minimum availability.',
        ),
        cond(
          'Progressing',
          'True',
          'NewReplicaSetAvailable',
          'ReplicaSet "web-5d9c8b7f4" has successfully progressed.',
        ),
      ],
      ...o.status,
    },
  };
}

describe('Deployment', () => {
  check([
    {
      name: 'all replicas updated and available: Healthy',
      obj: deployment(),
      status: 'Healthy',
      message: '3 of 3 replicas available',
    },
    {
      name: 'just created, no status yet: Progressing',
      obj: { ...deployment({ generation: 1 }), status: undefined },
      status: 'Progressing',
      message: 'waiting for the controller to observe the spec',
    },
    {
      name: 'new generation not observed yet: Progressing',
      obj: deployment({ generation: 3 }),
      status: 'Progressing',
      message: 'waiting for rollout to be observed (observed generation 2 < generation 3)',
    },
    {
      name: 'progress deadline exceeded: Degraded',
      obj: deployment({
        status: {
          updatedReplicas: 1,
          availableReplicas: 2,
          conditions: [
            cond('Available', 'True', 'MinimumReplicasAvailable'),
            cond(
              'Progressing',
              'False',
              'ProgressDeadlineExceeded',
              'ReplicaSet "web-7c6d9f8b5" has timed out progressing.',
            ),
          ],
        },
      }),
      status: 'Degraded',
      message:
        'rollout exceeded its progress deadline: ReplicaSet "web-7c6d9f8b5" has timed out progressing.',
    },
    {
      name: 'ReplicaFailure (quota): Degraded',
      obj: deployment({
        status: {
          replicas: 2,
          updatedReplicas: 2,
          availableReplicas: 2,
          conditions: [
            cond('Progressing', 'True', 'ReplicaSetUpdated'),
            cond(
              'ReplicaFailure',
              'True',
              'FailedCreate',
              'pods "web-5d9c8b7f4-x2x7q" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=2, limited: pods=2',
            ),
          ],
        },
      }),
      status: 'Degraded',
      message: 'FailedCreate: pods "web-5d9c8b7f4-x2x7q" is forbidden: exceeded quota',
    },
    {
      name: 'new ReplicaSet still scaling up: Progressing',
      obj: deployment({
        status: { replicas: 4, updatedReplicas: 1, readyReplicas: 3, availableReplicas: 3 },
      }),
      status: 'Progressing',
      message: 'waiting for rollout: 1 of 3 replicas updated',
    },
    {
      name: 'old replicas pending termination: Progressing',
      obj: deployment({ status: { replicas: 4, updatedReplicas: 3, availableReplicas: 3 } }),
      status: 'Progressing',
      message: 'waiting for rollout: 1 old replica pending termination',
    },
    {
      name: 'updated replicas not yet available: Progressing',
      obj: deployment({ status: { readyReplicas: 2, availableReplicas: 2 } }),
      status: 'Progressing',
      message: 'waiting for rollout: 2 of 3 updated replicas are available',
    },
    {
      name: 'paused: Suspended',
      obj: deployment({ spec: { paused: true }, status: { updatedReplicas: 1 } }),
      status: 'Suspended',
      message: 'rollout paused',
    },
    {
      name: 'spec.replicas absent defaults to 1: Healthy with 1',
      obj: deployment({
        spec: { replicas: undefined },
        status: { replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 },
      }),
      status: 'Healthy',
      message: '1 of 1 replicas available',
    },
    {
      name: 'spec.replicas absent defaults to 1: Progressing with none updated',
      obj: deployment({
        spec: { replicas: undefined },
        status: {
          replicas: undefined,
          updatedReplicas: undefined,
          readyReplicas: undefined,
          availableReplicas: undefined,
        },
      }),
      status: 'Progressing',
      message: '0 of 1 replicas updated',
    },
    {
      name: 'scaled to zero: Healthy',
      obj: deployment({
        spec: { replicas: 0 },
        status: {
          replicas: undefined,
          updatedReplicas: undefined,
          readyReplicas: undefined,
          availableReplicas: undefined,
        },
      }),
      status: 'Healthy',
      message: '0 of 0 replicas available',
    },
    {
      name: 'garbage status is read defensively: Progressing, not a throw',
      obj: { ...deployment({ generation: 1 }), status: 'garbage' },
      status: 'Progressing',
    },
  ]);
});

function statefulSet(o: { generation?: number; spec?: Json; status?: Json } = {}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: meta('db', 'prod', { generation: o.generation ?? 1 }),
    spec: {
      replicas: 3,
      serviceName: 'db',
      selector: { matchLabels: { app: 'db' } },
      template: podTemplate('db'),
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } },
      podManagementPolicy: 'OrderedReady',
      ...o.spec,
    },
    status: {
      observedGeneration: 1,
      replicas: 3,
      readyReplicas: 3,
      currentReplicas: 3,
      updatedReplicas: 3,
      availableReplicas: 3,
      currentRevision: 'db-6b7f9c5d8',
      updateRevision: 'db-6b7f9c5d8',
      collisionCount: 0,
      ...o.status,
    },
  };
}

describe('StatefulSet', () => {
  check([
    {
      name: 'rolled out: Healthy',
      obj: statefulSet(),
      status: 'Healthy',
      message: '3 of 3 replicas ready',
    },
    {
      name: 'not observed yet: Progressing',
      obj: statefulSet({ generation: 2 }),
      status: 'Progressing',
      message: 'observed generation 1 < generation 2',
    },
    {
      name: 'replicas not ready: Progressing',
      obj: statefulSet({ status: { readyReplicas: 1, availableReplicas: 1 } }),
      status: 'Progressing',
      message: '1 of 3 replicas ready',
    },
    {
      name: 'ready but not available for minReadySeconds: Progressing',
      obj: statefulSet({ spec: { minReadySeconds: 30 }, status: { availableReplicas: 2 } }),
      status: 'Progressing',
      message: '2 of 3 replicas available',
    },
    {
      name: 'scaling down: Progressing',
      obj: statefulSet({ spec: { replicas: 2 }, status: { replicas: 3 } }),
      status: 'Progressing',
      message: '1 extra replica pending termination',
    },
    {
      name: 'rolling update in progress: Progressing',
      obj: statefulSet({
        status: { updatedReplicas: 1, currentReplicas: 2, updateRevision: 'db-7f4c9d6b5' },
      }),
      status: 'Progressing',
      message: 'rolling update: 1 of 3 replicas at revision db-7f4c9d6b5',
    },
    {
      name: 'partitioned rollout reached its partition: Healthy',
      obj: statefulSet({
        spec: { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 2 } } },
        status: { updatedReplicas: 1, currentReplicas: 2, updateRevision: 'db-7f4c9d6b5' },
      }),
      status: 'Healthy',
      message: 'partitioned rollout complete: 1 of 3 replicas updated (partition 2)',
    },
    {
      name: 'partitioned rollout short of its partition: Progressing',
      obj: statefulSet({
        spec: { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 1 } } },
        status: { updatedReplicas: 1, currentReplicas: 2, updateRevision: 'db-7f4c9d6b5' },
      }),
      status: 'Progressing',
      message: 'partitioned rollout: 1 of 2 replicas updated (partition 1)',
    },
    {
      name: 'OnDelete with pods on the old revision: Healthy, says so',
      obj: statefulSet({
        spec: { updateStrategy: { type: 'OnDelete' } },
        status: { updatedReplicas: 0, updateRevision: 'db-7f4c9d6b5' },
      }),
      status: 'Healthy',
      message: '3 on an old revision (OnDelete)',
    },
  ]);
});

function daemonSet(o: { generation?: number; spec?: Json; status?: Json } = {}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: meta('agent', 'kube-system', { generation: o.generation ?? 1 }),
    spec: {
      selector: { matchLabels: { app: 'agent' } },
      template: podTemplate('agent'),
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } },
      ...o.spec,
    },
    status: {
      observedGeneration: 1,
      currentNumberScheduled: 2,
      desiredNumberScheduled: 2,
      numberMisscheduled: 0,
      numberReady: 2,
      numberAvailable: 2,
      updatedNumberScheduled: 2,
      ...o.status,
    },
  };
}

describe('DaemonSet', () => {
  check([
    {
      name: 'rolled out: Healthy',
      obj: daemonSet(),
      status: 'Healthy',
      message: '2 of 2 pods available',
    },
    {
      name: 'not observed yet: Progressing',
      obj: daemonSet({ generation: 2 }),
      status: 'Progressing',
      message: 'waiting for rollout to be observed',
    },
    {
      name: 'pods not updated yet: Progressing',
      obj: daemonSet({ status: { updatedNumberScheduled: 1 } }),
      status: 'Progressing',
      message: '1 of 2 pods updated',
    },
    {
      name: 'pods not available: Progressing',
      obj: daemonSet({ status: { numberReady: 1, numberAvailable: 1, numberUnavailable: 1 } }),
      status: 'Progressing',
      message: '1 of 2 pods available',
    },
    {
      name: 'OnDelete with stale pods: Healthy, says so',
      obj: daemonSet({
        spec: { updateStrategy: { type: 'OnDelete' } },
        status: { updatedNumberScheduled: 0 },
      }),
      status: 'Healthy',
      message: '2 on an old revision (OnDelete)',
    },
    {
      name: 'OnDelete with unavailable pods: Progressing',
      obj: daemonSet({
        spec: { updateStrategy: { type: 'OnDelete' } },
        status: { updatedNumberScheduled: 0, numberAvailable: 1 },
      }),
      status: 'Progressing',
      message: '1 of 2 pods available',
    },
  ]);
});

function replicaSet(o: { generation?: number; spec?: Json; status?: Json } = {}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: meta('web-5d9c8b7f4', 'prod', { generation: o.generation ?? 1 }),
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: 'web' } },
      template: podTemplate('web'),
      ...o.spec,
    },
    status: {
      observedGeneration: 1,
      replicas: 3,
      fullyLabeledReplicas: 3,
      readyReplicas: 3,
      availableReplicas: 3,
      ...o.status,
    },
  };
}

describe('ReplicaSet', () => {
  check([
    { name: 'all available: Healthy', obj: replicaSet(), status: 'Healthy', message: '3 of 3' },
    {
      name: 'not observed yet: Progressing',
      obj: replicaSet({ generation: 2 }),
      status: 'Progressing',
      message: 'observed generation 1 < generation 2',
    },
    {
      name: 'ReplicaFailure: Degraded',
      obj: replicaSet({
        status: {
          replicas: 1,
          availableReplicas: 1,
          conditions: [
            cond(
              'ReplicaFailure',
              'True',
              'FailedCreate',
              'pods "web-5d9c8b7f4-abcde" is forbidden: exceeded quota: compute',
            ),
          ],
        },
      }),
      status: 'Degraded',
      message: 'FailedCreate: pods "web-5d9c8b7f4-abcde" is forbidden',
    },
    {
      name: 'replicas not available: Progressing',
      obj: replicaSet({ status: { readyReplicas: 1, availableReplicas: 1 } }),
      status: 'Progressing',
      message: '1 of 3 replicas available',
    },
  ]);
});

// --- Pod -------------------------------------------------------------------

function pod(o: { spec?: Json; status?: Json; metadata?: Json } = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: meta('web-5d9c8b7f4-x2x7q', 'prod', o.metadata),
    spec: {
      containers: [{ name: 'web', image: 'nginx:1.27' }],
      restartPolicy: 'Always',
      nodeName: 'node-a',
      ...o.spec,
    },
    status: {
      phase: 'Running',
      conditions: [
        cond('PodScheduled', 'True'),
        cond('Initialized', 'True'),
        cond('ContainersReady', 'True'),
        cond('Ready', 'True'),
      ],
      containerStatuses: [running('web')],
      hostIP: '10.0.0.7',
      podIP: '10.244.1.12',
      startTime: T,
      qosClass: 'BestEffort',
      ...o.status,
    },
  };
}

function running(name: string, extra: Json = {}): Json {
  return {
    name,
    image: 'nginx:1.27',
    imageID: 'docker.io/library/nginx@sha256:0a1b',
    ready: true,
    started: true,
    restartCount: 0,
    state: { running: { startedAt: T } },
    lastState: {},
    ...extra,
  };
}

function waiting(name: string, reason: string, message?: string, extra: Json = {}): Json {
  return {
    name,
    image: 'nginx:1.27',
    imageID: '',
    ready: false,
    started: false,
    restartCount: 0,
    state: { waiting: { reason, ...(message ? { message } : {}) } },
    lastState: {},
    ...extra,
  };
}

const notReady = [
  cond('PodScheduled', 'True'),
  cond('Initialized', 'True'),
  cond('ContainersReady', 'False', 'ContainersNotReady', 'containers with unready status: [web]'),
  cond('Ready', 'False', 'ContainersNotReady', 'containers with unready status: [web]'),
];

describe('Pod', () => {
  check([
    { name: 'running and ready: Healthy', obj: pod(), status: 'Healthy', message: 'ready' },
    {
      name: 'Succeeded: Healthy',
      obj: pod({
        spec: { restartPolicy: 'Never' },
        status: {
          phase: 'Succeeded',
          conditions: [cond('Ready', 'False', 'PodCompleted')],
          containerStatuses: [
            running('web', {
              ready: false,
              state: {
                terminated: { exitCode: 0, reason: 'Completed', startedAt: T, finishedAt: T },
              },
            }),
          ],
        },
      }),
      status: 'Healthy',
      message: 'completed',
    },
    {
      name: 'Failed by eviction: Degraded with reason and message',
      obj: pod({
        status: {
          phase: 'Failed',
          reason: 'Evicted',
          message:
            'The node was low on resource: memory. Threshold quantity: 100Mi, available: 91Mi.',
          containerStatuses: [],
        },
      }),
      status: 'Degraded',
      message: 'Evicted: The node was low on resource: memory.',
    },
    {
      name: 'Failed by a container exit: Degraded naming the container',
      obj: pod({
        spec: { restartPolicy: 'Never' },
        status: {
          phase: 'Failed',
          containerStatuses: [
            running('web', {
              ready: false,
              state: {
                terminated: {
                  exitCode: 1,
                  reason: 'Error',
                  message: 'migration 0042 failed',
                  startedAt: T,
                  finishedAt: T,
                },
              },
            }),
          ],
        },
      }),
      status: 'Degraded',
      message: 'container web: Error (exit code 1): migration 0042 failed',
    },
    {
      name: 'CrashLoopBackOff: Degraded naming the container',
      obj: pod({
        status: {
          conditions: notReady,
          containerStatuses: [
            waiting(
              'web',
              'CrashLoopBackOff',
              'back-off 40s restarting failed container=web pod=web-5d9c8b7f4-x2x7q_prod(6d1f0c1e)',
              {
                restartCount: 3,
                lastState: {
                  terminated: { exitCode: 1, reason: 'Error', startedAt: T, finishedAt: T },
                },
              },
            ),
          ],
        },
      }),
      status: 'Degraded',
      message: 'container web: CrashLoopBackOff: back-off 40s restarting failed container=web',
    },
    {
      name: 'ImagePullBackOff: Degraded',
      obj: pod({
        status: {
          phase: 'Pending',
          conditions: notReady,
          containerStatuses: [
            waiting('web', 'ImagePullBackOff', 'Back-off pulling image "nginx:1.99"'),
          ],
        },
      }),
      status: 'Degraded',
      message: 'container web: ImagePullBackOff: Back-off pulling image "nginx:1.99"',
    },
    {
      name: 'ErrImagePull: Degraded',
      obj: pod({
        status: {
          phase: 'Pending',
          conditions: notReady,
          containerStatuses: [
            waiting(
              'web',
              'ErrImagePull',
              'failed to pull and unpack image "docker.io/library/nginx:1.99": not found',
            ),
          ],
        },
      }),
      status: 'Degraded',
      message: 'container web: ErrImagePull: failed to pull',
    },
    {
      name: 'CreateContainerConfigError: Degraded',
      obj: pod({
        status: {
          phase: 'Pending',
          conditions: notReady,
          containerStatuses: [
            waiting('web', 'CreateContainerConfigError', 'configmap "web-config" not found'),
          ],
        },
      }),
      status: 'Degraded',
      message: 'container web: CreateContainerConfigError: configmap "web-config" not found',
    },
    {
      name: 'InvalidImageName: Degraded',
      obj: pod({
        status: {
          phase: 'Pending',
          conditions: notReady,
          containerStatuses: [
            waiting(
              'web',
              'InvalidImageName',
              'Failed to apply default image tag "NGINX": invalid reference format',
            ),
          ],
        },
      }),
      status: 'Degraded',
      message: 'container web: InvalidImageName',
    },
    {
      name: 'init container crash looping: Degraded naming the init container',
      obj: pod({
        spec: { initContainers: [{ name: 'migrate', image: 'migrate:1' }] },
        status: {
          phase: 'Pending',
          conditions: [
            cond('PodScheduled', 'True'),
            cond('Initialized', 'False', 'ContainersNotInitialized'),
            cond('Ready', 'False', 'ContainersNotReady'),
          ],
          initContainerStatuses: [
            waiting(
              'migrate',
              'CrashLoopBackOff',
              'back-off 10s restarting failed container=migrate',
              {
                restartCount: 2,
              },
            ),
          ],
          containerStatuses: [waiting('web', 'PodInitializing')],
        },
      }),
      status: 'Degraded',
      message: 'init container migrate: CrashLoopBackOff',
    },
    {
      name: 'unschedulable: Progressing with the scheduler message',
      obj: pod({
        spec: { nodeName: undefined },
        status: {
          phase: 'Pending',
          conditions: [
            cond(
              'PodScheduled',
              'False',
              'Unschedulable',
              '0/2 nodes are available: 2 Insufficient cpu.',
            ),
          ],
          containerStatuses: undefined,
        },
      }),
      status: 'Progressing',
      message: 'unschedulable: 0/2 nodes are available: 2 Insufficient cpu.',
    },
    {
      name: 'not scheduled yet: Progressing',
      obj: pod({
        spec: { nodeName: undefined },
        status: { phase: 'Pending', conditions: [], containerStatuses: undefined },
      }),
      status: 'Progressing',
      message: 'waiting to be scheduled',
    },
    {
      name: 'bound to a node, no container status yet: Progressing naming the node',
      obj: pod({
        status: {
          phase: 'Pending',
          conditions: [cond('PodScheduled', 'True')],
          containerStatuses: undefined,
        },
      }),
      status: 'Progressing',
      message: 'pending: scheduled on node-a, waiting for containers to start',
    },
    {
      name: 'creating containers: Progressing',
      obj: pod({
        status: {
          phase: 'Pending',
          conditions: notReady,
          containerStatuses: [waiting('web', 'ContainerCreating')],
        },
      }),
      status: 'Progressing',
      message: 'pending: container web: ContainerCreating',
    },
    {
      name: 'running, readiness probe not passing yet: Progressing',
      obj: pod({
        status: { conditions: notReady, containerStatuses: [running('web', { ready: false })] },
      }),
      status: 'Progressing',
      message: 'waiting for containers to be ready: web',
    },
    {
      name: 'running, not ready after a crash: Degraded',
      obj: pod({
        status: {
          conditions: notReady,
          containerStatuses: [
            running('web', {
              ready: false,
              restartCount: 2,
              lastState: {
                terminated: { exitCode: 137, reason: 'OOMKilled', startedAt: T, finishedAt: T },
              },
            }),
          ],
        },
      }),
      status: 'Degraded',
      message: 'container web: restarted 2 times, last exit: OOMKilled (exit code 137)',
    },
    {
      name: 'restartPolicy Never running: Progressing until it succeeds',
      obj: pod({ spec: { restartPolicy: 'Never' } }),
      status: 'Progressing',
      message: 'restartPolicy Never',
    },
    {
      name: 'restartPolicy OnFailure running: Progressing until it succeeds',
      obj: pod({ spec: { restartPolicy: 'OnFailure' } }),
      status: 'Progressing',
      message: 'restartPolicy OnFailure',
    },
    {
      name: 'restartPolicy OnFailure crash looping: Degraded',
      obj: pod({
        spec: { restartPolicy: 'OnFailure' },
        status: {
          conditions: notReady,
          containerStatuses: [
            waiting('web', 'CrashLoopBackOff', 'back-off 20s restarting failed container=web'),
          ],
        },
      }),
      status: 'Degraded',
      message: 'container web: CrashLoopBackOff',
    },
    {
      name: 'phase Unknown (node lost): Unknown',
      obj: pod({
        status: { phase: 'Unknown', reason: 'NodeLost', message: 'node node-a is not responding' },
      }),
      status: 'Unknown',
      message: 'NodeLost',
    },
    {
      name: 'being deleted: Progressing',
      obj: pod({ metadata: { deletionTimestamp: T, deletionGracePeriodSeconds: 30 } }),
      status: 'Progressing',
      message: 'being deleted',
    },
  ]);
});

// --- batch -----------------------------------------------------------------

function job(o: { spec?: Json; status?: Json } = {}): KubeObject {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: meta('migrate', 'prod', { generation: 1 }),
    spec: {
      parallelism: 1,
      completions: 1,
      backoffLimit: 6,
      completionMode: 'NonIndexed',
      suspend: false,
      template: {
        spec: { restartPolicy: 'Never', containers: [{ name: 'migrate', image: 'migrate:1' }] },
      },
      ...o.spec,
    },
    status: {
      startTime: T,
      active: 1,
      ready: 1,
      terminating: 0,
      uncountedTerminatedPods: {},
      ...o.status,
    },
  };
}

describe('Job and CronJob', () => {
  check([
    {
      name: 'Complete: Healthy',
      obj: job({
        status: {
          active: undefined,
          succeeded: 1,
          completionTime: T,
          conditions: [
            cond(
              'SuccessCriteriaMet',
              'True',
              'CompletionsReached',
              'Reached expected number of succeeded pods',
            ),
            cond(
              'Complete',
              'True',
              'CompletionsReached',
              'Reached expected number of succeeded pods',
            ),
          ],
        },
      }),
      status: 'Healthy',
      message: 'completed: 1 succeeded',
    },
    {
      name: 'Failed (backoff limit): Degraded with reason and message',
      obj: job({
        spec: { backoffLimit: 0 },
        status: {
          active: undefined,
          failed: 1,
          conditions: [
            cond(
              'FailureTarget',
              'True',
              'BackoffLimitExceeded',
              'Job has reached the specified backoff limit',
            ),
            cond(
              'Failed',
              'True',
              'BackoffLimitExceeded',
              'Job has reached the specified backoff limit',
            ),
          ],
        },
      }),
      status: 'Degraded',
      message: 'BackoffLimitExceeded: Job has reached the specified backoff limit',
    },
    {
      name: 'FailureTarget before Failed: already Degraded',
      obj: job({
        status: {
          failed: 1,
          terminating: 1,
          conditions: [
            cond(
              'FailureTarget',
              'True',
              'DeadlineExceeded',
              'Job was active longer than specified deadline',
            ),
          ],
        },
      }),
      status: 'Degraded',
      message: 'DeadlineExceeded: Job was active longer than specified deadline',
    },
    {
      name: 'suspended: Suspended',
      obj: job({
        spec: { suspend: true },
        status: {
          active: undefined,
          conditions: [cond('Suspended', 'True', 'JobSuspended', 'Job suspended')],
        },
      }),
      status: 'Suspended',
      message: 'suspended',
    },
    {
      name: 'running: Progressing with counts',
      obj: job(),
      status: 'Progressing',
      message: 'running: 1 active, 0 of 1 succeeded',
    },
    {
      name: 'running after a failed attempt: Progressing, says so',
      obj: job({ status: { failed: 1 } }),
      status: 'Progressing',
      message: '1 failed',
    },
    {
      name: 'work queue (completions null): Progressing without a target count',
      obj: job({
        spec: { completions: undefined, parallelism: 3 },
        status: { active: 2, succeeded: 1 },
      }),
      status: 'Progressing',
      message: 'running: 2 active, 1 succeeded',
    },
    {
      name: 'CronJob suspended: Suspended',
      obj: {
        apiVersion: 'batch/v1',
        kind: 'CronJob',
        metadata: meta('nightly', 'prod', { generation: 2 }),
        spec: { schedule: '0 3 * * *', suspend: true, jobTemplate: { spec: {} } },
        status: {},
      },
      status: 'Suspended',
      message: 'cron job is suspended',
    },
    {
      name: 'CronJob scheduling: Healthy',
      obj: {
        apiVersion: 'batch/v1',
        kind: 'CronJob',
        metadata: meta('nightly', 'prod', { generation: 1 }),
        spec: { schedule: '0 3 * * *', suspend: false, jobTemplate: { spec: {} } },
        status: { lastScheduleTime: T, lastSuccessfulTime: T },
      },
      status: 'Healthy',
      message: `last scheduled at ${T}`,
    },
  ]);
});

// --- storage, network, namespaces -----------------------------------------

function pvc(phase: string | undefined, spec: Json = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: meta('data', 'prod'),
    spec: {
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: '1Gi' } },
      storageClassName: 'gp3',
      volumeMode: 'Filesystem',
      ...spec,
    },
    status: phase ? { phase } : {},
  };
}

function service(spec: Json, status: Json = { loadBalancer: {} }): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta('web', 'prod'),
    spec: {
      clusterIP: '10.96.12.34',
      clusterIPs: ['10.96.12.34'],
      ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }],
      selector: { app: 'web' },
      sessionAffinity: 'None',
      ...spec,
    },
    status,
  };
}

function ingress(status: Json | undefined): KubeObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: meta('web', 'prod', { generation: 1 }),
    spec: {
      ingressClassName: 'nginx',
      rules: [
        {
          host: 'web.example.com',
          http: {
            paths: [
              {
                path: '/',
                pathType: 'Prefix',
                backend: { service: { name: 'web', port: { number: 80 } } },
              },
            ],
          },
        },
      ],
    },
    ...(status ? { status } : {}),
  };
}

function namespace(status: Json, extra: Json = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: meta('prod', undefined, {
      labels: { 'kubernetes.io/metadata.name': 'prod' },
      ...extra,
    }),
    spec: { finalizers: ['kubernetes'] },
    status,
  };
}

describe('PersistentVolumeClaim, Service, Ingress, Namespace', () => {
  check([
    {
      name: 'PVC Bound: Healthy',
      obj: pvc('Bound', { volumeName: 'pvc-0b1c2d3e' }),
      status: 'Healthy',
      message: 'bound to volume pvc-0b1c2d3e',
    },
    {
      name: 'PVC Lost: Degraded',
      obj: pvc('Lost', { volumeName: 'pvc-0b1c2d3e' }),
      status: 'Degraded',
      message: 'volume pvc-0b1c2d3e lost',
    },
    {
      name: 'PVC Pending: Progressing naming the storage class',
      obj: pvc('Pending'),
      status: 'Progressing',
      message: 'waiting for a volume to bind (storage class gp3)',
    },
    {
      name: 'PVC without status yet: Progressing',
      obj: pvc(undefined, { storageClassName: undefined }),
      status: 'Progressing',
      message: 'waiting for a volume to bind',
    },
    { name: 'ClusterIP Service: Healthy', obj: service({ type: 'ClusterIP' }), status: 'Healthy' },
    {
      name: 'Service without spec.type (ClusterIP): Healthy',
      obj: service({}),
      status: 'Healthy',
    },
    {
      name: 'NodePort Service: Healthy',
      obj: service({ type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }),
      status: 'Healthy',
    },
    {
      name: 'ExternalName Service: Healthy',
      obj: service(
        { type: 'ExternalName', externalName: 'db.example.com', clusterIP: undefined },
        {},
      ),
      status: 'Healthy',
    },
    {
      name: 'LoadBalancer Service without an address: Progressing',
      obj: service({ type: 'LoadBalancer' }),
      status: 'Progressing',
      message: 'waiting for a load balancer address',
    },
    {
      name: 'LoadBalancer Service with an address: Healthy',
      obj: service(
        { type: 'LoadBalancer' },
        { loadBalancer: { ingress: [{ hostname: 'a1b2c3.elb.eu-west-1.amazonaws.com' }] } },
      ),
      status: 'Healthy',
      message: 'load balancer at a1b2c3.elb.eu-west-1.amazonaws.com',
    },
    {
      name: 'Ingress without status: Progressing',
      obj: ingress(undefined),
      status: 'Progressing',
      message: 'waiting for an ingress controller to publish an address',
    },
    {
      name: 'Ingress with an empty load balancer status: Progressing',
      obj: ingress({ loadBalancer: {} }),
      status: 'Progressing',
      message: 'status.loadBalancer.ingress',
    },
    {
      name: 'Ingress with an address: Healthy',
      obj: ingress({ loadBalancer: { ingress: [{ ip: '203.0.113.10' }] } }),
      status: 'Healthy',
      message: 'served at 203.0.113.10',
    },
    {
      name: 'Ingress in the old extensions group: same rules',
      obj: { ...ingress(undefined), apiVersion: 'extensions/v1beta1' },
      status: 'Progressing',
    },
    { name: 'Namespace Active: Healthy', obj: namespace({ phase: 'Active' }), status: 'Healthy' },
    {
      name: 'Namespace Terminating: Progressing naming what blocks it',
      obj: namespace(
        {
          phase: 'Terminating',
          conditions: [
            cond(
              'NamespaceDeletionDiscoveryFailure',
              'False',
              'ResourcesDiscovered',
              'All resources successfully discovered',
            ),
            cond(
              'NamespaceContentRemaining',
              'True',
              'SomeResourcesRemain',
              'Some resources are remaining: pods. has 2 resource instances',
            ),
          ],
        },
        { deletionTimestamp: T },
      ),
      status: 'Progressing',
      message: 'terminating: SomeResourcesRemain: Some resources are remaining: pods.',
    },
  ]);
});

// --- API extensions and autoscaling ---------------------------------------

function crd(conditions: Json[] | undefined): KubeObject {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: meta('widgets.example.com', undefined, { generation: 1 }),
    spec: {
      group: 'example.com',
      names: { kind: 'Widget', plural: 'widgets', singular: 'widget', listKind: 'WidgetList' },
      scope: 'Namespaced',
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: { openAPIV3Schema: { type: 'object' } },
        },
      ],
    },
    status: conditions
      ? { conditions, acceptedNames: { kind: 'Widget', plural: 'widgets' }, storedVersions: ['v1'] }
      : {},
  };
}

function hpa(
  conditions: Json[] | undefined,
  apiVersion = 'autoscaling/v2',
  annotations?: Json,
): KubeObject {
  return {
    apiVersion,
    kind: 'HorizontalPodAutoscaler',
    metadata: meta('web', 'prod', annotations ? { annotations } : {}),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
      minReplicas: 2,
      maxReplicas: 10,
    },
    status: {
      currentReplicas: 2,
      desiredReplicas: 2,
      ...(conditions ? { conditions } : {}),
    },
  };
}

function apiService(conditions: Json[] | undefined): KubeObject {
  return {
    apiVersion: 'apiregistration.k8s.io/v1',
    kind: 'APIService',
    metadata: meta('v1beta1.metrics.k8s.io', undefined),
    spec: {
      group: 'metrics.k8s.io',
      version: 'v1beta1',
      service: { name: 'metrics-server', namespace: 'kube-system', port: 443 },
      groupPriorityMinimum: 100,
      versionPriority: 100,
    },
    status: conditions ? { conditions } : {},
  };
}

describe('CustomResourceDefinition, HorizontalPodAutoscaler, APIService', () => {
  check([
    {
      name: 'CRD Established: Healthy',
      obj: crd([
        cond('NamesAccepted', 'True', 'NoConflicts', 'no conflicts found'),
        cond('Established', 'True', 'InitialNamesAccepted', 'the initial names have been accepted'),
      ]),
      status: 'Healthy',
      message: 'established',
    },
    {
      name: 'CRD names conflict: Degraded',
      obj: crd([
        cond('NamesAccepted', 'False', 'AllowedNames', '"widgets" is already in use'),
        cond('Established', 'False', 'NotAccepted', 'not all names are accepted'),
      ]),
      status: 'Degraded',
      message: 'names not accepted: AllowedNames: "widgets" is already in use',
    },
    {
      name: 'CRD installing: Progressing',
      obj: crd([
        cond('NamesAccepted', 'True', 'NoConflicts'),
        cond('Established', 'False', 'Installing', 'the initial names have been accepted'),
      ]),
      status: 'Progressing',
      message: 'waiting for the CRD to be established',
    },
    {
      name: 'CRD without conditions yet: Progressing',
      obj: crd(undefined),
      status: 'Progressing',
    },
    {
      name: 'HPA scaling, limited by maxReplicas: Healthy',
      obj: hpa([
        cond('AbleToScale', 'True', 'ReadyForNewScale', 'recommended size matches current size'),
        cond(
          'ScalingActive',
          'True',
          'ValidMetricFound',
          'the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)',
        ),
        cond(
          'ScalingLimited',
          'True',
          'TooManyReplicas',
          'the desired replica count is more than the maximum replica count',
        ),
      ]),
      status: 'Healthy',
      message: '2 replicas',
    },
    {
      name: 'HPA cannot read metrics: Degraded',
      obj: hpa([
        cond(
          'AbleToScale',
          'True',
          'SucceededGetScale',
          "the HPA controller was able to get the target's current scale",
        ),
        cond(
          'ScalingActive',
          'False',
          'FailedGetResourceMetric',
          'the HPA was unable to compute the replica count: failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API',
        ),
      ]),
      status: 'Degraded',
      message:
        'ScalingActive: FailedGetResourceMetric: the HPA was unable to compute the replica count',
    },
    {
      name: 'HPA cannot read its target: Degraded',
      obj: hpa([
        cond(
          'AbleToScale',
          'False',
          'FailedGetScale',
          'the HPA controller was unable to get the target\'s current scale: deployments/scale.apps "web" not found',
        ),
      ]),
      status: 'Degraded',
      message: 'AbleToScale: FailedGetScale',
    },
    {
      name: 'HPA target scaled to zero: Suspended',
      obj: hpa([
        cond('AbleToScale', 'True', 'SucceededGetScale'),
        cond(
          'ScalingActive',
          'False',
          'ScalingDisabled',
          'scaling is disabled since the replica count of the target is zero',
        ),
      ]),
      status: 'Suspended',
      message: 'autoscaling disabled',
    },
    {
      name: 'HPA without conditions yet: Progressing',
      obj: hpa(undefined),
      status: 'Progressing',
      message: 'waiting for the autoscaler to compute metrics',
    },
    {
      name: 'HPA read as autoscaling/v1 (conditions in an annotation): Degraded',
      obj: hpa(undefined, 'autoscaling/v1', {
        'autoscaling.alpha.kubernetes.io/conditions': JSON.stringify([
          cond('AbleToScale', 'True', 'SucceededGetScale'),
          cond('ScalingActive', 'False', 'FailedGetResourceMetric', 'missing request for cpu'),
        ]),
      }),
      status: 'Degraded',
      message: 'FailedGetResourceMetric: missing request for cpu',
    },
    {
      name: 'APIService local: Healthy',
      obj: apiService([
        cond('Available', 'True', 'Local', 'Local APIServices are always available'),
      ]),
      status: 'Healthy',
    },
    {
      name: 'APIService without endpoints: Progressing',
      obj: apiService([
        cond(
          'Available',
          'False',
          'MissingEndpoints',
          'endpoints for service/metrics-server in "kube-system" have no addresses',
        ),
      ]),
      status: 'Progressing',
      message: 'not available: MissingEndpoints',
    },
    {
      name: 'APIService without status: Progressing',
      obj: apiService(undefined),
      status: 'Progressing',
    },
  ]);
});

// --- everything else -------------------------------------------------------

function custom(status: Json | undefined, extra: Json = {}): KubeObject {
  return {
    apiVersion: 'example.com/v1',
    kind: 'Widget',
    metadata: meta('blue', 'prod', { generation: 3, ...extra }),
    spec: { size: 2 },
    ...(status ? { status } : {}),
  };
}

describe('generic (custom resources and kinds without rules)', () => {
  check([
    {
      name: 'ConfigMap (no status): Healthy',
      obj: {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: meta('settings', 'prod'),
        data: { a: '1' },
      },
      status: 'Healthy',
    },
    {
      name: 'Secret (no status): Healthy',
      obj: {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: meta('creds', 'prod'),
        type: 'Opaque',
        data: {},
      },
      status: 'Healthy',
    },
    {
      name: 'ServiceAccount: Healthy',
      obj: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta('web', 'prod') },
      status: 'Healthy',
    },
    {
      name: 'Role: Healthy',
      obj: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: meta('reader', 'prod'),
        rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }],
      },
      status: 'Healthy',
    },
    { name: 'custom resource without status: Healthy', obj: custom(undefined), status: 'Healthy' },
    { name: 'custom resource with empty status: Healthy', obj: custom({}), status: 'Healthy' },
    {
      name: 'being deleted with finalizers: Progressing naming them',
      obj: custom(
        { observedGeneration: 3 },
        { deletionTimestamp: T, finalizers: ['example.com/cleanup'] },
      ),
      status: 'Progressing',
      message: 'being deleted, waiting for finalizers: example.com/cleanup',
    },
    {
      name: 'observedGeneration behind: Progressing',
      obj: custom({ observedGeneration: 2, conditions: [cond('Ready', 'True', 'Succeeded')] }),
      status: 'Progressing',
      message: 'observed generation 2 < generation 3',
    },
    {
      name: 'Ready=True: Healthy',
      obj: custom({
        observedGeneration: 3,
        conditions: [
          cond('Ready', 'True', 'ReconciliationSucceeded', 'Applied revision: main@sha1:0a1b2c'),
        ],
      }),
      status: 'Healthy',
      message: 'Applied revision',
    },
    {
      name: 'Ready=False with a failure reason: Degraded',
      obj: custom({
        observedGeneration: 3,
        conditions: [
          cond(
            'Ready',
            'False',
            'InstallFailed',
            'Helm install failed: timed out waiting for the condition',
          ),
        ],
      }),
      status: 'Degraded',
      message: 'not ready: InstallFailed: Helm install failed',
    },
    {
      name: 'Ready=False while progressing: Progressing',
      obj: custom({
        observedGeneration: 3,
        conditions: [cond('Ready', 'False', 'Progressing', 'Reconciliation in progress')],
      }),
      status: 'Progressing',
      message: 'not ready: Progressing: Reconciliation in progress',
    },
    {
      name: 'Ready=False waiting on a dependency: Progressing',
      obj: custom({
        observedGeneration: 3,
        conditions: [
          cond(
            'Ready',
            'False',
            'DependencyNotReady',
            "dependency 'flux-system/infra' is not ready",
          ),
        ],
      }),
      status: 'Progressing',
      message: 'DependencyNotReady',
    },
    {
      name: 'Ready=False with an unrecognised reason: Degraded',
      obj: custom({
        observedGeneration: 3,
        conditions: [cond('Ready', 'False', 'Unavailable', 'backend down')],
      }),
      status: 'Degraded',
      message: 'not ready: Unavailable: backend down',
    },
    {
      name: 'Ready=Unknown: Progressing',
      obj: custom({
        observedGeneration: 3,
        conditions: [cond('Ready', 'Unknown', 'Progressing', 'reconciliation in progress')],
      }),
      status: 'Progressing',
      message: 'readiness unknown',
    },
    {
      name: 'Reconciling=True (kstatus): Progressing even with Ready Unknown',
      obj: custom({
        observedGeneration: 3,
        conditions: [
          cond(
            'Reconciling',
            'True',
            'Progressing',
            'Fetching manifests for revision main@sha1:0a1b2c',
          ),
          cond('Ready', 'Unknown', 'Progressing', 'Reconciliation in progress'),
        ],
      }),
      status: 'Progressing',
      message: 'reconciling: Progressing: Fetching manifests',
    },
    {
      name: 'Stalled=True (kstatus): Degraded',
      obj: custom({
        observedGeneration: 3,
        conditions: [
          cond('Stalled', 'True', 'InvalidPath', 'path "./deploy" not found'),
          cond('Ready', 'False', 'InvalidPath', 'path "./deploy" not found'),
        ],
      }),
      status: 'Degraded',
      message: 'Stalled: InvalidPath: path "./deploy" not found',
    },
    {
      name: 'Failed=True: Degraded',
      obj: custom({
        observedGeneration: 3,
        conditions: [cond('Failed', 'True', 'QuotaExceeded', 'no capacity')],
      }),
      status: 'Degraded',
      message: 'Failed: QuotaExceeded: no capacity',
    },
    {
      name: 'Progressing=True without Ready: Progressing',
      obj: custom({
        observedGeneration: 3,
        conditions: [cond('Progressing', 'True', 'Provisioning', 'creating disks')],
      }),
      status: 'Progressing',
      message: 'progressing: Provisioning: creating disks',
    },
    {
      name: 'Progressing=True with Available=True (rollout done): Healthy',
      obj: custom({
        observedGeneration: 3,
        conditions: [
          cond('Available', 'True', 'MinimumReplicasAvailable'),
          cond('Progressing', 'True', 'NewReplicaSetAvailable'),
        ],
      }),
      status: 'Healthy',
    },
    {
      name: 'status without conditions: Healthy',
      obj: custom({ observedGeneration: 3, phase: 'Active', endpoints: 2 }),
      status: 'Healthy',
    },
    {
      name: 'a LIST item without apiVersion/kind: Unknown, says why',
      obj: { metadata: meta('web', 'prod'), status: { phase: 'Running' } } as unknown as KubeObject,
      status: 'Unknown',
      message: 'object has no apiVersion/kind',
    },
    {
      name: 'a Deployment kind in another group is read generically',
      obj: { ...custom({ conditions: [cond('Ready', 'True')] }), kind: 'Deployment' },
      status: 'Healthy',
    },
  ]);
});

// --- app health -----------------------------------------------------------

const H = (status: HealthStatus, message?: string, recheckAfterMs?: number): HealthResult => ({
  status,
  ...(message ? { message } : {}),
  ...(recheckAfterMs ? { recheckAfterMs } : {}),
});

describe('appHealth', () => {
  it('is Healthy when every object is', () => {
    const r = appHealth([
      { key: 'apps/Deployment/prod/web', health: H('Healthy', '3 of 3 replicas available') },
      { key: '/ConfigMap/prod/settings', health: H('Healthy') },
    ]);
    expect(r).toEqual({ status: 'Healthy', message: '2 objects healthy' });
  });

  it('is Healthy with no objects', () => {
    expect(appHealth([]).status).toBe('Healthy');
  });

  it('is the worst of its objects and names the unhealthy ones, worst first', () => {
    const objects: ObjectHealth[] = [
      { key: '/ConfigMap/prod/settings', health: H('Healthy') },
      {
        key: 'apps/Deployment/prod/web',
        health: H(
          'Progressing',
          'waiting for rollout: 1 of 3 updated replicas are available',
          5_000,
        ),
      },
      {
        key: '/PersistentVolumeClaim/prod/data',
        health: H('Progressing', 'waiting for a volume to bind', 15_000),
      },
      {
        key: 'batch/Job/prod/migrate',
        health: H('Degraded', 'BackoffLimitExceeded: Job has reached the specified backoff limit'),
      },
    ];
    const r = appHealth(objects);
    expect(r.status).toBe('Degraded');
    expect(r.message).toBe(
      '3 of 4 objects not healthy: Job/prod/migrate Degraded (BackoffLimitExceeded: Job has reached the specified backoff limit); ' +
        'Deployment/prod/web Progressing (waiting for rollout: 1 of 3 updated replicas are available); ' +
        'PersistentVolumeClaim/prod/data Progressing (waiting for a volume to bind)',
    );
    // Still rolling out somewhere: look again at the soonest recheck.
    expect(r.recheckAfterMs).toBe(5_000);
  });

  it('lists at most three objects and counts the rest', () => {
    const objects = ['a', 'b', 'c', 'd', 'e'].map((n) => ({
      key: `apps/Deployment/prod/${n}`,
      health: H('Progressing', 'waiting', 10_000),
    }));
    const r = appHealth(objects);
    expect(r.status).toBe('Progressing');
    expect(r.message).toMatch(
      /^5 of 5 objects not healthy: Deployment\/prod\/a Progressing \(waiting\);/,
    );
    expect(r.message).toMatch(/; and 2 more$/);
    expect(r.recheckAfterMs).toBe(10_000);
  });

  it('reports Suspended without a recheck', () => {
    const r = appHealth([
      { key: 'apps/Deployment/prod/web', health: H('Suspended', 'rollout paused (spec.paused)') },
      { key: '/Service/prod/web', health: H('Healthy') },
    ]);
    expect(r).toEqual({
      status: 'Suspended',
      message:
        '1 of 2 objects not healthy: Deployment/prod/web Suspended (rollout paused (spec.paused))',
    });
  });

  it('ranks Missing above Progressing and shows cluster-scoped keys without a namespace', () => {
    const r = appHealth([
      { key: '/Namespace//prod', health: H('Progressing', 'terminating', 5_000) },
      {
        key: 'apiextensions.k8s.io/CustomResourceDefinition//widgets.example.com',
        health: H('Missing'),
      },
    ]);
    expect(r.status).toBe('Missing');
    expect(r.message).toBe(
      '2 of 2 objects not healthy: CustomResourceDefinition/widgets.example.com Missing; Namespace/prod Progressing (terminating)',
    );
  });

  it('leaves out objects not evaluated yet and shows other keys as they are', () => {
    const r = appHealth([
      { key: 'apps/Deployment/prod/web' },
      { key: 'hook:migrate', health: H('Degraded', 'failed') },
    ]);
    expect(r).toEqual({
      status: 'Degraded',
      message: '1 of 1 objects not healthy: hook:migrate Degraded (failed)',
    });
  });

  it('takes evaluateHealth results directly', () => {
    const web = deployment({ status: { availableReplicas: 2 } });
    const r = appHealth([{ key: 'apps/Deployment/prod/web', health: evaluateHealth(web) }]);
    expect(r.status).toBe('Progressing');
    expect(r.message).toContain(
      'Deployment/prod/web Progressing (waiting for rollout: 2 of 3 updated',
    );
    expect(r.recheckAfterMs).toBe(5_000);
  });
});
