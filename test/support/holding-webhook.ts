// A validating admission webhook on loopback that holds each request it gets
// until the test releases it: a request of a throttled user then stays in its
// API Priority and Fairness seat for as long as the test needs, so the
// server's 429s to that user are a state the test sets, not a race. It serves
// TLS with the test API server's own certificate (valid for 127.0.0.1).

import { readFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { AdmissionregistrationV1Api } from '@kubernetes/client-node';
import { afterAll } from 'vitest';
import { testenv, uniqueName } from './env.js';
import { kubeConfig } from './kube.js';

export interface HoldingWebhook {
  /** Requests received and not released yet. */
  readonly held: number;
  /** Admits every held request. */
  release(): void;
}

/** Holds creates of ConfigMaps labelled `label=true` in `namespace`. */
export async function holdingWebhook(namespace: string, label: string): Promise<HoldingWebhook> {
  const pki = path.dirname(testenv().kube.caCert);
  const [cert, key, ca] = await Promise.all([
    readFile(path.join(pki, 'apiserver.crt')),
    readFile(path.join(pki, 'apiserver.key')),
    readFile(testenv().kube.caCert),
  ]);
  const waiting: (() => void)[] = [];
  const server = https.createServer({ cert, key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        request: { uid: string };
      };
      waiting.push(() =>
        res.end(
          JSON.stringify({
            apiVersion: 'admission.k8s.io/v1',
            kind: 'AdmissionReview',
            response: { uid: review.request.uid, allowed: true },
          }),
        ),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const name = uniqueName('driftless-hold');
  const admission = kubeConfig().makeApiClient(AdmissionregistrationV1Api);
  await admission.createValidatingWebhookConfiguration({
    body: {
      metadata: { name },
      webhooks: [
        {
          name: 'hold.driftless.test',
          clientConfig: { url: `https://127.0.0.1:${port}/hold`, caBundle: ca.toString('base64') },
          rules: [
            {
              apiGroups: [''],
              apiVersions: ['v1'],
              operations: ['CREATE'],
              resources: ['configmaps'],
            },
          ],
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
          objectSelector: { matchLabels: { [label]: 'true' } },
          admissionReviewVersions: ['v1'],
          sideEffects: 'None',
          failurePolicy: 'Fail',
          timeoutSeconds: 30,
        },
      ],
    },
  });
  afterAll(async () => {
    for (const done of waiting.splice(0)) done();
    await admission.deleteValidatingWebhookConfiguration({ name }).catch(() => {});
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return {
    get held() {
      return waiting.length;
    },
    release() {
      for (const done of waiting.splice(0)) done();
    },
  };
}
