// driftless clusters list | add | remove NAME

import path from 'node:path';
import type { ClusterListResponse } from '../../api/contract.js';
import type { DriftlessClient } from '../client.js';
import { arg, type Command, type CommandContext, type Flags, UsageError } from '../command.js';
import { emit, type Printer, paint } from '../output.js';
import { applySpecs } from './apps.js';

export const clusters: Command = {
  name: 'clusters',
  async run(ctx: CommandContext): Promise<number> {
    const [sub] = ctx.args;
    const { p } = ctx;
    const client = ctx.client();
    if (sub === 'list') return clustersList(p, client);
    if (sub === 'add') return clustersAdd(p, client, ctx.flags, ctx.args[1]);
    if (sub === 'remove') {
      const name = arg(ctx.args, 1, 'cluster name');
      await client.request('DELETE', `/clusters/${name}`);
      p.out(`cluster ${name} removed`);
      return 0;
    }
    throw new UsageError(`unknown command: clusters ${sub ?? ''}`);
  },
};

async function clustersList(p: Printer, client: DriftlessClient): Promise<number> {
  const { items } = await client.request<ClusterListResponse>('GET', '/clusters', undefined, {
    limit: '500',
  });
  emit(
    p,
    items,
    ['NAME', 'TYPE', 'WHERE'],
    items.map((c) => [
      c.metadata.name,
      c.spec.eks ? 'eks' : 'kubeconfig',
      c.spec.eks
        ? `${c.spec.eks.name} (${c.spec.eks.region})${c.spec.eks.roleArn ? ` as ${c.spec.eks.roleArn}` : ''}`
        : `${c.spec.kubeconfig?.path}${c.spec.kubeconfig?.context ? ` (${c.spec.kubeconfig.context})` : ''}`,
    ]),
  );
  return 0;
}

async function clustersAdd(
  p: Printer,
  client: DriftlessClient,
  flags: Flags,
  name?: string,
): Promise<number> {
  if (flags.file?.length) return applySpecs(p, client, flags.file);
  if (!name) throw new UsageError('clusters add needs NAME (or -f FILE)');
  const spec = flags.kubeconfig
    ? {
        kubeconfig: {
          path: path.resolve(flags.kubeconfig),
          ...(flags.context ? { context: flags.context } : {}),
        },
      }
    : flags['eks-name'] && flags.region
      ? {
          eks: {
            name: flags['eks-name'],
            region: flags.region,
            ...(flags['role-arn'] ? { roleArn: flags['role-arn'] } : {}),
          },
        }
      : undefined;
  if (!spec)
    throw new UsageError('clusters add NAME needs --kubeconfig F, or --eks-name N --region R');
  await client.request('PUT', `/clusters/${name}`, {
    apiVersion: 'driftless.dev/v1',
    kind: 'Cluster',
    metadata: { name },
    spec,
  });
  p.out(`cluster ${name} ${paint(p, 'green', 'added')}`);
  return 0;
}
