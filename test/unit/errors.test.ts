import { describe, expect, it } from 'vitest';
import { asDriftlessError, DriftlessError, httpStatusFor, isRetryable } from '../../lib/errors.js';
import { describeObject, objectKey, parseRefKey, refOf } from '../../lib/model/object.js';

describe('DriftlessError', () => {
  it('says where: file, line, object and field before the message', () => {
    const e = new DriftlessError('InvalidManifest', 'must be an integer', {
      file: 'apps/web/deploy.yaml',
      line: 12,
      object: 'Deployment/prod/web',
      field: 'spec.replicas',
    });
    expect(e.describe()).toBe(
      'apps/web/deploy.yaml:12: Deployment/prod/web: spec.replicas: must be an integer',
    );
    expect(e.toJSON()).toMatchObject({ reason: 'InvalidManifest', line: 12 });
  });

  it('wraps foreign errors with a fallback reason and keeps its own', () => {
    const own = new DriftlessError('ClusterUnreachable', 'connect ECONNREFUSED');
    expect(asDriftlessError(own)).toBe(own);
    const wrapped = asDriftlessError(new TypeError('boom'), 'ApplyRejected');
    expect(wrapped.reason).toBe('ApplyRejected');
    expect(wrapped.cause).toBeInstanceOf(TypeError);
  });
});

describe('object identity', () => {
  it('keys core and grouped objects by group, kind, namespace and name', () => {
    const deploy = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'prod' },
    };
    const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'prod' } };
    expect(objectKey(deploy)).toBe('apps/Deployment/prod/web');
    expect(objectKey(ns)).toBe('/Namespace//prod');
    expect(parseRefKey(objectKey(deploy))).toEqual(refOf(deploy));
    expect(describeObject(ns)).toBe('Namespace/prod');
    expect(describeObject(deploy)).toBe('Deployment/prod/web');
  });
});

describe('what a reason means', () => {
  it('is retryable only when a repeat may succeed: the network, the cluster, the source, the lease, the deadline', () => {
    const retryable = [
      'ClusterUnreachable',
      'ClusterThrottled',
      'ClusterDeferred',
      'SourceUnavailable',
      'LeaseHeld',
      'DeadlineExceeded',
      'Internal',
    ] as const;
    for (const r of retryable) expect(isRetryable(r), r).toBe(true);
    const final = [
      'InvalidSpec',
      'InvalidManifest',
      'RenderFailed',
      'DecryptionFailed',
      'Unauthorized',
      'Forbidden',
      'AccessDenied',
      'NotFound',
      'UnknownKind',
      'ApplyRejected',
      'PruneRefused',
      'HookFailed',
    ] as const;
    for (const r of final) expect(isRetryable(r), r).toBe(false);
  });

  it("maps to the status API's HTTP status: the caller's mistakes 4xx, what lies behind the API 502", () => {
    expect(httpStatusFor('InvalidSpec')).toBe(400);
    expect(httpStatusFor('InvalidManifest')).toBe(400);
    expect(httpStatusFor('AccessDenied')).toBe(403);
    expect(httpStatusFor('NotFound')).toBe(404);
    expect(httpStatusFor('ClusterUnreachable')).toBe(502);
    expect(httpStatusFor('SourceUnavailable')).toBe(502);
    expect(httpStatusFor('Forbidden')).toBe(502);
  });
});
