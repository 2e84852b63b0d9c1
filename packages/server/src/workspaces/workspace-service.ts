import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import {
  BUILTIN_GRANTS,
  type BuiltinGrant,
  type Grant,
  type GrantInput,
  type Page,
  type Progress,
  type Workspace,
  type WorkspaceEvent,
  type WorkspaceStatus,
} from '@berth/protocol';
import type { ResolvedConfig } from '../config/load.js';
import type { NormalizedSpec, WorkspaceRecord } from '../domain/workspace.js';
import { LABELS } from '../engine/labels.js';
import type { ContainerState, EngineDriver } from '../engine/types.js';
import { AppError, errorMessage } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { placeholderEnv } from '../egress/grants.js';
import type { Runtime, RuntimeCatalogue } from '../runtimes/catalogue.js';
import { describeRequiredEnv, missingRequiredEnv } from '../runtimes/required-env.js';
import type { StatusChange, WorkspaceRepo } from '../store/workspace-repo.js';
import { classifyExit, decideRestart } from '../reconciler/restart-policy.js';
import { WorkQueue } from '../reconciler/work-queue.js';
import { canonicalHash, sha256Hex } from '../util/canonical-json.js';
import { failpoint } from '../util/failpoints.js';
import { newWorkspaceId } from '../util/ids.js';
import { generateUniqueName } from '../util/names.js';
import type { ActivityTracker } from './activity.js';
import type { CommandService } from './commands.js';
import { lifecycleDecision } from './idle.js';
import type { Provisioner } from './provisioner.js';
import { describe as describeProbe, probeTarget, waitUntilReady } from './readiness.js';
import {
  ADMIN_ID,
  EgressUpdateSchema,
  normalizeEgress,
  normalizeSpec,
  specHash,
  usesGateway,
  WorkspaceSpecSchema,
  type Principal,
} from './spec.js';
import type { EgressGateway } from '../egress/gateway.js';
import { CONFIG_FILES } from '../egress/files.js';
import type { FileService } from './files.js';
import { needsBoot } from './container-plan.js';
import type { TerminalService } from './terminals.js';
import { toWireWorkspace } from './view.js';
import { parseWith } from './validate.js';

export interface WorkspaceServiceDeps {
  repo: WorkspaceRepo;
  provisioner: Provisioner;
  /** Runs command readiness probes, and ends a workspace's commands when it stops. */
  commands: CommandService;
  terminals: TerminalService;
  /** The egress gateway: sockets, CAs and tokens of workspaces whose policy is allowlist. */
  egress: EgressGateway;
  /** Safe writes into a running workspace (berth-helper as the workspace user). */
  files: Pick<FileService, 'write'>;
  engine: EngineDriver;
  catalogue: RuntimeCatalogue;
  config: ResolvedConfig;
  logger: Logger;
  /** This store's id: Berth acts only on engine objects labeled with it. */
  storeId: string;
  /** Activity this process saw, for idle timeouts (the store's `lastActivityAt` lags behind it). */
  activity?: Pick<ActivityTracker, 'lastActiveAt'>;
}

export interface ListQuery {
  statuses?: WorkspaceStatus[];
  labels?: Record<string, string>;
  runtime?: string;
  limit: number;
  cursor?: string;
}

const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/**
 * Workspace lifecycle. Each API call records the desired state in the store, then the reconcile
 * queue runs a level-triggered pass for the workspace (one at a time per workspace, bounded
 * overall, retried with jittered backoff) that converges the engine on it. The reconciler's scan
 * and engine events queue passes too. Every status change is a conditional update, so a pass that
 * lost a race (e.g. to a delete) simply stops.
 */
export class WorkspaceService {
  private readonly progress = new Map<string, Progress>();
  private readonly queue: WorkQueue;
  /** Failed workspaces a user asked to start again (a pass alone never revives a failed one). */
  private readonly kicks = new Set<string>();
  private readonly aborts = new Map<string, AbortController>();
  /** Workspaces whose next run pass must stop the container first. */
  private readonly restarts = new Set<string>();
  /** Why the last removal of a workspace failed, for the caller waiting on it. */
  private readonly deleteFailures = new Map<string, AppError>();
  private readonly log: Logger;
  private closed = false;

  constructor(private readonly deps: WorkspaceServiceDeps) {
    this.log = deps.logger.child({ component: 'workspaces' });
    const r = deps.config.reconciler;
    this.queue = new WorkQueue((id, signal) => this.pass(id, signal), {
      concurrency: r.concurrency,
      baseDelayMs: r.backoffBaseMs,
      maxDelayMs: r.backoffMaxMs,
      passTimeoutMs: r.passTimeoutMs,
    });
  }

  private get repo(): WorkspaceRepo {
    return this.deps.repo;
  }

  private view(ws: WorkspaceRecord): Workspace {
    return toWireWorkspace(ws, this.progress.get(ws.id) ?? null);
  }

  private scope(principal: Principal): string | null {
    return principal.scope === 'admin' ? null : principal.id;
  }

  async create(
    principal: Principal,
    body: unknown,
    options: { idempotencyKey?: string | undefined; wait: boolean },
  ): Promise<{ workspace: Workspace; replayed: boolean }> {
    const key = options.idempotencyKey;
    if (key !== undefined && !IDEMPOTENCY_KEY_PATTERN.test(key)) {
      throw new AppError(
        'invalid_idempotency_key',
        'the Idempotency-Key header must be 1-255 visible ASCII characters',
      );
    }
    const input = parseWith(WorkspaceSpecSchema, body, 'body');
    const normalized = normalizeSpec(input, {
      config: this.deps.config,
      catalogue: this.deps.catalogue,
      principal,
      gvisorAvailable: this.deps.engine.info?.capabilities.gvisor ?? null,
    });
    if (!(await this.deps.engine.ping())) {
      throw new AppError(
        'engine_unavailable',
        'the container engine does not answer; nothing was created — start Docker or Podman and retry',
      );
    }
    const idempotency = key ? { ownerId: principal.id, key, requestHash: canonicalHash(body) } : null;

    for (let attempt = 0; attempt < 3; attempt++) {
      const name = normalized.name ?? (await generateUniqueName((n) => this.repo.nameTaken(n)));
      const spec: NormalizedSpec = { ...normalized, name };
      const result = await this.repo.create(
        {
          id: newWorkspaceId(),
          ownerId: principal.id,
          spec,
          specHash: specHash(spec),
          desiredState: 'running',
        },
        idempotency,
      );
      if (result.kind === 'idempotency_mismatch') {
        throw new AppError(
          'idempotency_key_reused',
          'this Idempotency-Key was already used with a different request body; use a new key for a different workspace',
        );
      }
      if (result.kind === 'name_conflict') {
        if (normalized.name !== undefined) {
          throw new AppError(
            'name_conflict',
            `a workspace named "${name}" already exists; choose another name`,
          );
        }
        continue; // a generated name raced another create: draw again
      }
      const { record } = result;
      if (result.kind === 'created') {
        this.log.info(
          { workspaceId: record.id, name: record.name, tier: record.tier, runtime: record.runtime },
          'workspace created',
        );
        failpoint('create.after-insert');
        const pass = this.schedule(record.id);
        if (options.wait) await this.afterPass(record.id, await pass);
      } else if (options.wait) {
        await this.afterPass(record.id, await this.schedule(record.id));
      }
      const current = (await this.repo.getById(record.id, true)) ?? record;
      return { workspace: this.view(current), replayed: result.kind === 'replayed' };
    }
    throw new AppError('name_conflict', 'could not find a free generated name; pass an explicit name');
  }

  async get(principal: Principal, ref: string): Promise<Workspace> {
    return this.view(await this.find(principal, ref));
  }

  /** The workspace record behind `ref`, if this principal may see it (404 otherwise). */
  resolve(principal: Principal, ref: string): Promise<WorkspaceRecord> {
    return this.find(principal, ref);
  }

  private async find(principal: Principal, ref: string): Promise<WorkspaceRecord> {
    const ws = await this.repo.find(ref, this.scope(principal));
    if (!ws)
      throw new AppError('workspace_not_found', `no workspace "${ref}"; list them with GET /v1/workspaces`);
    return ws;
  }

  async list(principal: Principal, query: ListQuery): Promise<Page<Workspace>> {
    const { records, nextCursor } = await this.repo.list({ ownerId: this.scope(principal), ...query });
    return { items: records.map((r) => this.view(r)), nextCursor };
  }

  async events(
    principal: Principal,
    ref: string,
    after: number,
    limit: number,
  ): Promise<Page<WorkspaceEvent>> {
    const ws = await this.find(principal, ref);
    const items = await this.repo.listEvents(ws.id, after, limit);
    const last = items[items.length - 1];
    return { items, nextCursor: items.length === limit && last ? String(last.id) : null };
  }

  async start(principal: Principal, ref: string, wait: boolean): Promise<Workspace> {
    const ws = await this.find(principal, ref);
    if (ws.status === 'failed') this.kicks.add(ws.id);
    return this.request(ws, 'running', wait);
  }

  async stop(principal: Principal, ref: string, wait: boolean): Promise<Workspace> {
    return this.request(await this.find(principal, ref), 'stopped', wait);
  }

  async restart(principal: Principal, ref: string, wait: boolean): Promise<Workspace> {
    const ws = await this.find(principal, ref);
    await this.setDesiredOrConflict(ws, 'running');
    this.restarts.add(ws.id);
    this.kicks.add(ws.id);
    await this.repo.resetRestarts(ws.id);
    const pass = this.schedule(ws.id);
    if (wait) await this.afterPass(ws.id, await pass);
    return this.view((await this.repo.getById(ws.id, true)) ?? ws);
  }

  private async request(ws: WorkspaceRecord, desired: 'running' | 'stopped', wait: boolean) {
    await this.setDesiredOrConflict(ws, desired);
    if (desired === 'stopped') this.aborts.get(ws.id)?.abort();
    const pass = this.schedule(ws.id);
    if (wait) await this.afterPass(ws.id, await pass);
    return this.view((await this.repo.getById(ws.id, true)) ?? ws);
  }

  /**
   * After a pass a caller waited for: a retryable engine failure becomes a 503 (the workspace is
   * recorded and converges once the engine answers); agent workspaces wait for registration.
   */
  private async afterPass(id: string, error: unknown): Promise<void> {
    if (error instanceof AppError && error.code === 'engine_unavailable') {
      throw new AppError(
        'engine_unavailable',
        `${error.message}; the request is recorded and Berth converges on it once the engine answers (retrying with backoff) — repeat the request, with the same Idempotency-Key for a create`,
      );
    }
    await this.settle(id);
  }

  private async setDesiredOrConflict(ws: WorkspaceRecord, desired: 'running' | 'stopped'): Promise<void> {
    if (ws.status === 'deleting' || !(await this.repo.setDesired(ws.id, desired))) {
      throw new AppError(
        'invalid_state',
        `workspace ${ws.name} is being deleted; it cannot be ${desired === 'running' ? 'started' : 'stopped'}`,
      );
    }
  }

  /** Deletes from any status. Unknown or already-deleted workspaces count as deleted (P3). */
  async delete(principal: Principal, ref: string, wait: boolean): Promise<Workspace | null> {
    const ws = await this.repo.find(ref, this.scope(principal));
    if (!ws) return null;
    await this.repo.setDesired(ws.id, 'deleted');
    await this.repo.transition(ws.id, 'deleting', {
      event: { type: 'workspace.deleting', message: 'delete requested' },
    });
    this.aborts.get(ws.id)?.abort();
    this.deleteFailures.delete(ws.id);
    const pass = this.schedule(ws.id);
    if (wait) {
      await pass;
      const after = await this.repo.getById(ws.id, true);
      if (after && after.status !== 'deleted') {
        const failure = this.deleteFailures.get(ws.id);
        this.deleteFailures.delete(ws.id);
        throw new AppError(
          failure?.code === 'engine_unavailable' ? 'engine_unavailable' : 'engine_error',
          `workspace ${ws.name} could not be fully removed yet (${failure?.message ?? 'see its events'}); it stays deleting and Berth keeps retrying — delete it again to wait for it`,
        );
      }
      return null;
    }
    return this.view((await this.repo.getById(ws.id, true)) ?? ws);
  }

  /** An idle timeout's stop (see `lifecycle`): a `workspace.idle_timeout` event, then a stop by the system. */
  private async stopForIdle(id: string, idleMs: number): Promise<void> {
    const ws = await this.repo.getById(id);
    if (!ws || ws.desiredState !== 'running' || !['running', 'unresponsive'].includes(ws.status)) return;
    const { idleTimeoutMs } = ws.spec.lifecycle;
    const message = `no activity for ${idleMs} ms (idleTimeoutMs ${idleTimeoutMs}); stopping`;
    await this.repo.appendEvent(id, ev('workspace.idle_timeout', message, { idleMs, idleTimeoutMs }));
    this.log.info({ workspaceId: id, idleMs, idleTimeoutMs }, 'stopping an idle workspace');
    await this.request(ws, 'stopped', false);
  }

  /** A TTL's delete once `ttlMs` has passed since creation: a `workspace.ttl_expired` event, then a delete. */
  private async deleteForTtl(id: string, ageMs: number): Promise<void> {
    const ws = await this.repo.getById(id);
    if (!ws || ws.status === 'deleting' || ws.desiredState === 'deleted') return;
    const { ttlMs } = ws.spec.lifecycle;
    await this.repo.appendEvent(
      id,
      ev('workspace.ttl_expired', `created ${ageMs} ms ago (ttlMs ${ttlMs}); deleting`, { ageMs, ttlMs }),
    );
    this.log.info({ workspaceId: id, ageMs, ttlMs }, 'deleting a workspace past its ttl');
    await this.delete(SYSTEM, id, false);
  }

  /**
   * Watches the engine for workspace containers that die. Events only make the reconciler look
   * sooner: the pass itself inspects the container and applies the restart policy.
   */
  watchEngine(signal: AbortSignal): void {
    this.deps.engine.watchExits(
      { [LABELS.managed]: 'true', [LABELS.role]: 'container' },
      (exit) => {
        const id = exit.labels[LABELS.workspace];
        if (id && exit.labels[LABELS.store] === this.deps.storeId) this.enqueue(id);
      },
      signal,
    );
  }

  /** Asks the reconciler to look at a workspace (now, or after `delayMs`). */
  enqueue(id: string, delayMs = 0): void {
    if (delayMs > 0) this.queue.addAfter(id, delayMs);
    else void this.queue.add(id);
  }

  /** Starts reconciling (after the start-up scan queued every workspace). */
  startReconciling(): void {
    this.queue.start();
  }

  get queueSize() {
    return this.queue.size;
  }

  /** Stops reconciling and waits (bounded) for passes in flight. */
  async close(timeoutMs = 30_000): Promise<void> {
    this.closed = true;
    for (const abort of this.aborts.values()) abort.abort();
    await this.queue.stop(timeoutMs);
  }

  /** Queues a pass; resolves after a pass that started after this call (with its error, if any). */
  private schedule(id: string): Promise<unknown> {
    if (this.closed)
      return Promise.resolve(new AppError('engine_unavailable', 'the server is shutting down'));
    return this.queue.add(id);
  }

  /**
   * Waits until an agent workspace leaves `starting` (its agent registered, or it failed), for
   * callers of create/start with `wait`. Bounded by the runtime's provision timeout.
   */
  private async settle(id: string): Promise<void> {
    const first = await this.repo.getById(id);
    const runtime = first && this.deps.catalogue.get(first.runtime);
    if (!runtime?.agent) return;
    const until = Date.now() + runtime.provisionTimeoutMs + 5_000;
    while (Date.now() < until && !this.closed) {
      // Every status change appends an event: wake on those (subscribed before reading, so none is
      // missed), and re-check at least every second.
      const stop = new AbortController();
      const appended = this.repo.notifier.wait({ timeoutMs: 1000, signal: stop.signal });
      const ws = await this.repo.getById(id);
      if (!ws || !['provisioning', 'starting'].includes(ws.status) || ws.desiredState !== 'running') {
        stop.abort();
        return;
      }
      await appended;
    }
  }

  /**
   * One level-triggered reconcile pass for a workspace: compare what the store wants with what the
   * engine has, and converge. Throws only for retryable failures (the engine is unreachable, a
   * removal failed): the queue retries them with backoff. Everything else ends in a status.
   */
  private async pass(id: string, signal: AbortSignal): Promise<void> {
    await this.converge(id, signal);
    await this.lifecycle(id);
  }

  /**
   * Idle timeout and TTL: once due, stop or delete (as the system; the next pass carries it out),
   * else come back when the nearer one will be. Activity only moves the idle deadline later, so a
   * pass that finds it not yet due simply re-arms it.
   */
  private async lifecycle(id: string): Promise<void> {
    const ws = await this.repo.getById(id);
    if (!ws || (ws.spec.lifecycle.idleTimeoutMs === null && ws.spec.lifecycle.ttlMs === null)) return;
    const now = Date.now();
    const decision = lifecycleDecision(ws, this.deps.activity?.lastActiveAt(id, now) ?? null, now);
    if (decision.action === 'delete') return this.deleteForTtl(id, decision.ageMs ?? 0);
    if (decision.action === 'stop') return this.stopForIdle(id, decision.idleMs ?? 0);
    const { idleTimeoutMs, ttlMs } = ws.spec.lifecycle;
    const next = Math.min(
      ttlMs === null ? Infinity : ttlMs - (now - Date.parse(ws.createdAt)),
      idleTimeoutMs === null || decision.idleMs === undefined ? Infinity : idleTimeoutMs - decision.idleMs,
    );
    if (Number.isFinite(next)) this.enqueue(id, Math.max(0, next) + 50);
  }

  private async converge(id: string, signal: AbortSignal): Promise<void> {
    const ws = await this.repo.getById(id);
    if (!ws) return;
    if (ws.desiredState === 'deleted' || ws.status === 'deleting') return this.deletePass(ws);
    if (ws.desiredState === 'stopped') return this.stopPass(ws);
    if (this.restarts.delete(id) && ws.status !== 'stopped') {
      await this.stopPass(ws);
      const stopped = await this.repo.getById(id);
      if (!stopped || stopped.desiredState !== 'running') return;
      return this.runPass(stopped, signal);
    }
    switch (ws.status) {
      case 'failed':
        // Terminal until someone asks again (start, restart) — never a silent retry loop.
        if (!this.kicks.delete(id)) return;
        await this.repo.resetRestarts(id);
        return this.runPass({ ...ws, failureTimes: [], nextAttemptAt: null }, signal);
      case 'stopping':
        await this.stopPass(ws);
        this.enqueue(id);
        return;
      case 'running':
      case 'unresponsive':
        return this.checkRunning(ws, signal);
      default:
        this.kicks.delete(id);
        return this.runPass(ws, signal);
    }
  }

  /**
   * A workspace that should be running and was: is its container still there, running, as
   * planned, and (for agent runtimes) is its agent still heartbeating?
   */
  private async checkRunning(ws: WorkspaceRecord, signal: AbortSignal): Promise<void> {
    const { provisioner } = this.deps;
    const container = await provisioner.findContainer(ws);
    if (!container) {
      return this.recreate(
        ws,
        ev('workspace.container_missing', 'the container is gone; creating it again from the spec'),
        signal,
      );
    }
    if (!container.running) return this.handleExit(ws, container);
    // After a daemon restart the gateway listens again for workspaces that kept running (F8).
    if (usesGateway(ws.spec) && !(await this.deps.egress.ensureListening(ws.id))) {
      // No stored identity (it was never attached by this Berth): a restart issues one.
      this.restarts.add(ws.id);
      this.enqueue(ws.id);
      return;
    }
    const drift = await provisioner.driftOf(ws, container);
    if (drift.length > 0) {
      const message = `the container drifted from its spec (${drift.map((d) => `${d.field}: ${d.detail}`).join('; ')}); recreating it, volumes kept`;
      this.log.warn({ workspaceId: ws.id, fields: drift.map((d) => d.field) }, 'drift detected');
      await this.endSessions(ws.id);
      await this.deps.provisioner.removeContainerQuietly(container.id);
      return this.recreate(ws, ev('workspace.drift', message, { drift }), signal);
    }
    const runtime = this.deps.catalogue.get(ws.runtime);
    if (!runtime.agent) return;
    const { heartbeatTimeoutMs } = this.deps.config.agents;
    const last = Date.parse(ws.lastHeartbeatAt ?? ws.statusChangedAt);
    const silentMs = Date.now() - last;
    if (silentMs < heartbeatTimeoutMs) {
      if (ws.status === 'running') this.enqueue(ws.id, heartbeatTimeoutMs - silentMs + 50);
      return;
    }
    if (ws.status === 'running') {
      const moved = await this.move(ws, 'unresponsive', {
        from: ['running'],
        event: ev(
          'workspace.unresponsive',
          `no agent heartbeat for ${Math.round(silentMs / 1000)} s (timeout ${heartbeatTimeoutMs / 1000} s)`,
          { silentMs },
        ),
      });
      if (!moved) return;
    }
    if (ws.spec.lifecycle.restartPolicy === 'never') return; // stays unresponsive; a heartbeat revives it
    // The restart policy applies as to a crash: kill the silent process, count it, back off.
    await this.endSessions(ws.id);
    await provisioner.kill(container.id);
    const after = await provisioner.findContainer(ws);
    if (after && !after.running) await this.handleExit(ws, after, 'unresponsive');
  }

  /** Records why, then makes the workspace's container again from its spec (volumes are kept). */
  private async recreate(
    ws: WorkspaceRecord,
    why: ReturnType<typeof ev>,
    signal: AbortSignal,
  ): Promise<void> {
    await this.repo.appendEvent(ws.id, why);
    const event = ev('workspace.provisioning', 'recreating the container');
    if (await this.move(ws, 'provisioning', { event })) await this.runPass(ws, signal);
  }

  /**
   * The workspace's process ended without Berth asking (crash, OOM, `docker kill`, an agent found
   * unresponsive): restart per policy with backoff, stop on a clean finish, or fail — with
   * `crash_loop` after too many failures in the window — keeping the exit code and last output.
   */
  private async handleExit(
    ws: WorkspaceRecord,
    state: ContainerState,
    cause?: 'unresponsive',
  ): Promise<void> {
    const kind = cause === 'unresponsive' ? 'error' : classifyExit(state);
    const decision = decideRestart(
      ws.spec.lifecycle.restartPolicy,
      kind,
      ws.failureTimes,
      Date.now(),
      this.deps.config.restarts,
    );
    const how =
      cause === 'unresponsive'
        ? 'the agent stopped heartbeating and was killed'
        : `the workspace process exited with code ${state.exitCode ?? '?'}${state.oomKilled ? ' (out of memory)' : ''}`;
    const data = { exitCode: state.exitCode, oomKilled: state.oomKilled, exit: cause ?? kind };
    this.log.warn({ workspaceId: ws.id, ...data, decision: decision.action }, 'workspace process ended');
    const from: WorkspaceStatus[] = ['running', 'unresponsive', 'starting'];
    if (decision.action === 'stop') {
      await this.repo.setDesired(ws.id, 'stopped');
      await this.move(ws, 'stopped', {
        from,
        endpoints: [],
        restart: { lastExitCode: state.exitCode, nextAttemptAt: null },
        event: ev(
          'workspace.exited',
          `${how}; restart policy ${ws.spec.lifecycle.restartPolicy}: stopped`,
          data,
        ),
      });
      return;
    }
    if (decision.action === 'fail') {
      const logs = await this.deps.provisioner.lastLogLines(state.id);
      const message =
        decision.code === 'crash_loop'
          ? `crash loop: ${how}; that is ${decision.failureTimes.length} failures within ${this.deps.config.restarts.windowMs / 1000} s, so restarts stopped — fix the cause, then start it again${logs ? `; last output:\n${logs}` : ''}`
          : `${how}${logs ? `; last output:\n${logs}` : ''}`;
      await this.move(ws, 'failed', {
        from,
        endpoints: [],
        error: { code: decision.code, message },
        restart: { failureTimes: decision.failureTimes, lastExitCode: state.exitCode, nextAttemptAt: null },
        event: ev('workspace.failed', message, { code: decision.code, ...data }),
      });
      return;
    }
    const nextAttemptAt = new Date(Date.now() + decision.delayMs).toISOString();
    const moved = await this.move(ws, 'starting', {
      from,
      endpoints: [],
      restart: { failureTimes: decision.failureTimes, lastExitCode: state.exitCode, nextAttemptAt },
      event: ev(
        'workspace.restarting',
        `${how}; restart ${decision.attempt} of at most ${this.deps.config.restarts.maxFailures - 1} in ${decision.delayMs} ms (policy ${ws.spec.lifecycle.restartPolicy})`,
        { ...data, attempt: decision.attempt, delayMs: decision.delayMs },
      ),
    });
    if (moved) this.enqueue(ws.id, decision.delayMs);
  }

  /**
   * The runtime's required env, checked before the container is made or started: the spec's env
   * and secret env, grant placeholders, the runtime's env and the host's pass-through all count.
   */
  private checkRequiredEnv(ws: WorkspaceRecord, runtime: Runtime): void {
    const missing = missingRequiredEnv(runtime.requiredEnv, [
      ...Object.keys(runtime.env),
      ...Object.keys(ws.spec.env),
      ...Object.keys(ws.spec.secretEnv),
      ...Object.keys(placeholderEnv(ws.spec.grants)),
      ...this.deps.provisioner.passthroughEnvKeys(),
    ]);
    if (missing.length > 0) {
      throw new AppError(
        'env_missing',
        `runtime "${runtime.name}" needs ${missing.map(describeRequiredEnv).join('; ')} in the workspace env: add a grant that supplies it (e.g. grants: ["anthropic"]), a secretEnv entry, or env, then start it again`,
        { details: { missing } },
      );
    }
  }

  private async runPass(ws: WorkspaceRecord, outer: AbortSignal): Promise<void> {
    const { provisioner } = this.deps;
    const runtime = this.deps.catalogue.get(ws.runtime);
    // A restart waiting out its backoff: come back when it is due.
    const due = ws.nextAttemptAt ? Date.parse(ws.nextAttemptAt) - Date.now() : 0;
    if (ws.status === 'starting' && due > 0) {
      this.enqueue(ws.id, due);
      return;
    }
    const abort = new AbortController();
    this.aborts.set(ws.id, abort);
    const signal = AbortSignal.any([abort.signal, outer]);
    const sink = (p: Progress) => this.progress.set(ws.id, p);
    let createdNow: string | null = null;
    try {
      let container = await provisioner.findContainer(ws);
      // After a daemon restart the gateway listens again for workspaces that kept running (F8).
      if (container?.running && usesGateway(ws.spec)) await this.deps.egress.ensureListening(ws.id);
      if (ws.status === 'running' && container?.running) return;
      if (ws.status === 'starting' && container?.running && runtime.agent && !ws.nextAttemptAt) {
        return this.awaitAgent(ws, container);
      }
      this.checkRequiredEnv(ws, runtime);
      const reusable =
        container !== null &&
        container.labels[LABELS.specHash] === ws.specHash &&
        ws.status !== 'provisioning';
      let containerId: string;
      const restarting = ws.nextAttemptAt !== null;
      if (reusable && container) {
        containerId = container.id;
        if (
          ws.status !== 'starting' &&
          !(await this.move(ws, 'starting', { event: ev('workspace.starting', 'starting the container') }))
        )
          return;
        const restored = await provisioner.restoreConfigs(ws, containerId, () => this.newAgentToken(ws));
        if (restored.length > 0) {
          await this.repo.appendEvent(
            ws.id,
            ev(
              'workspace.configs_restored',
              `/configs lacked ${restored.join(', ')}; written again from the spec`,
              { files: restored },
            ),
          );
        }
      } else {
        if (
          ws.status !== 'provisioning' &&
          !(await this.move(ws, 'provisioning', {
            event: ev('workspace.provisioning', 'creating the container'),
          }))
        )
          return;
        const token = runtime.agent ? await this.newAgentToken(ws) : null;
        containerId = await provisioner.prepare(ws, sink, signal, token);
        createdNow = containerId;
        if (
          !(await this.move(ws, 'starting', {
            from: ['provisioning'],
            containerId,
            event: ev('workspace.starting', 'container created; starting it'),
          }))
        )
          return;
      }
      signal.throwIfAborted();
      const missing = await provisioner.missingRequiredFiles(ws, containerId);
      if (missing.length > 0) {
        throw new AppError(
          'config_missing',
          `/configs lacks ${missing.join(', ')}, which runtime "${ws.runtime}" requires, and the spec has no copy to restore; add it to the spec's files (or the runtime's template) and recreate the workspace`,
        );
      }
      if (needsBoot(ws.spec)) await this.prepareBoot(ws, containerId);
      sink({ phase: 'starting', message: 'starting the container' });
      const { state, endpoints } = await provisioner.start(ws, containerId);
      failpoint('create.after-start');
      if (restarting) {
        await this.repo.countRestart(ws.id, ev('workspace.restarted', 'the container was started again'));
        ws.nextAttemptAt = null;
      }
      if (!state.running) return this.handleExit(ws, state);
      container = state;
      if (ws.spec.readiness) {
        sink({ phase: 'starting', message: `waiting until ready: ${describeProbe(ws.spec.readiness)}` });
        const result = await waitUntilReady(
          ws.spec.readiness,
          probeTarget(ws.spec.tier, state.ipAddress, endpoints),
          async (cmd, timeoutMs) => {
            const r = await this.deps.commands.exec(ws, { cmd, timeoutMs, maxOutputBytes: 4096 });
            return { exitCode: r.exitCode, output: r.stderr || r.stdout };
          },
          signal,
          async () => {
            const now = await provisioner.findContainer(ws);
            return now?.running ? null : `the workspace process exited with code ${now?.exitCode ?? '?'}`;
          },
        );
        if (signal.aborted) return;
        if (!result.ok) {
          await provisioner.stop(containerId).catch(() => {});
          throw new AppError('readiness_failed', result.last);
        }
      }
      if (runtime.agent) {
        // Running once the agent registers (POST /v1/agent/register); until then, starting.
        await this.repo.updateFacts(ws.id, {
          containerId,
          endpoints,
          engineRuntime: container.ociRuntime ?? this.deps.engine.info?.defaultRuntime ?? 'runc',
        });
        sink({ phase: 'starting', message: 'waiting for the agent to register' });
        this.enqueue(ws.id, runtime.provisionTimeoutMs + 100);
        return;
      }
      await this.move(ws, 'running', {
        from: ['starting'],
        containerId,
        endpoints,
        engineRuntime: container.ociRuntime ?? this.deps.engine.info?.defaultRuntime ?? 'runc',
        event: ev('workspace.running', 'the container is running', {
          containerId,
          endpoints: endpoints.map((e) => e.url),
        }),
      });
    } catch (err) {
      if (abort.signal.aborted) return; // a stop or delete took over; its pass runs next
      if (err instanceof AppError && err.code === 'engine_unavailable') {
        // Retryable: keep the status, say so once, and let the queue back off (F3, F4).
        if (this.queue.failureCount(ws.id) === 0) {
          await this.repo
            .appendEvent(ws.id, ev('workspace.engine_unavailable', `${err.message}; retrying with backoff`))
            .catch(() => {});
        }
        throw err;
      }
      const error =
        err instanceof AppError
          ? err
          : outer.aborted
            ? new AppError('engine_error', `the pass timed out: ${errorMessage(outer.reason)}`)
            : new AppError('internal', 'unexpected error while provisioning', { cause: err });
      this.log.warn({ workspaceId: ws.id, code: error.code, err: errorMessage(err) }, 'workspace failed');
      if (createdNow && !['container_exited', 'config_missing', 'readiness_failed'].includes(error.code)) {
        await this.deps.provisioner.removeContainerQuietly(createdNow);
      }
      await this.move(ws, 'failed', {
        from: ['provisioning', 'starting', 'running', 'stopped', 'failed'],
        error: {
          code: error.code,
          message:
            error.status >= 500 && error.code === 'internal'
              ? `${error.message}: ${errorMessage(err)}`
              : error.message,
        },
        event: ev('workspace.failed', error.message, { code: error.code }),
      });
    } finally {
      if (this.aborts.get(ws.id) === abort) this.aborts.delete(ws.id);
      this.progress.delete(ws.id);
    }
  }

  /**
   * Before every start of a workspace that boots through berth-helper: a fresh gateway token and
   * CA with the socket listening (allowlist), and the env file, written into /configs/.berth. A
   * failure fails the start: such a workspace never runs without its gateway (X7, P5).
   */
  private async prepareBoot(ws: WorkspaceRecord, containerId: string): Promise<void> {
    let files;
    try {
      const ownerIsAdmin = ws.ownerId === ADMIN_ID;
      files = usesGateway(ws.spec)
        ? await this.deps.egress.attach(ws.id, ws.spec, ownerIsAdmin)
        : await this.deps.egress.envFile(ws.id, ws.spec, ownerIsAdmin);
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw new AppError(
        'egress_unavailable',
        `the egress gateway could not be set up: ${errorMessage(err)}`,
      );
    }
    await this.deps.provisioner.writeConfigs(ws, containerId, files);
  }

  /**
   * Changes a workspace's egress rules and grants in place: the gateway reads them on every
   * connection, so they apply at once, without recreating the container. Placeholders of new
   * grants reach new processes (commands, terminals) now and the main process at its next start.
   */
  async updateEgress(principal: Principal, ref: string, body: unknown): Promise<Workspace> {
    const update = parseWith(EgressUpdateSchema, body, 'body');
    const ws = await this.find(principal, ref);
    const mode = update.mode ?? ws.spec.egress.mode;
    if (mode !== ws.spec.egress.mode) {
      throw new AppError(
        'validation_failed',
        `egress.mode is fixed when the workspace is created (it decides the container's network); it is ${ws.spec.egress.mode}. Create a new workspace for mode ${mode}`,
      );
    }
    const grantInputs = update.grants ?? ws.spec.grants.map(grantInputOf);
    const { egress, grants } = normalizeEgress(
      {
        egress: {
          mode,
          allow: update.allow ?? ws.spec.egress.allow,
          deny: update.deny ?? ws.spec.egress.deny,
        },
        grants: grantInputs,
      },
      ws.spec.tier,
    );
    const spec = { ...ws.spec, egress, grants };
    const changed = await this.repo.updateSpecInPlace(
      ws.id,
      spec,
      ev('workspace.egress_updated', 'egress rules or grants changed', {
        allow: egress.allow.length,
        deny: egress.deny.length,
        grants: grants.map((g) => g.name),
      }),
    );
    if (!changed) throw new AppError('workspace_not_found', `workspace ${ref} is being deleted`);
    const updated = { ...ws, spec };
    if (ws.status === 'running' || ws.status === 'unresponsive') {
      // New placeholders for new commands now: through berth-helper as the workspace user, never
      // the engine's archive API into a running container (E7). Best effort: the next start
      // writes the file again anyway.
      const file = await this.deps.egress.envFile(ws.id, spec, ws.ownerId === ADMIN_ID).catch(() => null);
      const env = file?.[CONFIG_FILES.env];
      if (env) {
        await this.deps.files
          .write(
            updated,
            'configs',
            CONFIG_FILES.env,
            Readable.from([Buffer.from(env.contentBase64, 'base64')]),
            {
              mode: env.mode,
              parents: true,
            },
          )
          .catch((err: unknown) =>
            this.log.warn({ workspaceId: ws.id, err: errorMessage(err) }, 'could not refresh the env file'),
          );
      }
    }
    return this.view((await this.repo.getById(ws.id)) ?? updated);
  }

  /** A started agent workspace waits for its agent; past the provision timeout it fails. */
  private async awaitAgent(ws: WorkspaceRecord, container: ContainerState): Promise<void> {
    const runtime = this.deps.catalogue.get(ws.runtime);
    const started = Date.parse(container.startedAt ?? ws.statusChangedAt);
    const left = started + runtime.provisionTimeoutMs - Date.now();
    if (left > 0) {
      this.progress.set(ws.id, { phase: 'starting', message: 'waiting for the agent to register' });
      this.enqueue(ws.id, left + 100);
      return;
    }
    const logs = await this.deps.provisioner.lastLogLines(container.id);
    const message = `the agent did not register within ${runtime.provisionTimeoutMs / 1000} s (runtime ${ws.runtime} provisionTimeoutMs); check that the image runs an agent that calls POST /v1/agent/register over $BERTH_AGENT_SOCKET${logs ? `; last output:\n${logs}` : ''}`;
    await this.deps.provisioner.stop(container.id).catch(() => {});
    this.progress.delete(ws.id);
    await this.move(ws, 'failed', {
      from: ['starting'],
      endpoints: [],
      error: { code: 'provision_timeout', message },
      event: ev('workspace.failed', message, { code: 'provision_timeout' }),
    });
  }

  /** A fresh agent token: its hash goes into the store, the token only into /configs. */
  private async newAgentToken(ws: WorkspaceRecord): Promise<string> {
    const token = `bat_${randomBytes(24).toString('base64url')}`;
    await this.repo.setAgentToken(ws.id, sha256Hex(token));
    return token;
  }

  private async stopPass(ws: WorkspaceRecord): Promise<void> {
    if (ws.status === 'stopped' || ws.status === 'failed') {
      // Level-triggered: a container running against a stopped workspace is stopped too.
      const stray = await this.deps.provisioner.findContainer(ws).catch(() => null);
      if (stray?.running) await this.deps.provisioner.stop(stray.id);
      return;
    }
    if (
      ws.status !== 'stopping' &&
      !(await this.move(ws, 'stopping', { event: ev('workspace.stopping', 'stopping the container') }))
    ) {
      return;
    }
    try {
      this.progress.set(ws.id, { phase: 'stopping', message: 'stopping the container' });
      await this.endSessions(ws.id);
      const container = await this.deps.provisioner.findContainer(ws);
      if (container?.running) await this.deps.provisioner.stop(container.id);
      await this.move(ws, 'stopped', {
        from: ['stopping'],
        restart: { nextAttemptAt: null },
        event: ev('workspace.stopped', 'the container is stopped'),
      });
    } catch (err) {
      if (err instanceof AppError && err.code === 'engine_unavailable') throw err; // retried
      const error = err instanceof AppError ? err : new AppError('internal', errorMessage(err));
      await this.move(ws, 'failed', {
        from: ['stopping'],
        error: { code: error.code, message: `stop failed: ${error.message}` },
        event: ev('workspace.failed', `stop failed: ${error.message}`, { code: error.code }),
      });
    } finally {
      this.progress.delete(ws.id);
    }
  }

  private async deletePass(ws: WorkspaceRecord): Promise<void> {
    if (
      ws.status !== 'deleting' &&
      !(await this.move(ws, 'deleting', { event: ev('workspace.deleting', 'delete requested') }))
    ) {
      return;
    }
    try {
      this.progress.set(ws.id, {
        phase: 'deleting',
        message: 'removing the container, networks and volumes',
      });
      await this.endSessions(ws.id);
      await this.deps.provisioner.removeAll(ws.id);
      await this.deps.egress.detach(ws.id);
      await this.move(ws, 'deleted', {
        from: ['deleting'],
        event: ev('workspace.deleted', 'container, networks and volumes removed'),
      });
      this.log.info({ workspaceId: ws.id, name: ws.name }, 'workspace deleted');
    } catch (err) {
      // Stays `deleting` (nothing can leave it but `deleted`); the queue retries with backoff.
      const error = err instanceof AppError ? err : new AppError('internal', errorMessage(err));
      this.deleteFailures.set(ws.id, error);
      if (this.queue.failureCount(ws.id) === 0) {
        await this.repo
          .appendEvent(
            ws.id,
            ev('workspace.delete_failed', `removal failed: ${error.message}; retrying`, { code: error.code }),
          )
          .catch(() => {});
      }
      this.log.warn({ workspaceId: ws.id, err: error.message }, 'delete failed; retrying with backoff');
      throw error;
    } finally {
      this.progress.delete(ws.id);
    }
  }

  /** Commands and terminals end with their workspace's container. */
  private async endSessions(workspaceId: string): Promise<void> {
    await Promise.all([
      this.deps.commands.killAll(workspaceId),
      this.deps.terminals.killAll(workspaceId),
    ]).catch(() => {});
  }

  private async move(ws: WorkspaceRecord, to: WorkspaceStatus, change: StatusChange): Promise<boolean> {
    const updated = await this.repo.transition(ws.id, to, change);
    if (updated) ws.status = to;
    return updated !== undefined;
  }
}

/** Who acts when Berth itself stops or deletes a workspace (idle timeout, TTL). */
const SYSTEM: Principal = { id: 'system', scope: 'admin' };

const ev = (type: string, message: string, data?: Record<string, unknown>) => ({
  type,
  message,
  ...(data ? { data } : {}),
});

/** A stored grant as input again: built-ins by name, the rest spelled out. */
function grantInputOf(g: Grant): GrantInput {
  if ((BUILTIN_GRANTS as readonly string[]).includes(g.name) && g.placeholderEnv !== null)
    return g.name as BuiltinGrant;
  return {
    name: g.name,
    hosts: g.hosts,
    header: g.header,
    secret: g.secret,
    ...(g.prefix ? { prefix: g.prefix } : {}),
  };
}
