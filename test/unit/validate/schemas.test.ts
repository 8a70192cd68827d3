// The shipped schema bundle: it is the pinned Kubernetes version's, it has
// what validation needs (kinds with scope, enums the JSON in the Go module
// lacks), and the extraction script's parts read the Go and JSON sources
// correctly. Re-extracting is `npx tsx scripts/schemas.ts --check`, not a test.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bundleFromOpenApi } from '../../../lib/validate/openapi.js';
import { loadShippedSchemas } from '../../../lib/validate/schemas.js';
import {
  kubernetesMinor,
  PINNED_KUBERNETES_VERSION,
  SHIPPED_KUBERNETES_MINORS,
} from '../../../lib/validate/versions.js';
import {
  enumsOfGeneratedOpenApi,
  pinnedKubernetesVersion,
  restFriendlyName,
  restoreEnums,
} from '../../../scripts/schemas.js';
import { rejection, thrown } from '../../support/errors.js';

describe('the shipped schema bundle', () => {
  it('is for the Kubernetes version the project pins', async () => {
    const libSh = readFileSync(new URL('../../../scripts/lib.sh', import.meta.url), 'utf8');
    expect(libSh).toContain(`KUBERNETES_VERSION="${PINNED_KUBERNETES_VERSION}"`);
    expect(pinnedKubernetesVersion()).toBe(PINNED_KUBERNETES_VERSION);
    expect(SHIPPED_KUBERNETES_MINORS).toContain(kubernetesMinor(PINNED_KUBERNETES_VERSION));
    const schemas = await loadShippedSchemas();
    expect(schemas.kubernetesVersion).toBe(PINNED_KUBERNETES_VERSION);
    expect(schemas.origin).toBe('shipped');
  });

  it('knows each kind with its scope and whether status is a subresource', async () => {
    const schemas = await loadShippedSchemas('1.34');
    expect(schemas.kind('apps/v1', 'Deployment')).toEqual({
      definition: 'io.k8s.api.apps.v1.Deployment',
      namespaced: true,
      statusSubresource: true,
    });
    expect(schemas.isNamespaced('v1', 'Namespace')).toBe(false);
    expect(schemas.isNamespaced('rbac.authorization.k8s.io/v1', 'ClusterRole')).toBe(false);
    expect(schemas.kind('v1', 'ConfigMap')?.statusSubresource).toBe(false);
    expect(schemas.kind('apiextensions.k8s.io/v1', 'CustomResourceDefinition')).toMatchObject({
      namespaced: false,
      statusSubresource: true,
    });
    expect(schemas.kind('apiregistration.k8s.io/v1', 'APIService')).toMatchObject({
      namespaced: false,
      statusSubresource: true,
    });
    expect(schemas.kind('extensions/v1beta1', 'Ingress')).toBeUndefined();
    expect(schemas.apiVersionsOf('HorizontalPodAutoscaler').sort()).toEqual([
      'autoscaling/v1',
      'autoscaling/v2',
    ]);
  });

  it('has the enums the API server serves, which the Go module JSON strips', async () => {
    const { bundle } = await loadShippedSchemas();
    const spec = bundle.definitions['io.k8s.api.core.v1.ServiceSpec'];
    expect(spec?.properties?.type?.enum).toEqual([
      'ClusterIP',
      'ExternalName',
      'LoadBalancer',
      'NodePort',
    ]);
    const port = bundle.definitions['io.k8s.api.core.v1.ServicePort'];
    expect(port?.required).toEqual(['port']);
    expect(port?.properties?.protocol).toEqual({
      type: 'string',
      enum: ['SCTP', 'TCP', 'UDP'],
      default: 'TCP', // a list key's default: server-side apply keys ports by port and protocol
    });
    expect(spec?.properties?.ports?.['x-kubernetes-list-map-keys']).toEqual(['port', 'protocol']);
    // Only what validation needs: no descriptions, no defaults of non-key fields.
    const text = JSON.stringify(bundle);
    expect(text).not.toMatch(/"description":"/);
    expect(port?.properties?.nodePort).toEqual({ type: 'integer', format: 'int32' });
  });

  it('names versions by their minor and refuses one it does not ship', async () => {
    expect(kubernetesMinor('v1.34.4')).toBe('v1.34');
    expect(kubernetesMinor('1.34')).toBe('v1.34');
    expect(thrown(() => kubernetesMinor('latest')).message).toMatch(/not valid \(use e\.g\. 1\.34/);
    const e = await rejection(loadShippedSchemas('1.20'));
    expect(e.reason).toBe('InvalidSpec');
    expect(e.message).toBe(
      'no schemas for Kubernetes v1.20 (shipped: v1.34; scripts/schemas.ts extracts another version)',
    );
  });
});

describe('schema extraction', () => {
  const generated = `func GetOpenAPIDefinitions(ref common.ReferenceCallback) map[string]common.OpenAPIDefinition {
	return map[string]common.OpenAPIDefinition{
		"k8s.io/api/core/v1.ServiceSpec":    schema_k8sio_api_core_v1_ServiceSpec(ref),
	}
}

func schema_k8sio_api_core_v1_ServiceSpec(ref common.ReferenceCallback) common.OpenAPIDefinition {
	return common.OpenAPIDefinition{
		Schema: spec.Schema{
			SchemaProps: spec.SchemaProps{
				Description: "a { brace } in a \\"string\\"",
				Type:        []string{"object"},
				Properties: map[string]spec.Schema{
					"ipFamilies": {
						VendorExtensible: spec.VendorExtensible{
							Extensions: spec.Extensions{
								"x-kubernetes-list-type": "atomic",
							},
						},
						SchemaProps: spec.SchemaProps{
							Type: []string{"array"},
							Items: &spec.SchemaOrArray{
								Schema: &spec.Schema{
									SchemaProps: spec.SchemaProps{
										Default: "",
										Type:    []string{"string"},
										Enum:    []interface{}{"", "IPv4", "IPv6"},
									},
								},
							},
						},
					},
					"type": {
						SchemaProps: spec.SchemaProps{
							Description: "}}}",
							Type:        []string{"string"},
							Enum:        []interface{}{"ClusterIP", "NodePort"},
						},
					},
				},
			},
		},
	}
}
`;

  it('finds every enum of openapi-gen output where the definition has it', () => {
    expect(enumsOfGeneratedOpenApi(generated)).toEqual([
      {
        definition: 'io.k8s.api.core.v1.ServiceSpec',
        path: ['properties', 'ipFamilies', 'items'],
        values: ['', 'IPv4', 'IPv6'],
      },
      {
        definition: 'io.k8s.api.core.v1.ServiceSpec',
        path: ['properties', 'type'],
        values: ['ClusterIP', 'NodePort'],
      },
    ]);
    expect(restFriendlyName('k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1.JSON')).toBe(
      'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON',
    );
  });

  it('puts enums back into every document and kinds come from the paths', () => {
    const doc = () => ({
      paths: {
        '/api/v1/namespaces/{namespace}/services': {
          post: {
            'x-kubernetes-group-version-kind': { group: '', version: 'v1', kind: 'Service' },
            requestBody: {
              content: {
                '*/*': { schema: { $ref: '#/components/schemas/io.k8s.api.core.v1.Service' } },
              },
            },
          },
        },
        '/api/v1/namespaces/{namespace}/services/{name}/status': {},
      },
      components: {
        schemas: {
          'io.k8s.api.core.v1.Service': {
            type: 'object',
            description: 'dropped',
            properties: {
              spec: {
                allOf: [{ $ref: '#/components/schemas/io.k8s.api.core.v1.ServiceSpec' }],
                default: {},
              },
            },
          },
          'io.k8s.api.core.v1.ServiceSpec': {
            type: 'object',
            properties: {
              type: { type: 'string', description: 'x' },
              ipFamilies: { type: 'array', items: { type: 'string', default: '' } },
            },
          },
        },
      },
    });
    const docs = [doc(), doc()];
    expect(restoreEnums(docs, enumsOfGeneratedOpenApi(generated))).toEqual({
      restored: 2,
      absent: 0,
    });
    expect(bundleFromOpenApi(docs, 'v1.34.4')).toEqual({
      format: 1,
      kubernetesVersion: 'v1.34.4',
      kinds: {
        v1: {
          Service: {
            definition: 'io.k8s.api.core.v1.Service',
            namespaced: true,
            statusSubresource: true,
          },
        },
      },
      definitions: {
        'io.k8s.api.core.v1.Service': {
          type: 'object',
          properties: { spec: { $ref: 'io.k8s.api.core.v1.ServiceSpec' } },
        },
        'io.k8s.api.core.v1.ServiceSpec': {
          type: 'object',
          properties: {
            type: { type: 'string', enum: ['ClusterIP', 'NodePort'] },
            ipFamilies: { type: 'array', items: { type: 'string', enum: ['', 'IPv4', 'IPv6'] } },
          },
        },
      },
    });
    const broken = enumsOfGeneratedOpenApi(generated.replace('"type": {', '"kind": {'));
    expect(() => restoreEnums([doc()], broken)).toThrow(
      'enum of io.k8s.api.core.v1.ServiceSpec at properties.kind: no such schema in the JSON',
    );
  });
});
