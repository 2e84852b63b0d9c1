import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ResolvedConfig } from '../config/load.js';
import { LABELS } from '../engine/labels.js';
import type { EngineDriver } from '../engine/types.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { LeaseRepo } from '../store/lease-repo.js';
import type { WorkspaceRepo } from '../store/workspace-repo.js';
import type { ToolsVolume } from '../workspaces/tools.js';
import type { EgressGateway } from '../egress/gateway.js';
import type { WorkspaceService } from '../workspaces/workspace-service.js';

export const RECONCILER_LEASE = 'reconciler';

/** Helper containers (volume prep, tools fill, files of stopped workspaces) never live this long. */
const HELPER_MAX_AGE_MS = 60 * 60 * 1000;

export interface ReconcilerDeps {
  repo: WorkspaceRepo;
  engine: EngineDriver;
  workspaces: WorkspaceService;
  leases: LeaseRepo;
  tools: ToolsVolume;
  config: ResolvedConfig;
  logger: Logger;
  storeId: string;
  /** Who we are in the lease table (host, pid, random). */
  holder: string;
  /** The egress gateway's per-workspace state (socket directory, CA, token) to reap with the rest. */
  egress: Pick<EgressGateway, 'attachedIds' | 'detach'>;
}

export interface ScanResult {
  workspaces: number;
  orphansRemoved: string[];
  orphansPending: number;
}

/**
 * The level-triggered half of the control plane (P1, P4, P6): every `intervalMs` it queues a pass
 * for every live workspace and reaps labeled engine objects no live workspace owns once they
 * have been seen for `orphanGraceMs`. Only objects labeled with this store's id are touched, and
 * never unlabeled ones. One reconciler per store at a time: it holds a lease in the store, and a
 * second server on the same store waits for it.
 */
export class Reconciler {
  private readonly log: Logger;
  /** Orphan key → when it was first seen (monotonic ms). */
  private readonly firstSeen = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private scanning: Promise<ScanResult> | undefined;
  private stopped = false;
  private released = false;
  lastScan: { at: string; result: ScanResult } | null = null;
  lastError: string | null = null;

  constructor(private readonly deps: ReconcilerDeps) {
    this.log = deps.logger.child({ component: 'reconciler' });
  }

  /**
   * Waits until this process holds the reconciler lease (F11). `onWaiting` is told who holds it,
   * once per holder. Resolves false when `signal` aborts first.
   */
  async acquireLease(
    signal: AbortSignal | undefined,
    onWaiting: (holder: string, expiresAt: string) => void,
  ): Promise<boolean> {
    const { leaseTtlMs } = this.deps.config.reconciler;
    let told = '';
    while (!signal?.aborted) {
      const state = await this.deps.leases.tryAcquire(RECONCILER_LEASE, this.deps.holder, leaseTtlMs);
      if (state.acquired) return true;
      if (told !== state.holder) {
        told = state.holder;
        onWaiting(state.holder, state.expiresAt);
      }
      await sleep(Math.min(1000, Math.max(100, leaseTtlMs / 4)), undefined, { signal }).catch(
        () => undefined,
      );
    }
    return false;
  }

  /** Keeps the lease; `onLost` runs once if another holder took it (then this process must stop writing). */
  keepLease(onLost: (holder: string) => void): void {
    const { leaseTtlMs } = this.deps.config.reconciler;
    const renew = async () => {
      if (this.released) return;
      try {
        const state = await this.deps.leases.tryAcquire(RECONCILER_LEASE, this.deps.holder, leaseTtlMs);
        if (this.released) return;
        if (!state.acquired) {
          this.log.error({ holder: state.holder }, 'lost the reconciler lease to another server');
          this.stopped = true;
          onLost(state.holder);
          return;
        }
      } catch (err) {
        this.log.warn({ err: errorMessage(err) }, 'could not renew the reconciler lease; retrying');
      }
      this.renewTimer = setTimeout(() => void renew(), leaseTtlMs / 3);
      this.renewTimer.unref();
    };
    this.renewTimer = setTimeout(() => void renew(), leaseTtlMs / 3);
    this.renewTimer.unref();
  }

  /** The start-up scan (queues every workspace before any pass runs), then periodic scans. */
  async start(): Promise<ScanResult> {
    const first = await this.scan();
    this.deps.workspaces.startReconciling();
    const tick = () => {
      if (this.stopped) return;
      void this.scan().finally(() => {
        if (this.stopped) return;
        this.timer = setTimeout(tick, this.deps.config.reconciler.intervalMs);
        this.timer.unref();
      });
    };
    this.timer = setTimeout(tick, this.deps.config.reconciler.intervalMs);
    this.timer.unref();
    return first;
  }

  /** One full comparison of store and engine. Concurrent calls share one scan. */
  scan(): Promise<ScanResult> {
    this.scanning ??= this.doScan().finally(() => {
      this.scanning = undefined;
    });
    return this.scanning;
  }

  private async doScan(): Promise<ScanResult> {
    const result: ScanResult = { workspaces: 0, orphansRemoved: [], orphansPending: 0 };
    try {
      const live = await this.deps.repo.listLive();
      for (const ws of live) this.deps.workspaces.enqueue(ws.id);
      result.workspaces = live.length;
      await this.reapOrphans(result);
      await this.reapEgress(result);
      this.lastError = null;
    } catch (err) {
      // The engine or the store is away: nothing is deleted because of it (F4); try again later.
      this.lastError = errorMessage(err);
      this.log.warn({ err: this.lastError }, 'reconcile scan failed; retrying at the next interval');
    }
    this.lastScan = { at: new Date().toISOString(), result };
    return result;
  }

  /**
   * Gateway state of workspaces that are gone — left when a delete was interrupted between the
   * engine objects and the gateway (or by an older Berth): socket directory, CA and token.
   */
  private async reapEgress(result: ScanResult): Promise<void> {
    const ids = this.deps.egress.attachedIds();
    if (ids.length === 0) return;
    for (const id of await this.deps.repo.notLive(ids)) {
      await this.deps.egress.detach(id);
      result.orphansRemoved.push(`egress state ${id}`);
      this.log.info({ workspaceId: id }, 'removed the egress state of a workspace that is gone');
    }
  }

  private async reapOrphans(result: ScanResult): Promise<void> {
    const { engine, repo, storeId } = this.deps;
    const ours = { [LABELS.managed]: 'true', [LABELS.store]: storeId };
    const [containers, networks, volumes] = await Promise.all([
      engine.containers.list(ours),
      engine.networks.list(ours),
      engine.volumes.list(ours),
    ]);
    const ids = new Set<string>();
    for (const o of [...containers, ...networks, ...volumes]) {
      const id = o.labels[LABELS.workspace];
      if (id) ids.add(id);
    }
    const dead = await repo.notLive([...ids]);
    const now = performance.now();
    const seen = new Set<string>();
    const due = (key: string): boolean => {
      seen.add(key);
      const first = this.firstSeen.get(key) ?? now;
      this.firstSeen.set(key, first);
      const ripe = now - first >= this.deps.config.reconciler.orphanGraceMs;
      if (!ripe) result.orphansPending++;
      return ripe;
    };
    const orphaned = (labels: Record<string, string>) => {
      const id = labels[LABELS.workspace];
      return id !== undefined && dead.has(id);
    };

    // F2's order: containers, then networks, then volumes.
    for (const c of containers) {
      const helper = c.labels[LABELS.role] === 'helper';
      const staleHelper =
        helper &&
        (c.state !== 'running'
          ? Date.now() - c.createdAt > this.deps.config.reconciler.orphanGraceMs
          : Date.now() - c.createdAt > HELPER_MAX_AGE_MS);
      if (!orphaned(c.labels) && !staleHelper) continue;
      if (!due(`container:${c.id}`)) continue;
      if (await this.remove('container', c.id, () => engine.containers.remove(c.id))) {
        result.orphansRemoved.push(`container ${c.names[0]?.replace(/^\//, '') ?? c.id}`);
      }
    }
    for (const n of networks) {
      if (!orphaned(n.labels) || !due(`network:${n.name}`)) continue;
      if (await this.remove('network', n.name, () => engine.networks.remove(n.name)))
        result.orphansRemoved.push(`network ${n.name}`);
    }
    for (const v of volumes) {
      if (!orphaned(v.labels) || !due(`volume:${v.name}`)) continue;
      if (await this.remove('volume', v.name, () => engine.volumes.remove(v.name)))
        result.orphansRemoved.push(`volume ${v.name}`);
    }

    // Tools volumes are shared by every Berth on the engine (no store label): one of an older
    // helper goes once no container uses it (the engine refuses to remove a volume in use).
    const current = this.deps.tools.expectedName();
    if (current) {
      const tools = await engine.volumes.list({ [LABELS.managed]: 'true', [LABELS.role]: 'tools' });
      for (const v of tools) {
        if (v.name === current || !v.name.startsWith('berth-tools-') || !due(`tools:${v.name}`)) continue;
        if (await this.remove('volume', v.name, () => engine.volumes.remove(v.name), true))
          result.orphansRemoved.push(`volume ${v.name}`);
      }
    }
    for (const key of this.firstSeen.keys()) if (!seen.has(key)) this.firstSeen.delete(key);
  }

  private async remove(
    kind: string,
    name: string,
    fn: () => Promise<unknown>,
    quietWhenInUse = false,
  ): Promise<boolean> {
    try {
      await fn();
      this.log.info({ kind, name }, 'removed an orphaned object');
      return true;
    } catch (err) {
      const message = errorMessage(err);
      if (!(quietWhenInUse && /in use|being used/i.test(message)))
        this.log.warn({ kind, name, err: message }, 'could not remove an orphaned object; retrying later');
      return false;
    }
  }

  /** Stops scanning (the lease is kept until `releaseLease`, after passes in flight ended). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.scanning?.catch(() => undefined);
  }

  /** Gives the lease up so a standby server takes over at once. */
  async releaseLease(): Promise<void> {
    this.released = true;
    clearTimeout(this.renewTimer);
    await this.deps.leases.release(RECONCILER_LEASE, this.deps.holder).catch(() => undefined);
  }
}
