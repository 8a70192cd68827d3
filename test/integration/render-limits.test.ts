// The render tools' limits through the real binaries (kubectl kustomize and
// helm of the Lambda layer) and the whole engine: a render that runs past the
// timeout is killed, one whose output passes the cap is refused, and the
// status names the tool and the limit; nothing is applied. The inputs are
// real ones that make the real tools slow or large, not stand-in scripts
// (those are test/unit/source/tool.test.ts).

import { CoreV1Api } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { SourceCache } from '../../lib/source/index.js';
import { renderSource } from '../../lib/source/render.js';
import { EngineHarness } from '../support/engine.js';
import { uniqueName } from '../support/env.js';
import { kubeConfig } from '../support/kube.js';

const MiB = 1024 * 1024;
/** Small limits, so a test needs little time and memory to pass them. */
const TIMEOUT_MS = 2_000;
const CAP_BYTES = 1 * MiB;

/** ConfigMaps carrying the app's tracking label, in every namespace. */
async function labelledConfigMaps(app: string): Promise<number> {
  const list = await kubeConfig()
    .makeApiClient(CoreV1Api)
    .listConfigMapForAllNamespaces({ labelSelector: `driftless.dev/app=${app}` });
  return list.items.length;
}

/** Reconciles `path` of the harness's repository; the failed outcome, nothing applied. */
async function failedRender(h: EngineHarness, path: string) {
  await h.setApp({ namespace: 'default', source: { path } });
  const outcome = await h.reconcile();
  expect(outcome.status.operation?.phase).toBe('Failed');
  expect(outcome.status.operation?.applied ?? 0).toBe(0);
  expect(await labelledConfigMaps(h.appName)).toBe(0);
  if (!outcome.error) throw new Error(`${path} did not fail`);
  return outcome;
}

/** The app's source at `commit` rendered as the engine does, with a cap it fits in. */
async function renderWithRoom(h: EngineHarness, commit: string) {
  const app = await h.store.getApplication(h.appName);
  if (!app) throw new Error(`${h.appName} is not registered`);
  const checkout = await h.git.checkout(h.repo.url, commit);
  return renderSource(
    checkout.dir,
    app.spec.source,
    { appName: h.appName, namespace: 'default' },
    { maxOutputBytes: 8 * MiB },
  );
}

describe('the render timeout, with the real helm', () => {
  it('kills a helm template that runs past it; the status names helm template and the limit', async () => {
    const h = await EngineHarness.create(uniqueName('slow-chart'), {
      renderer: new SourceCache({ timeoutMs: TIMEOUT_MS }),
    });
    await h.repo.commit({
      'slow/Chart.yaml': 'apiVersion: v2\nname: slow\nversion: 0.1.0\n',
      // 10^12 iterations of Go templating: years of work, and no output.
      'slow/templates/cm.yaml':
        '{{- range $i := until 1000000 }}{{- range $j := until 1000000 }}{{- end }}{{- end }}\n' +
        'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: never }\n',
    });
    const outcome = await failedRender(h, 'slow');
    // The reconcile returned: runTool waits for the process to exit, and this
    // one would not have by itself.
    const message = `helm template did not finish within ${TIMEOUT_MS / 1000} s and was killed`;
    expect(outcome.error).toMatchObject({
      reason: 'RenderFailed',
      message,
      location: { file: 'slow/Chart.yaml' },
    });
    expect(outcome.status.operation).toMatchObject({ reason: 'RenderFailed' });
    expect(outcome.status.operation?.message).toContain(message);
  });
});

describe('the render output cap, with the real kubectl kustomize and helm', () => {
  it('refuses a kustomization whose generated ConfigMap passes the cap, naming kustomize and the cap', async () => {
    const h = await EngineHarness.create(uniqueName('big-kustomize'), {
      renderer: new SourceCache({ maxOutputBytes: CAP_BYTES }),
    });
    // A 2 MiB file becomes one ConfigMap's data: kustomize's output is larger still.
    const line = `${'0123456789abcdef'.repeat(4)}\n`;
    const payload = line.repeat((2 * MiB) / line.length);
    const commit = await h.repo.commit({
      'big/kustomization.yaml':
        'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n' +
        'configMapGenerator:\n  - name: huge\n    files: [payload.txt]\n',
      'big/payload.txt': payload,
    });
    const outcome = await failedRender(h, 'big');
    const message = 'kubectl kustomize wrote more than 1 MiB of output and was killed';
    expect(outcome.error).toMatchObject({
      reason: 'RenderFailed',
      message,
      location: { file: 'big/kustomization.yaml' },
    });
    expect(outcome.status.operation?.message).toContain(message);

    // With room, the same kustomization renders: the ConfigMap holds the whole file.
    const rendered = await renderWithRoom(h, commit);
    expect(rendered).toHaveLength(1);
    expect(rendered[0]?.object.data).toEqual({ 'payload.txt': payload });
  });

  it('refuses a chart whose templates write past the cap, naming helm template and the cap', async () => {
    const h = await EngineHarness.create(uniqueName('big-chart'), {
      renderer: new SourceCache({ maxOutputBytes: CAP_BYTES }),
    });
    const commit = await h.repo.commit({
      'big/Chart.yaml': 'apiVersion: v2\nname: big\nversion: 0.1.0\n',
      // 2,000 ConfigMaps of about 1 KiB each: some 2 MiB (within the object limit).
      'big/templates/cms.yaml':
        '{{- range $i := until 2000 }}\n---\napiVersion: v1\nkind: ConfigMap\n' +
        'metadata: { name: "cm-{{ $i }}" }\ndata: { value: {{ repeat 1000 "x" | quote }} }\n' +
        '{{- end }}\n',
    });
    const outcome = await failedRender(h, 'big');
    const message = 'helm template wrote more than 1 MiB of output and was killed';
    expect(outcome.error).toMatchObject({
      reason: 'RenderFailed',
      message,
      location: { file: 'big/Chart.yaml' },
    });
    expect(outcome.status.operation?.message).toContain(message);

    // The input, not the tool, passed the cap: with room, the same chart renders.
    expect(await renderWithRoom(h, commit)).toHaveLength(2_000);
  });
});
