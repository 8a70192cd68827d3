// Pods: the phase says most of it, container states say why a pod that is
// not Failed will still never become ready (a crash loop, an image that
// cannot be pulled, a missing ConfigMap key).

import type { KubeObject } from '../model/object.js';
import type { HealthResult } from '../model/status.js';
import {
  condition,
  conditions,
  counted,
  type Fields,
  fields,
  num,
  records,
  str,
} from './fields.js';
import { degraded, healthy, progressing, RECHECK_MS, unknown } from './result.js';

interface ContainerView {
  /** `container web` or `init container migrate`: how messages name it. */
  label: string;
  init: boolean;
  ready: boolean;
  restartCount: number;
  waiting?: { reason: string; message?: string };
  terminated?: Terminated;
  lastTerminated?: Terminated;
}

interface Terminated {
  reason?: string;
  message?: string;
  exitCode?: number;
}

/**
 * Waiting reasons the kubelet will not get out of by itself: the pod needs a
 * fix (image, config, command). Other waiting reasons (ContainerCreating,
 * PodInitializing) are part of starting up.
 */
const STUCK_WAITING_REASONS = new Set([
  'CrashLoopBackOff',
  'ImagePullBackOff',
  'ErrImagePull',
  'ErrImageNeverPull',
  'InvalidImageName',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
  'PreStartHookError',
  'PostStartHookError',
]);

function isStuck(reason: string): boolean {
  // Runtimes add their own *BackOff / *Error reasons; treat them alike.
  return STUCK_WAITING_REASONS.has(reason) || /BackOff$|Error$|^Err[A-Z]/.test(reason);
}

function terminatedOf(state: Fields): Terminated | undefined {
  const t = state.terminated;
  if (t === undefined || t === null) return undefined;
  const f = fields(state, 'terminated');
  return { reason: str(f.reason), message: str(f.message), exitCode: num(f.exitCode) };
}

function containerViews(status: Fields): ContainerView[] {
  const views: ContainerView[] = [];
  const add = (list: unknown, init: boolean) => {
    for (const c of records(list)) {
      const state = fields(c, 'state');
      const waiting = fields(state, 'waiting');
      const waitingReason = str(waiting.reason);
      views.push({
        label: `${init ? 'init container' : 'container'} ${str(c.name) ?? '?'}`,
        init,
        ready: c.ready === true,
        restartCount: num(c.restartCount) ?? 0,
        waiting: waitingReason
          ? { reason: waitingReason, message: str(waiting.message) }
          : undefined,
        terminated: terminatedOf(state),
        lastTerminated: terminatedOf(fields(c, 'lastState')),
      });
    }
  };
  add(status.initContainerStatuses, true);
  add(status.containerStatuses, false);
  return views;
}

function describeTerminated(t: Terminated): string {
  const reason = t.reason ?? 'terminated';
  const code = t.exitCode !== undefined ? ` (exit code ${t.exitCode})` : '';
  const message = t.message?.trim() ? `: ${t.message.trim()}` : '';
  return `${reason}${code}${message}`;
}

function describeWaiting(c: ContainerView): string {
  const w = c.waiting;
  if (!w) return c.label;
  return w.message?.trim()
    ? `${c.label}: ${w.reason}: ${w.message.trim()}`
    : `${c.label}: ${w.reason}`;
}

function failedPodMessage(status: Fields, containers: ContainerView[]): string {
  const reason = str(status.reason);
  const message = str(status.message);
  if (reason || message) return [reason, message].filter(Boolean).join(': ');
  const failures = containers
    .filter((c) => c.terminated && c.terminated.exitCode !== 0)
    .map((c) => `${c.label}: ${describeTerminated(c.terminated as Terminated)}`);
  return failures.length ? failures.join('; ') : 'pod failed';
}

function pendingMessage(spec: Fields, status: Fields, containers: ContainerView[]): string {
  const scheduled = condition(conditions(status), 'PodScheduled');
  if (scheduled?.status === 'False') {
    return `unschedulable: ${scheduled.message ?? scheduled.reason ?? 'no node fits'}`;
  }
  const node = str(spec.nodeName);
  if (!node && scheduled?.status !== 'True') return 'pending: waiting to be scheduled';
  const waiting = containers.filter((c) => c.waiting).map((c) => describeWaiting(c));
  if (waiting.length) return `pending: ${waiting.join('; ')}`;
  return node ? `pending: scheduled on ${node}, waiting for containers to start` : 'pending';
}

export function podHealth(obj: KubeObject): HealthResult {
  const spec = fields(obj, 'spec');
  const status = fields(obj, 'status');
  const recheck = RECHECK_MS.Pod;
  const phase = str(status.phase);
  const restartPolicy = str(spec.restartPolicy) ?? 'Always';
  const containers = containerViews(status);

  if (phase === 'Succeeded') return healthy('completed');
  if (phase === 'Failed') return degraded(failedPodMessage(status, containers));

  const stuck = containers.filter((c) => c.waiting && isStuck(c.waiting.reason));
  if (stuck.length) return degraded(stuck.map(describeWaiting).join('; '));

  if (phase === undefined || phase === 'Pending') {
    return progressing(pendingMessage(spec, status, containers), recheck);
  }
  if (phase === 'Running') {
    // Never/OnFailure pods run to completion (hooks, one-off tasks): running
    // is a step on the way, Succeeded is the healthy end.
    if (restartPolicy !== 'Always') {
      return progressing(
        `running; healthy once it succeeds (restartPolicy ${restartPolicy})`,
        recheck,
      );
    }
    if (condition(conditions(status), 'Ready')?.status === 'True') {
      return healthy('running and ready');
    }
    const notReady = containers.filter((c) => !c.init && !c.ready);
    const crashed = notReady.find((c) => c.lastTerminated && c.lastTerminated.exitCode !== 0);
    if (crashed?.lastTerminated) {
      return degraded(
        `${crashed.label}: restarted ${counted(crashed.restartCount, 'time')}, last exit: ${describeTerminated(crashed.lastTerminated)}`,
      );
    }
    const names = notReady.map((c) => c.label.replace(/^container /, '')).join(', ');
    return progressing(
      names ? `waiting for containers to be ready: ${names}` : 'waiting for the pod to be ready',
      recheck,
    );
  }
  return unknown(
    [`pod phase ${phase}`, str(status.reason), str(status.message)].filter(Boolean).join(': '),
  );
}
