// A reconcile engine wired to the real servers with the embedded adapters:
// the test Git server, the test API server, an in-memory store and leases.

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import type { KubeClient } from '../../lib/kube/client.js';
import { KubeconfigConnector } from '../../lib/kube/kubeconfig.js';
import { MemoryLeaseManager, MemoryStore } from '../../lib/local/index.js';
import {
  type ApplicationInput,
  ApplicationSchema,
  type ClusterInput,
  ClusterSchema,
} from '../../lib/model/application.js';
import type { TargetId } from '../../lib/model/target.js';
import { type Clock, systemClock } from '../../lib/ports/clock.js';
import type { ClusterConnector } from '../../lib/ports/cluster.js';
import type { Renderer } from '../../lib/ports/render.js';
import type { CommitStatusReporter } from '../../lib/ports/report.js';
import {
  type ReconcileDeps,
  type ReconcileEvent,
  type ReconcileOptions,
  type ReconcileRequest,
  reconcile,
} from '../../lib/reconcile/index.js';
import { IsomorphicGitSource, SourceCache } from '../../lib/source/index.js';
import { testenv } from './env.js';
import { TestRepo } from './git.js';
import { provideRenderTools } from './render-tools.js';

/** How long reconcileUntilSettled follows requeues. */
const SETTLE_WITHIN_MS = 120_000;

export type CommitReport = Parameters<CommitStatusReporter['report']>[0];

/**
 * A collaborator of the engine, not the system under test: records what would
 * go to GitHub, and passes it on to a real reporter when a test has one.
 */
export class RecordingReporter implements CommitStatusReporter {
  readonly reports: CommitReport[] = [];
  constructor(private readonly next?: CommitStatusReporter) {}
  async report(input: CommitReport): Promise<void> {
    this.reports.push(input);
    await this.next?.report(input);
  }
}

/** A connector the harness can close after its tests. */
export type HarnessConnector = ClusterConnector & { close(): void };

export interface EngineHarnessOptions {
  /** Kubeconfig of the default `local` cluster (default: the shared test cluster). */
  kubeconfig?: string;
  repo?: TestRepo;
  /** Reaches the clusters (default: a KubeconfigConnector). */
  connector?: HarnessConnector;
  /** The cluster the app targets, instead of `local` through the kubeconfig. */
  cluster?: ClusterInput;
  /** Also sends every commit status here (e.g. a real GitHub reporter). */
  reporter?: CommitStatusReporter;
  /** Link for commit statuses. */
  statusUrl?: (target: TargetId) => string | undefined;
  /** The render cache (e.g. one with SOPS keys); default a plain SourceCache. */
  renderer?: Renderer;
  /** The engine's and the leases' clock (default the system's), e.g. an offsetClock. */
  clock?: Clock;
}

/** A clock that runs with the system's, plus however far a test has moved it on. */
export interface OffsetClock extends Clock {
  advance(ms: number): void;
}

export function offsetClock(): OffsetClock {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    advance: (ms) => {
      offset += ms;
    },
  };
}

/** Spec fields to set; source fields are merged over the harness's repository and `main`. */
type AppSpecOverrides = Omit<Partial<ApplicationInput['spec']>, 'source'> & {
  source?: Partial<ApplicationInput['spec']['source']>;
};

export class EngineHarness {
  readonly store = new MemoryStore();
  readonly clock: Clock;
  readonly leases: MemoryLeaseManager;
  readonly reporter: RecordingReporter;
  readonly events: ReconcileEvent[] = [];
  /** Called with every engine event as it happens (fault injection, progress). */
  listener: ((e: ReconcileEvent) => void) | undefined;
  readonly connector: HarnessConnector;
  /** One render cache for the harness, as the wiring keeps one per process. */
  readonly renderer: Renderer;
  readonly clusterName: string;
  private readonly statusUrl: ((target: TargetId) => string | undefined) | undefined;
  private constructor(
    readonly appName: string,
    readonly repo: TestRepo,
    readonly git: IsomorphicGitSource,
    readonly kubeconfig: string,
    opts: EngineHarnessOptions,
  ) {
    this.clock = opts.clock ?? systemClock;
    this.leases = new MemoryLeaseManager(this.store, this.clock);
    this.connector = opts.connector ?? new KubeconfigConnector();
    this.renderer = opts.renderer ?? new SourceCache();
    this.reporter = new RecordingReporter(opts.reporter);
    this.clusterName = opts.cluster?.metadata.name ?? 'local';
    this.statusUrl = opts.statusUrl;
  }

  static async create(appName: string, opts: EngineHarnessOptions = {}): Promise<EngineHarness> {
    const cacheRoot = await mkdtemp(path.join(os.tmpdir(), 'driftless-gitcache-'));
    await provideRenderTools(); // for apps whose source is a Kustomization or a Helm chart
    const repo = opts.repo ?? (await TestRepo.create(appName));
    const h = new EngineHarness(
      appName,
      repo,
      new IsomorphicGitSource({ cacheRoot }),
      opts.kubeconfig ?? testenv().kube.kubeconfig,
      opts,
    );
    await h.store.putCluster(
      ClusterSchema.parse(
        opts.cluster ?? {
          apiVersion: 'driftless.dev/v1',
          kind: 'Cluster',
          metadata: { name: 'local' },
          spec: { kubeconfig: { path: h.kubeconfig } },
        },
      ),
    );
    afterAll(async () => {
      h.connector.close();
      await rm(cacheRoot, { recursive: true, force: true });
    });
    return h;
  }

  get target(): TargetId {
    return { app: this.appName, cluster: this.clusterName };
  }

  /** Registers (or replaces) the application; defaults: path `.`, destination the harness's cluster. */
  async setApp(spec: AppSpecOverrides & { namespace?: string } = {}): Promise<void> {
    const { namespace, source, ...rest } = spec;
    await this.store.putApplication(
      ApplicationSchema.parse({
        apiVersion: 'driftless.dev/v1',
        kind: 'Application',
        metadata: { name: this.appName },
        spec: {
          source: { repoURL: this.repo.url, revision: 'main', path: '.', ...source },
          destinations: [{ cluster: this.clusterName, namespace }],
          ...rest,
        },
      }),
    );
  }

  async client(): Promise<KubeClient> {
    const cluster = await this.store.getCluster(this.clusterName);
    return (await this.connector.connect(cluster!)) as KubeClient;
  }

  /** The engine's dependencies (what the worker and the API are given), recording events. */
  deps(): ReconcileDeps {
    return {
      store: this.store,
      leases: this.leases,
      git: this.git,
      renderer: this.renderer,
      clusters: this.connector,
      reporter: this.reporter,
      statusUrl: this.statusUrl,
      clock: this.clock,
      onEvent: (e) => {
        this.events.push(e);
        this.listener?.(e);
      },
    };
  }

  async reconcile(req: Partial<ReconcileRequest> = {}, opts: ReconcileOptions = {}) {
    return reconcile(
      this.deps(),
      { target: this.target, trigger: 'sweep', ...req },
      { waitBudgetMs: 30_000, ...opts },
    );
  }

  /**
   * Reconciles, following requeues (rollouts, hooks) until nothing is pending,
   * or `withinMs` of wall-clock time (generous: kwok's rollouts slow down on a
   * busy machine; a count of rounds would run out sooner there).
   */
  async reconcileUntilSettled(
    req: Partial<ReconcileRequest> = {},
    opts: ReconcileOptions = {},
    withinMs = SETTLE_WITHIN_MS,
  ) {
    const deadline = Date.now() + withinMs;
    let outcome = await this.reconcile(req, opts);
    while (outcome.requeueAfterMs !== undefined && !outcome.error && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, Math.min(outcome.requeueAfterMs ?? 0, 2_000)));
      outcome = await this.reconcile({ ...req, trigger: 'health-check' }, opts);
    }
    return outcome;
  }
}
