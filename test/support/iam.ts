// Least privilege, evaluated: the stack synthesized (infra/, in-process as
// test/unit/infra.test.ts does), each function's role policies taken from the
// template with their intrinsics resolved to concrete ARNs for one account and
// region (a resource's physical name is its logical id), and every recorded
// AWS call (test/support/aws-calls.ts) evaluated against them by a maintained
// IAM policy engine, @cloud-copilot/iam-simulate — not by comparing lists.
// Templates are plain JSON here, so a test can remove or add a statement and
// evaluate the mutated stack the same way.

import { runSimulation } from '@cloud-copilot/iam-simulate';
import { App, type CfnElement } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { ENV } from '../../functions/wiring/env.js';
import type { DriftlessConfig } from '../../infra/config.js';
import { DriftlessStack, sourceSecretPrefix } from '../../infra/stack.js';
import type { FunctionName, RecordedCall, StackResource } from './aws-calls.js';

type Json = Record<string, unknown>;
export type Template = { Resources: Record<string, { Type: string; Properties?: Json }> };

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: string | string[];
  Condition?: Json;
}

/** The stack as the evaluation needs it: its template, where it lives, and its resources' logical ids. */
export interface SynthesizedStack {
  template: Template;
  account: string;
  region: string;
  stackName: string;
  /** Logical ids of the resources recorded calls name. */
  ids: {
    table: string;
    queues: Record<'jobs' | 'delay' | 'deadLetter' | 'outbox', string>;
    secrets: Record<'webhook' | 'github', string>;
  };
}

export function synthesizeStack(opts: {
  account: string;
  region: string;
  config?: Partial<DriftlessConfig>;
}): SynthesizedStack {
  // Bundling skipped: the policies do not depend on the functions' code.
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new DriftlessStack(app, 'Driftless', {
    config: opts.config,
    env: { account: opts.account, region: opts.region },
  });
  const id = (c: IConstruct) => stack.getLogicalId(c.node.defaultChild as CfnElement);
  const template = app.synth().getStackByName(stack.stackName).template as Template;
  return {
    template,
    account: opts.account,
    region: opts.region,
    stackName: stack.stackName,
    ids: {
      table: id(stack.table),
      queues: {
        jobs: id(stack.jobQueue),
        delay: id(stack.delayQueue),
        deadLetter: id(stack.jobDeadLetterQueue),
        outbox: id(stack.outboxQueue),
      },
      secrets: { webhook: id(stack.webhookSecret), github: id(stack.githubSecret) },
    },
  };
}

/** The same stack with `edit` applied to a copy of its template. */
export function mutated(s: SynthesizedStack, edit: (t: Template) => void): SynthesizedStack {
  const template = structuredClone(s.template);
  edit(template);
  return { ...s, template };
}

/** The identity policy documents of one function's role (AWS::IAM::Policy resources attached to it). */
function policyResources(t: Template, fn: FunctionName): [string, Json][] {
  const role = roleOf(t, fn);
  return Object.entries(t.Resources).filter(
    ([, r]) =>
      r.Type === 'AWS::IAM::Policy' &&
      asList(r.Properties?.Roles).some((x) => (x as Json).Ref === role),
  ) as [string, Json][];
}

/** The role logical id of a function: the Lambda function whose service name is driftless-<fn>. */
function roleOf(t: Template, fn: FunctionName): string {
  for (const r of Object.values(t.Resources)) {
    if (r.Type !== 'AWS::Lambda::Function') continue;
    const env = ((r.Properties?.Environment as Json | undefined)?.Variables ?? {}) as Json;
    if (env[ENV.powertoolsServiceName] !== `driftless-${fn}`) continue;
    const role = (r.Properties?.Role as Json | undefined)?.['Fn::GetAtt'] as string[] | undefined;
    if (!role?.[0]) throw new Error(`driftless-${fn}: its Role is not a Fn::GetAtt of a role`);
    return role[0];
  }
  throw new Error(`no Lambda function driftless-${fn} in the template`);
}

/** Removes the statement `sid` from the function's role; throws if it has none (a test that removes nothing proves nothing). */
export function removeStatement(t: Template, fn: FunctionName, sid: string): void {
  let removed = 0;
  for (const [, r] of policyResources(t, fn)) {
    const doc = (r.Properties as Json).PolicyDocument as Json;
    const before = asList(doc.Statement);
    doc.Statement = before.filter((s) => (s as PolicyStatement).Sid !== sid);
    removed += before.length - asList(doc.Statement).length;
  }
  if (removed === 0) throw new Error(`the ${fn} role has no statement ${sid}`);
}

/** Adds a statement to the function's role policy. */
export function addStatement(t: Template, fn: FunctionName, statement: PolicyStatement): void {
  const [first] = policyResources(t, fn);
  if (!first) throw new Error(`the ${fn} role has no policy`);
  const doc = (first[1].Properties as Json).PolicyDocument as Json;
  doc.Statement = [...asList(doc.Statement), statement];
}

// ---------------------------------------------------------------------------
// Intrinsics → concrete values for the stack's account and region.

function arnOfLogical(s: SynthesizedStack, id: string): string {
  const r = s.template.Resources[id];
  if (!r) throw new Error(`Fn::GetAtt of ${id}: no such resource`);
  const { account: a, region: g } = s;
  switch (r.Type) {
    case 'AWS::DynamoDB::Table':
      return `arn:aws:dynamodb:${g}:${a}:table/${id}`;
    case 'AWS::SQS::Queue':
      return `arn:aws:sqs:${g}:${a}:${queueName(s, id)}`;
    case 'AWS::SecretsManager::Secret':
      // A secret's ARN ends in a random six-character suffix.
      return `arn:aws:secretsmanager:${g}:${a}:secret:${id}-AbCdEf`;
    case 'AWS::Logs::LogGroup':
      return `arn:aws:logs:${g}:${a}:log-group:${id}:*`;
    case 'AWS::Lambda::Function':
      return `arn:aws:lambda:${g}:${a}:function:${id}`;
    case 'AWS::IAM::Role':
      return `arn:aws:iam::${a}:role/${id}`;
    default:
      throw new Error(`Fn::GetAtt ${id}.Arn: no ARN format for ${r.Type}`);
  }
}

function queueName(s: SynthesizedStack, id: string): string {
  const fifo = s.template.Resources[id]?.Properties?.FifoQueue === true;
  return fifo ? `${id}.fifo` : id;
}

/** Ref of a resource: what CloudFormation returns for its type. */
function refOf(s: SynthesizedStack, id: string): string {
  const pseudo: Record<string, string> = {
    'AWS::Partition': 'aws',
    'AWS::Region': s.region,
    'AWS::AccountId': s.account,
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': s.stackName,
  };
  if (pseudo[id]) return pseudo[id];
  const r = s.template.Resources[id];
  if (!r) throw new Error(`Ref ${id}: no such resource`);
  switch (r.Type) {
    case 'AWS::SecretsManager::Secret':
      return arnOfLogical(s, id);
    case 'AWS::SQS::Queue':
      return `https://sqs.${s.region}.amazonaws.com/${s.account}/${queueName(s, id)}`;
    default:
      return id;
  }
}

export function resolve(s: SynthesizedStack, v: unknown): unknown {
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  if (Array.isArray(v)) return v.map((x) => resolve(s, x));
  const o = v as Json;
  if ('Ref' in o) return refOf(s, o.Ref as string);
  if ('Fn::GetAtt' in o) {
    const [id, attr] = o['Fn::GetAtt'] as [string, string];
    if (attr !== 'Arn') throw new Error(`Fn::GetAtt ${id}.${attr}: only Arn is resolved`);
    return arnOfLogical(s, id);
  }
  if ('Fn::Join' in o) {
    const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
    return parts.map((p) => String(resolve(s, p))).join(sep);
  }
  if ('Fn::Sub' in o) {
    const arg = o['Fn::Sub'];
    const [text, vars] = (typeof arg === 'string' ? [arg, {}] : arg) as [string, Json];
    return text.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
      if (name in vars) return String(resolve(s, vars[name]));
      const [id, attr] = name.split('.');
      return attr ? String(resolve(s, { 'Fn::GetAtt': [id, attr] })) : refOf(s, name);
    });
  }
  const key = Object.keys(o).find((k) => k.startsWith('Fn::'));
  if (key) throw new Error(`${key} in a policy: not resolved by test/support/iam.ts`);
  return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, resolve(s, x)]));
}

/** The role's ARN and its identity policies, intrinsics resolved. */
export function functionPolicies(s: SynthesizedStack, fn: FunctionName) {
  const role = roleOf(s.template, fn);
  return {
    roleArn: arnOfLogical(s, role),
    policies: policyResources(s.template, fn).map(([id, r]) => ({
      name: id,
      policy: resolve(s, (r.Properties as Json).PolicyDocument) as {
        Version: string;
        Statement: PolicyStatement[];
      },
    })),
  };
}

/** The template's ARN for a resource a call touched. */
export function arnOf(s: SynthesizedStack, r: StackResource): string {
  switch (r.kind) {
    case 'table': {
      const table = arnOfLogical(s, s.ids.table);
      return r.index ? `${table}/index/${r.index}` : table;
    }
    case 'queue':
      return arnOfLogical(s, s.ids.queues[r.queue]);
    case 'secret':
      return arnOfLogical(s, s.ids.secrets[r.secret]);
    case 'sourceSecret':
      return `arn:aws:secretsmanager:${s.region}:${s.account}:secret:${sourceSecretPrefix(s.stackName)}${r.name}-AbCdEf`;
    case 'arn':
      return r.arn;
    case 'unknown':
      throw new Error(`a call touched ${r.id}, which is no resource of the stack`);
  }
}

export type Decision = 'Allowed' | 'ImplicitlyDenied' | 'ExplicitlyDenied';

/** A call (recorded, or one a function must never make) and what the role's policies decide. */
export interface Evaluated {
  call: Pick<RecordedCall, 'fn' | 'action' | 'resource' | 'context'>;
  arn: string;
  decision: Decision;
}

export async function evaluate(
  s: SynthesizedStack,
  call: Pick<RecordedCall, 'fn' | 'action' | 'resource' | 'context'>,
): Promise<Evaluated> {
  if (!call.fn) throw new Error(`${call.action}: recorded outside any function's handler`);
  const { roleArn, policies } = functionPolicies(s, call.fn);
  const arn = arnOf(s, call.resource);
  const result = await runSimulation(
    {
      identityPolicies: policies,
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: resourcePolicyOf(s, call.action, roleArn),
      request: {
        action: call.action,
        principal: roleArn,
        resource: { resource: arn, accountId: s.account },
        contextVariables: call.context,
      },
    },
    {},
  );
  if (result.resultType === 'error') {
    // An invalid request or policy is a bug of the test or the stack, never a denial.
    throw new Error(
      `IAM simulation of ${call.fn} ${call.action} on ${arn} is invalid: ${JSON.stringify(result.errors)}`,
    );
  }
  return { call, arn, decision: result.overallResult as Decision };
}

/**
 * The policies of resources that IAM does not authorize by identity policy
 * alone: a KMS key's policy (the default one, which lets the account's IAM
 * policies decide) and a role's trust policy (trusting the function's role,
 * as the README asks of the roles in driftless:sopsRoles and clusters'
 * roleArn). Other resources here have no resource policy.
 */
function resourcePolicyOf(s: SynthesizedStack, action: string, roleArn: string) {
  if (action.startsWith('kms:')) {
    return {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'Enable IAM User Permissions',
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${s.account}:root` },
          Action: 'kms:*',
          Resource: '*',
        },
      ],
    };
  }
  if (action === 'sts:AssumeRole') {
    return {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: roleArn }, Action: 'sts:AssumeRole' }],
    };
  }
  return undefined;
}

/** Every distinct call evaluated once (the same action, resource and keys recur a lot). */
export async function evaluateAll(
  s: SynthesizedStack,
  calls: Pick<RecordedCall, 'fn' | 'action' | 'resource' | 'context'>[],
): Promise<Evaluated[]> {
  const distinct = new Map<string, (typeof calls)[number]>();
  for (const c of calls) {
    distinct.set(JSON.stringify([c.fn, c.action, c.resource, c.context]), {
      fn: c.fn,
      action: c.action,
      resource: c.resource,
      context: c.context,
    });
  }
  const out: Evaluated[] = [];
  for (const c of distinct.values()) out.push(await evaluate(s, c));
  return out;
}

/** One line per evaluated call, for an assertion message. */
export function describe(e: Evaluated): string {
  const keys = Object.keys(e.call.context).length ? ` ${JSON.stringify(e.call.context)}` : '';
  return `${e.call.fn} ${e.call.action} ${e.arn}${keys}: ${e.decision}`;
}

function asList(v: unknown): unknown[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}
