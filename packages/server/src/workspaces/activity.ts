import { performance } from 'node:perf_hooks';
import type { Logger } from '../log/logger.js';
import type { OutputListener } from './stream-session.js';

/** What the places that see activity need: cheap, synchronous, never failing. */
export interface ActivitySink {
  /** The workspace was used just now (a command, a keystroke, a proxied request, ...). */
  touch(workspaceId: string): void;
  /**
   * A session opened (a terminal or streamed command with a client, a log follow, a proxied
   * WebSocket): the workspace counts as active until the returned function is called (idempotent).
   */
  begin(workspaceId: string): () => void;
}

/** For services built without a tracker (nothing is recorded). */
export const NO_ACTIVITY: ActivitySink = { touch: () => {}, begin: () => () => {} };

/** Where activity is persisted (WorkspaceRepo). Resolves false when the workspace is gone. */
export interface ActivityStore {
  touchActivity(id: string, atIso: string): Promise<boolean>;
}

export interface ActivityTrackerOptions {
  /** Longest a workspace's persisted `last_activity_at` lags behind (at most one write per this, per workspace). */
  persistEveryMs?: number;
  logger?: Logger;
}

/**
 * Last activity per workspace, in memory on the monotonic clock, persisted write-behind: the first
 * touch is written at once, later ones at most once every `persistEveryMs` per workspace. Open
 * sessions count as activity for as long as they are open, and keep the persisted time advancing.
 */
export class ActivityTracker implements ActivitySink {
  private readonly persistEveryMs: number;
  /** performance.now() of the last activity. */
  private readonly last = new Map<string, number>();
  private readonly sessions = new Map<string, number>();
  /** performance.now() of the last write, per workspace. */
  private readonly written = new Map<string, number>();
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private readonly writes = new Set<Promise<void>>();
  private readonly heartbeat: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly store: ActivityStore,
    private readonly options: ActivityTrackerOptions = {},
  ) {
    this.persistEveryMs = options.persistEveryMs ?? 5000;
    // Workspaces with open sessions stay active: their persisted time moves on too.
    this.heartbeat = setInterval(() => {
      for (const id of this.sessions.keys()) this.touch(id);
    }, this.persistEveryMs);
    this.heartbeat.unref();
  }

  touch(workspaceId: string): void {
    if (this.closed) return;
    this.last.set(workspaceId, performance.now());
    if (this.pending.has(workspaceId)) return; // the scheduled write takes the latest time
    const since = performance.now() - (this.written.get(workspaceId) ?? -Infinity);
    if (since >= this.persistEveryMs) this.persist(workspaceId);
    else {
      const timer = setTimeout(() => {
        this.pending.delete(workspaceId);
        this.persist(workspaceId);
      }, this.persistEveryMs - since);
      timer.unref();
      this.pending.set(workspaceId, timer);
    }
  }

  begin(workspaceId: string): () => void {
    this.sessions.set(workspaceId, (this.sessions.get(workspaceId) ?? 0) + 1);
    this.touch(workspaceId);
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      const left = (this.sessions.get(workspaceId) ?? 1) - 1;
      if (left > 0) this.sessions.set(workspaceId, left);
      else this.sessions.delete(workspaceId);
      this.touch(workspaceId);
    };
  }

  /** Sessions open on a workspace now. */
  openSessions(workspaceId: string): number {
    return this.sessions.get(workspaceId) ?? 0;
  }

  /**
   * Wall-clock ms of the workspace's last activity as this process saw it: `nowMs` while a session
   * is open, null when it saw none.
   */
  lastActiveAt(workspaceId: string, nowMs = Date.now()): number | null {
    if (this.openSessions(workspaceId) > 0) return nowMs;
    const last = this.last.get(workspaceId);
    return last === undefined ? null : nowMs - (performance.now() - last);
  }

  /** Writes what is pending and stops; later activity is ignored. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.heartbeat);
    for (const [id, timer] of this.pending) {
      clearTimeout(timer);
      this.write(id);
    }
    this.pending.clear();
    await Promise.allSettled([...this.writes]);
  }

  private persist(workspaceId: string): void {
    this.written.set(workspaceId, performance.now());
    this.write(workspaceId);
  }

  private write(workspaceId: string): void {
    const at = this.lastActiveAt(workspaceId);
    if (at === null) return;
    const p = this.store
      .touchActivity(workspaceId, new Date(at).toISOString())
      .then((live) => {
        // Deleted (or never stored): forget it, unless something is still using it.
        if (!live && this.openSessions(workspaceId) === 0 && !this.pending.has(workspaceId)) {
          this.last.delete(workspaceId);
          this.written.delete(workspaceId);
        }
      })
      .catch((err: unknown) => {
        this.options.logger?.warn(
          { workspaceId, err: err instanceof Error ? err.message : String(err) },
          'could not record workspace activity',
        );
      })
      .finally(() => this.writes.delete(p));
    this.writes.add(p);
  }
}

/**
 * Attaches an output listener as an active client: its attachment is a session, and each chunk it
 * receives counts as activity. `attach` is the stream session's own attach.
 */
export function attachActive(
  activity: ActivitySink,
  workspaceId: string,
  listener: OutputListener,
  attach: (listener: OutputListener) => () => void,
): () => void {
  const end = activity.begin(workspaceId);
  const detach = attach((chunk) => {
    activity.touch(workspaceId);
    return listener(chunk);
  });
  return () => {
    detach();
    end();
  };
}
