import {
  TRANSITIONAL_STATUSES,
  type Page,
  type Progress,
  type Workspace,
  type WorkspaceEvent,
  type WorkspaceStatus,
} from '@berth/protocol';
import type { ResolvedConfig } from '../config/load.js';
import type { NormalizedSpec, WorkspaceRecord } from '../domain/workspace.js';
import { LABELS } from '../engine/labels.js';
import type { EngineDriver } from '../engine/types.js';
import { AppError, errorMessage } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { RuntimeCatalogue } from '../runtimes/catalogue.js';
import type { StatusChange, WorkspaceRepo } from '../store/workspace-repo.js';
import { canonicalHash } from '../util/canonical-json.js';
import { newWorkspaceId } from '../util/ids.js';
import { KeyedMutex } from '../util/keyed-mutex.js';
import { generateUniqueName } from '../util/names.js';
import type { CommandService } from './commands.js';
import type { Provisioner } from './provisioner.js';
import { describe as describeProbe, probeTarget, waitUntilReady } from './readiness.js';
import { normalizeSpec, specHash, WorkspaceSpecSchema, type Principal } from './spec.js';
import type { TerminalService } from './terminals.js';
import { toWireWorkspace } from './view.js';
import { parseWith } from './validate.js';

export interface WorkspaceServiceDeps {
  repo: WorkspaceRepo;
  provisioner: Provisioner;
  /** Runs command readiness probes, and ends a workspace's commands when it stops. */
  commands: CommandService;
  terminals: TerminalService;
  engine: EngineDriver;
  catalogue: RuntimeCatalogue;
  config: ResolvedConfig;
  logger: Logger;
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
 * Workspace lifecycle. Each API call records the desired state in the store, then a per-workspace
 * pass (serialised by a keyed mutex) converges the engine on it. Every status change is a
 * conditional update, so a pass that lost a race (e.g. to a delete) simply stops.
 */
export class WorkspaceService {
  private readonly mutex = new KeyedMutex();
  private readonly progress = new Map<string, Progress>();
  private readonly passes = new Map<string, Promise<void>>();
  private readonly aborts = new Map<string, AbortController>();
  /** Workspaces whose next run pass must stop the container first. */
  private readonly restarts = new Set<string>();
  /** Why the last removal of a workspace failed, for the caller waiting on it. */
  private readonly deleteFailures = new Map<string, AppError>();
  private readonly log: Logger;
  private closed = false;

  constructor(private readonly deps: WorkspaceServiceDeps) {
    this.log = deps.logger.child({ component: 'workspaces' });
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
        const pass = this.schedule(record.id);
        if (options.wait) await pass;
      } else if (options.wait) {
        await this.passes.get(record.id);
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
    return this.request(principal, ref, 'running', wait);
  }

  async stop(principal: Principal, ref: string, wait: boolean): Promise<Workspace> {
    return this.request(principal, ref, 'stopped', wait);
  }

  async restart(principal: Principal, ref: string, wait: boolean): Promise<Workspace> {
    const ws = await this.find(principal, ref);
    await this.setDesiredOrConflict(ws, 'running');
    this.restarts.add(ws.id);
    const pass = this.schedule(ws.id);
    if (wait) await pass;
    return this.view((await this.repo.getById(ws.id, true)) ?? ws);
  }

  private async request(principal: Principal, ref: string, desired: 'running' | 'stopped', wait: boolean) {
    const ws = await this.find(principal, ref);
    await this.setDesiredOrConflict(ws, desired);
    if (desired === 'stopped') this.aborts.get(ws.id)?.abort();
    const pass = this.schedule(ws.id);
    if (wait) await pass;
    return this.view((await this.repo.getById(ws.id, true)) ?? ws);
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
          `workspace ${ws.name} could not be fully removed yet (${failure?.message ?? 'see its events'}); it stays deleting — delete it again to retry`,
        );
      }
      return null;
    }
    return this.view((await this.repo.getById(ws.id, true)) ?? ws);
  }

  /**
   * Watches the engine for workspace containers that die. A workspace that should be running and
   * whose container exited becomes `failed` with `container_exited` (exit code, OOM, last output);
   * stops and deletes Berth asked for are not failures (the status is stopping/deleting then).
   */
  watchEngine(signal: AbortSignal): void {
    this.deps.engine.watchExits(
      { [LABELS.managed]: 'true', [LABELS.role]: 'container' },
      (exit) => {
        const id = exit.labels[LABELS.workspace];
        if (id)
          void this.mutex
            .run(id, () => this.onExit(id, exit.containerId))
            .catch((err: unknown) => {
              this.log.warn({ workspaceId: id, err: errorMessage(err) }, 'handling a container exit failed');
            });
      },
      signal,
    );
  }

  private async onExit(id: string, containerId: string): Promise<void> {
    const ws = await this.repo.getById(id);
    if (!ws || ws.status !== 'running' || ws.desiredState !== 'running' || ws.containerId !== containerId)
      return;
    const state = await this.deps.provisioner.findContainer(ws);
    if (!state || state.running) return;
    const logs = await this.deps.provisioner.lastLogLines(containerId);
    const message = `the workspace process exited with code ${state.exitCode ?? '?'}${state.oomKilled ? ' (out of memory)' : ''}${logs ? `; last output:\n${logs}` : ''}`;
    this.log.warn(
      { workspaceId: id, exitCode: state.exitCode, oomKilled: state.oomKilled },
      'workspace container exited',
    );
    await this.move(ws, 'failed', {
      from: ['running'],
      error: { code: 'container_exited', message },
      endpoints: [],
      event: ev('workspace.failed', message, {
        code: 'container_exited',
        exitCode: state.exitCode,
        oomKilled: state.oomKilled,
      }),
    });
  }

  /** Resumes operations a previous server process left half-done (provisioning, stopping, deleting…). */
  async resumeInterrupted(): Promise<number> {
    const pending = await this.repo.listByStatus([...TRANSITIONAL_STATUSES]);
    for (const ws of pending) {
      this.log.info(
        { workspaceId: ws.id, status: ws.status, desired: ws.desiredState },
        'resuming interrupted operation',
      );
      void this.schedule(ws.id);
    }
    return pending.length;
  }

  /** Stops accepting passes and waits (bounded) for those in flight. */
  async close(timeoutMs = 30_000): Promise<void> {
    this.closed = true;
    const all = Promise.allSettled([...this.passes.values()]);
    await Promise.race([all, new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
  }

  private schedule(id: string): Promise<void> {
    if (this.closed) return Promise.resolve();
    return this.track(
      id,
      this.mutex
        .run(id, () => this.pass(id))
        .catch((err: unknown) => {
          this.log.error({ workspaceId: id, err }, 'workspace pass crashed');
        }),
    );
  }

  private track(id: string, p: Promise<unknown>): Promise<void> {
    const tracked = p.then(() => undefined);
    this.passes.set(id, tracked);
    void tracked.finally(() => {
      if (this.passes.get(id) === tracked) this.passes.delete(id);
    });
    return tracked;
  }

  /** One convergence pass for a workspace: do what its desired state asks. */
  private async pass(id: string): Promise<void> {
    const ws = await this.repo.getById(id);
    if (!ws) return;
    if (ws.desiredState === 'deleted' || ws.status === 'deleting') return this.deletePass(ws);
    if (ws.desiredState === 'stopped') return this.stopPass(ws);
    if (this.restarts.delete(id) && ws.status !== 'stopped') {
      await this.stopPass(ws);
      const stopped = await this.repo.getById(id);
      if (!stopped || stopped.desiredState !== 'running') return;
      return this.runPass(stopped);
    }
    return this.runPass(ws);
  }

  private async runPass(ws: WorkspaceRecord): Promise<void> {
    const { provisioner } = this.deps;
    const abort = new AbortController();
    this.aborts.set(ws.id, abort);
    const sink = (p: Progress) => this.progress.set(ws.id, p);
    let createdNow: string | null = null;
    try {
      let container = await provisioner.findContainer(ws);
      if (ws.status === 'running' && container?.running) return;
      const reusable =
        container !== null &&
        container.labels['berth.spec-hash'] === ws.specHash &&
        ws.status !== 'provisioning';
      let containerId: string;
      if (reusable && container) {
        containerId = container.id;
        if (
          ws.status !== 'starting' &&
          !(await this.move(ws, 'starting', { event: ev('workspace.starting', 'starting the container') }))
        )
          return;
      } else {
        if (
          ws.status !== 'provisioning' &&
          !(await this.move(ws, 'provisioning', {
            event: ev('workspace.provisioning', 'creating the container'),
          }))
        )
          return;
        containerId = await provisioner.prepare(ws, sink, abort.signal);
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
      abort.signal.throwIfAborted();
      const missing = await provisioner.missingRequiredFiles(ws, containerId);
      if (missing.length > 0) {
        throw new AppError(
          'config_missing',
          `/configs lacks ${missing.join(', ')}, which runtime "${ws.runtime}" requires; the config volume was emptied — delete and recreate the workspace with the files`,
        );
      }
      sink({ phase: 'starting', message: 'starting the container' });
      const { state, endpoints } = await provisioner.start(ws, containerId);
      if (!state.running) {
        const logs = await provisioner.lastLogLines(containerId);
        throw new AppError(
          'container_exited',
          `the workspace process exited with code ${state.exitCode ?? '?'}${state.oomKilled ? ' (out of memory)' : ''} right after start${logs ? `; last output:\n${logs}` : ''}`,
        );
      }
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
          abort.signal,
          async () => {
            const now = await provisioner.findContainer(ws);
            return now?.running ? null : `the workspace process exited with code ${now?.exitCode ?? '?'}`;
          },
        );
        if (abort.signal.aborted) return;
        if (!result.ok) {
          await provisioner.stop(containerId).catch(() => {});
          throw new AppError('readiness_failed', result.last);
        }
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
      const error =
        err instanceof AppError
          ? err
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

  private async stopPass(ws: WorkspaceRecord): Promise<void> {
    if (ws.status === 'stopped') return;
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
        event: ev('workspace.stopped', 'the container is stopped'),
      });
    } catch (err) {
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
      await this.move(ws, 'deleted', {
        from: ['deleting'],
        event: ev('workspace.deleted', 'container, networks and volumes removed'),
      });
      this.log.info({ workspaceId: ws.id, name: ws.name }, 'workspace deleted');
    } catch (err) {
      // Stays `deleting` (nothing can leave it but `deleted`); a later delete or restart resumes it.
      const error = err instanceof AppError ? err : new AppError('internal', errorMessage(err));
      this.deleteFailures.set(ws.id, error);
      await this.repo.appendEvent(
        ws.id,
        ev('workspace.delete_failed', `removal failed: ${error.message}`, { code: error.code }),
      );
      this.log.warn(
        { workspaceId: ws.id, err: error.message },
        'delete failed; will resume on the next delete or start-up',
      );
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

const ev = (type: string, message: string, data?: Record<string, unknown>) => ({
  type,
  message,
  ...(data ? { data } : {}),
});
