// The driftless command: parse the command line and dispatch to one of
// lib/cli/commands/ (one file per command), against the status API (AWS,
// SigV4) or a local `driftless dev`.
// Exit codes: 0 ok; 1 drift found (diff), validation failed or an import dropped fields; 2 an error.

import { parseArgs } from 'node:util';
import { isDriftlessError } from '../errors.js';
import { ApiError, DriftlessClient, resolveClientConfig } from './client.js';
import { type Command, type Flags, OPTIONS, UsageError } from './command.js';
import { apps } from './commands/apps.js';
import { clusters } from './commands/clusters.js';
import { dev } from './commands/dev.js';
import { diff } from './commands/diff.js';
import { get } from './commands/get.js';
import { history } from './commands/history.js';
import { importCommand } from './commands/import.js';
import { redrive } from './commands/redrive.js';
import { rollback } from './commands/rollback.js';
import { status } from './commands/status.js';
import { resume, suspend } from './commands/suspend.js';
import { sync } from './commands/sync.js';
import { terminate } from './commands/terminate.js';
import { validate } from './commands/validate.js';
import { consolePrinter, type OutputFormat } from './output.js';

const HELP = `driftless — GitOps for EKS, serverless

Usage: driftless <command> [options]

Local mode
  dev [-f app.yaml]... [--kubeconfig F] [--context C] [--port 7777] [--secrets FILE]
                              run webhook, API, queue and worker in this process (private
                              repositories' secrets: FILE, default ~/.config/driftless/secrets.yaml)

Applications and clusters
  apps list                   registered applications
  apps get NAME               an application's spec
  apps apply -f FILE          register or update Applications, Clusters and Repositories from YAML
                              (--cascade: destinations removed are pruned)
  apps delete NAME            unregister (objects stay in the cluster; --cascade: the
                              worker prunes them first, --prune past the prune guard)
  clusters list
  clusters add -f FILE | NAME --kubeconfig F [--context C] | NAME --eks-name N --region R [--role-arn A]
  clusters remove NAME

Status and operations
  status [APP]                sync, health, revision and last operation per target
  get app NAME                per-resource status, with the reason for anything not Synced/Healthy
  diff APP [--revision R]     what a sync would change (exit 1 when there is drift)
  sync APP [--revision R] [--prune] [--dry-run] [--wait]
  rollback APP [--to N]       sync to the revision of the N-th previous successful sync (default 1);
                              suspend the app first, or its next automated sync would undo it
  history APP                 operations, newest first
  suspend APP | resume APP    stop or restart automated syncs
  terminate APP               end the running operation (its SyncFail hooks run; --cluster C for one target)
  redrive [--dry-run] [--max N]
                              move dead letters (jobs out of retries) back to the job queue,
                              oldest first (default 10); --dry-run lists them with why they died
  validate PATH... | -f app.yaml [--type directory|kustomize|helm] [--values F]... [--release-name N]
           [--namespace NS] [--repo DIR] [--kubernetes-version 1.34] [--crds PATH]... [--github]
                              render as a sync does and check every object against the Kubernetes
                              schemas, offline (exit 1 on errors; -o json for CI; --github annotations)

Migrating
  import FILE... [--cluster NAME] [--cluster-map SERVER-OR-NAME=CLUSTER]... [--out-dir DIR]
                              Argo CD Applications and Flux Kustomizations/HelmReleases (with their
                              GitRepository/HelmRepository) to Driftless Applications: YAML on stdout
                              (-o json, or one file per app in DIR); on stderr, per object, each field
                              not mapped and why. --cluster names the cluster Argo CD/Flux run in
                              (https://kubernetes.default.svc, in-cluster); --cluster-map the others.
                              Exit 0 all mapped, 1 something dropped, 2 unreadable input

Options
  -o, --output table|json|yaml    output format (default table)
  --endpoint URL                  status API (default: $DRIFTLESS_API_URL, the config file, or http://127.0.0.1:7777)
  --region R                      AWS region for signing requests
  --cluster C                     one target of a multi-cluster application
  -h, --help
`;

/** The dispatch table: every command the CLI runs (test/unit/cli/main.test.ts checks README lists each). */
export const COMMANDS: ReadonlyMap<string, Command> = new Map(
  [
    apps,
    clusters,
    dev,
    diff,
    get,
    history,
    importCommand,
    redrive,
    rollback,
    resume,
    status,
    suspend,
    sync,
    terminate,
    validate,
  ].map((c) => [c.name, c]),
);

export async function main(argv: string[]): Promise<number> {
  let parsed: { values: Flags; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    process.stderr.write(`error: ${(e as Error).message}\nhint: driftless --help\n`);
    return 2;
  }
  const { values: flags, positionals } = parsed;
  const format = flags.output as OutputFormat;
  if (!['table', 'json', 'yaml'].includes(format)) {
    process.stderr.write(`error: --output must be table, json or yaml\n`);
    return 2;
  }
  const p = consolePrinter(format);
  if (flags.help || positionals.length === 0) {
    p.out(HELP);
    return flags.help ? 0 : 2;
  }
  try {
    const [name, ...args] = positionals;
    const command = COMMANDS.get(name as string);
    if (!command) throw new UsageError(`unknown command: ${name}`);
    let client: DriftlessClient | undefined;
    return await command.run({
      p,
      flags,
      args,
      client: () => {
        client ??= new DriftlessClient(resolveClientConfig(flags));
        return client;
      },
    });
  } catch (e) {
    if (e instanceof UsageError) {
      p.err(`error: ${e.message}\nhint: driftless --help`);
      return 2;
    }
    if (e instanceof ApiError) {
      if (e.code === 'AccessDenied') {
        // The permission is in the message; the field repeats it.
        p.err(`error: ${e.message}`);
        p.err(
          `hint: ask a platform admin for ${e.field ?? 'the permission'} (a role in the project, or the stack's adminPrincipals)`,
        );
        return 2;
      }
      p.err(`error: ${e.message}${e.field ? ` (field ${e.field})` : ''}`);
      if (e.status === 404) p.err('hint: driftless apps list');
      if (e.status === 403)
        p.err('hint: your AWS identity needs execute-api:Invoke on the status API');
      return 2;
    }
    if (isDriftlessError(e)) {
      p.err(`error: ${e.describe()}`);
      if (e.reason === 'ClusterUnreachable')
        p.err('hint: start local mode with `driftless dev`, or set --endpoint');
      return 2;
    }
    p.err(`error: ${e instanceof Error ? e.message : String(e)}`);
    return 2;
  }
}
