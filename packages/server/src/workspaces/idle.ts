import type { WorkspaceRecord } from '../domain/workspace.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { WorkspaceRepo } from '../store/workspace-repo.js';
import type { ActivityTracker } from './activity.js';
import type { WorkspaceService } from './workspace-service.js';

/** What the decision reads of a workspace. */
export type LifecycleSubject = Pick<
  WorkspaceRecord,
  'status' | 'desiredState' | 'createdAt' | 'statusChangedAt' | 'lastActivityAt'
> & { spec: { lifecycle: { idleTimeoutMs: number | null; ttlMs: number | null } } };

export interface LifecycleDecision {
  action: 'stop' | 'delete' | null;
  /** Why, in words (for logs). */
  reason: string;
  /** How long the workspace has been idle (when an idle timeout applies). */
  idleMs?: number;
  /** How old the workspace is (when a TTL applies). */
  ageMs?: number;
}

const parsed = (iso: string | null): number => (iso === null ? -Infinity : Date.parse(iso));

/**
 * What the idle sweeper does with a workspace now (wall-clock ms). A TTL counts from creation and
 * deletes in any live status, before any idle rule. An idle timeout stops a workspace that is
 * running (or unresponsive) and meant to run, once `idleTimeoutMs` passed since the latest of its
 * last activity (`lastActivityMs` as this process saw it, else the stored `lastActivityAt`) and the
 * last time its status changed (for a running workspace: when it became running, so each start gets
 * a fresh idle period). Null limits mean never.
 */
export function lifecycleDecision(
  ws: LifecycleSubject,
  lastActivityMs: number | null,
  nowMs: number,
): LifecycleDecision {
  const { idleTimeoutMs, ttlMs } = ws.spec.lifecycle;
  if (ws.status === 'deleting' || ws.status === 'deleted' || ws.desiredState === 'deleted')
    return { action: null, reason: 'already being deleted' };
  if (ttlMs !== null) {
    const ageMs = nowMs - Date.parse(ws.createdAt);
    if (ageMs >= ttlMs) return { action: 'delete', reason: `ttl of ${ttlMs} ms reached`, ageMs };
  }
  if (idleTimeoutMs === null) return { action: null, reason: 'no idle timeout' };
  if ((ws.status !== 'running' && ws.status !== 'unresponsive') || ws.desiredState !== 'running')
    return { action: null, reason: `${ws.status} (desired ${ws.desiredState}): not idle-stopped` };
  const since = Math.max(lastActivityMs ?? -Infinity, parsed(ws.lastActivityAt), parsed(ws.statusChangedAt));
  const idleMs = Math.max(0, nowMs - since);
  if (idleMs >= idleTimeoutMs)
    return { action: 'stop', reason: `idle for ${idleMs} ms (timeout ${idleTimeoutMs} ms)`, idleMs };
  return { action: null, reason: `idle for ${idleMs} ms of ${idleTimeoutMs} ms`, idleMs };
}

export interface IdleSweeperDeps {
  repo: Pick<WorkspaceRepo, 'listWithLifecycleLimits'>;
  workspaces: Pick<WorkspaceService, 'stopForIdle' | 'deleteForTtl'>;
  activity: Pick<ActivityTracker, 'lastActiveAt'>;
  logger: Logger;
  /** Pause between sweeps (default 1000 ms). */
  sweepIntervalMs?: number;
}

/**
 * Every `sweepIntervalMs`, stops workspaces idle past their `idleTimeoutMs` and deletes those past
 * their `ttlMs`, through WorkspaceService (as the system). Sweeps never overlap.
 */
export class IdleSweeper {
  private readonly intervalMs: number;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly deps: IdleSweeperDeps) {
    this.intervalMs = deps.sweepIntervalMs ?? 1000;
    this.log = deps.logger.child({ component: 'idle' });
  }

  start(): this {
    this.stopped = false;
    this.next();
    return this;
  }

  /** Stops sweeping and waits for a sweep in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.sweeping;
  }

  private next(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.sweeping = this.sweep().finally(() => {
        this.sweeping = undefined;
        this.next();
      });
    }, this.intervalMs);
    this.timer.unref();
  }

  /** One sweep: decide for every workspace with a limit, and act. */
  async sweep(): Promise<void> {
    let candidates: WorkspaceRecord[];
    try {
      candidates = await this.deps.repo.listWithLifecycleLimits();
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'idle sweep could not list workspaces');
      return;
    }
    for (const ws of candidates) {
      if (this.stopped) return;
      const now = Date.now();
      const decision = lifecycleDecision(ws, this.deps.activity.lastActiveAt(ws.id, now), now);
      if (decision.action === null) continue;
      this.log.info({ workspaceId: ws.id, action: decision.action }, decision.reason);
      try {
        if (decision.action === 'stop') await this.deps.workspaces.stopForIdle(ws.id, decision.idleMs ?? 0);
        else await this.deps.workspaces.deleteForTtl(ws.id, decision.ageMs ?? 0);
      } catch (err) {
        this.log.warn(
          { workspaceId: ws.id, action: decision.action, err: errorMessage(err) },
          'idle sweep could not act',
        );
      }
    }
  }
}
