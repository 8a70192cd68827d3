// `driftless validate` as a user runs it in pull-request CI: the real binary,
// the real kubectl (kustomize) and helm, the shipped schemas, no cluster and
// no network. Each fixture (test/fixtures/validate/README.md) renders as a
// sync would; what the schemas reject is named by file, line, object and field.

import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { provideRenderTools } from '../support/render-tools.js';

const exec = promisify(execFile);
const BIN = path.resolve('scripts/driftless.mjs');
const FIXTURES = path.resolve('test/fixtures/validate');

async function validate(...args: string[]) {
  try {
    const { stdout, stderr } = await exec(
      process.execPath,
      [BIN, 'validate', '--repo', FIXTURES, ...args],
      { cwd: FIXTURES, env: { ...process.env, NO_COLOR: '1' }, timeout: 120_000 },
    );
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

/** The `error …` lines, in order. */
function errors(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('error '));
}

beforeAll(async () => {
  await provideRenderTools();
});

describe('driftless validate', () => {
  it('passes a plain directory, and names the one error of each invalid file', async () => {
    expect(await validate('directory/valid')).toMatchObject({ code: 0 });
    const r = await validate('directory/invalid');
    expect(r.code).toBe(1);
    expect(errors(r.stderr)).toEqual([
      'error directory/invalid/invalid-enum.yaml:6: Service/invalid-enum: spec.type: "NotAType" is not one of "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
      'error directory/invalid/missing-required.yaml:15: Deployment/missing-required: spec.template.spec.containers[0].name: required field is missing',
      'error directory/invalid/unknown-field.yaml:17: Deployment/unknown-field: spec.template.spec.containers[0].imagePullPolicyy: unknown field "imagePullPolicyy" (did you mean "imagePullPolicy"?)',
      // A custom resource checked against its CRD from the same render.
      'error directory/invalid/widget.yaml:7: Widget/purple: spec.color: "purple" is not one of "red", "green", "blue"',
      'error directory/invalid/wrong-type.yaml:10: Service/wrong-type: spec.ports[0].port: must be an integer, not the string "80"',
    ]);
    expect(r.stderr).toMatch(/^invalid: 5 error\(s\); 6 objects in 1 render\(s\)/m);
  });

  it('renders a Kustomize overlay with its base (a kustomization is not a manifest)', async () => {
    const ok = await validate('kustomize/overlays/prod');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^valid: 5 objects in 1 render\(s\)/m);
    const bad = await validate('kustomize/overlays/invalid');
    expect(bad.code).toBe(1);
    expect(errors(bad.stderr).map((l) => l.replace(/:\d+: /, ':N: '))).toEqual([
      'error kustomize/overlays/invalid/kustomization.yaml:N: Service/web: spec.ports[0].port: must be an integer, not the string "80"',
      'error kustomize/overlays/invalid/kustomization.yaml:N: Service/web: spec.type: "NotAType" is not one of "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
      'error kustomize/overlays/invalid/kustomization.yaml:N: Deployment/web: spec.selector: required field is missing',
      'error kustomize/overlays/invalid/kustomization.yaml:N: Deployment/web: spec.template.spec.containers[0].imagePullPolicyy: unknown field "imagePullPolicyy" (did you mean "imagePullPolicy"?)',
      'error kustomize/overlays/invalid/kustomization.yaml:N: Widget/gizmo: spec.color: "purple" is not one of "red", "green", "blue"',
    ]);
  });

  it('renders a Helm chart with values files and release options', async () => {
    const ok = await validate(
      '--values',
      '../values-prod.yaml',
      '--release-name',
      'web',
      'helm/chart',
    );
    expect(ok.code).toBe(0);
    const bad = await validate('--values', '../values-invalid.yaml', 'helm/chart');
    expect(bad.code).toBe(1);
    expect(errors(bad.stderr)).toEqual([
      'error helm/chart/templates/service.yaml:9: Service/chart: spec.type: "NotAType" is not one of "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
      'error helm/chart/templates/service.yaml:15: Service/chart: spec.ports[0].port: must be an integer, not the string "http"',
      'error helm/chart/templates/deployment.yaml:30: Deployment/chart: spec.template.spec.containers[0].resources.requests.memory: the string "64 MB" is not a quantity (e.g. 500m, 1.5, 2Gi, 1e3)',
      'error helm/chart/templates/deployment.yaml:31: Deployment/chart: spec.template.spec.containers[0].imagePullPolicyy: unknown field "imagePullPolicyy" (did you mean "imagePullPolicy"?)',
    ]);
  });

  it('validates each Application of a spec file with its own source, options, namespace and policy', async () => {
    const r = await validate('-f', 'app/web.yaml');
    expect(r.code).toBe(1);
    // web (the overlay) is clean; chart renders with its own invalid values file.
    expect(errors(r.stderr)).toHaveLength(4);
    expect(errors(r.stderr).every((l) => l.startsWith('error helm/chart/templates/'))).toBe(true);
    expect(r.stderr).toMatch(/Service\/web\/chart: spec\.type:/);
    const outside = await validate('-f', 'app/outside-policy.yaml');
    expect(outside.code).toBe(1);
    expect(errors(outside.stderr)[0]).toMatch(
      /^error kustomize\/overlays\/prod\/kustomization\.yaml:\d+: .*metadata\.namespace: namespace web is not allowed for application web \(allowed: team-\*\)/,
    );
  });

  it('validates each source of a multi-source Application with its own options', async () => {
    const ok = await validate('-f', 'app/app.yaml', '-o', 'json');
    expect(ok.code).toBe(0);
    const report = JSON.parse(ok.stdout) as { targets: { target: string; type: string }[] };
    expect(report.targets.map((t) => [t.target, t.type])).toEqual([
      ['Application/web.sources[0] → dev/web', 'kustomize'],
      ['Application/web.sources[1] → dev/web', 'helm'],
    ]);
    // The invalid overlay and the chart with its own invalid values file: both found.
    const bad = await validate('-f', 'app/app-invalid.yaml');
    expect(bad.code).toBe(1);
    const found = errors(bad.stderr);
    expect(found.filter((l) => l.startsWith('error kustomize/overlays/invalid/'))).toHaveLength(5);
    expect(found.filter((l) => l.startsWith('error helm/chart/templates/'))).toHaveLength(4);
    expect(bad.stderr).toMatch(/Service\/web\/web-chart: spec\.type:/);
  });

  it('checks SOPS-encrypted files for well-formed metadata without decrypting them', async () => {
    const good = await validate('sops/good');
    expect(good.code).toBe(0);
    expect(good.stdout).toMatch(/1 encrypted files \(metadata only\)/);
    const bad = await validate('sops/bad');
    expect(bad.code).toBe(1);
    expect(errors(bad.stderr)).toEqual([
      'error sops/bad/secret.yaml:10: sops.mac: the MAC is missing or not an encrypted value',
      'error sops/bad/secret.yaml:9: sops.lastmodified: lastmodified must be an RFC 3339 time',
      // (A map is located at its first field's line.)
      'error sops/bad/secret.yaml:9: sops: no master key (kms, age, pgp, gcp_kms, azure_kv or hc_vault): nobody can decrypt it',
      'error sops/bad/secret.yaml:7: stringData.password: malformed encrypted value (expected ENC[AES256_GCM,data:…,iv:…,tag:…,type:…])',
    ]);
  });

  it('prints JSON for CI and GitHub workflow annotations', async () => {
    const json = await validate('-o', 'json', 'directory/invalid');
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as {
      valid: boolean;
      kubernetesVersion: string;
      findings: { severity: string; rule: string; file: string; line: number; field?: string }[];
    };
    expect(report).toMatchObject({ valid: false, kubernetesVersion: 'v1.34.4' });
    expect(report.findings.map((f) => f.rule).sort()).toEqual([
      'enum',
      'enum',
      'required',
      'type',
      'unknown-field',
    ]);
    const gh = await validate('--github', 'directory/invalid');
    expect(gh.code).toBe(1);
    expect(gh.stdout.split('\n')).toContain(
      '::error file=directory/invalid/wrong-type.yaml,line=10,title=driftless validate%3A type::Service/wrong-type: spec.ports[0].port: must be an integer, not the string "80"',
    );
  });

  it('validates against another shipped Kubernetes version, and refuses one it does not ship', async () => {
    expect((await validate('--kubernetes-version', '1.34', 'directory/valid')).code).toBe(0);
    const r = await validate('--kubernetes-version', '1.20', 'directory/valid');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: .*1\.20/m);
  });
});
