import type { WorkspaceRecord } from '../domain/workspace.js';

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
 * What a workspace's idle timeout and TTL ask for now (wall-clock ms); the reconcile pass acts on it. A TTL counts from creation and
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
