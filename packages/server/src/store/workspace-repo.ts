import type {
  AgentInfo,
  DesiredState,
  Endpoint,
  ErrorCode,
  Tier,
  WorkspaceEvent,
  WorkspaceStatus,
} from '@berth/protocol';
import { sql, type Selectable, type Transaction } from 'kysely';
import type { NormalizedSpec, WorkspaceRecord } from '../domain/workspace.js';
import { allowedFrom } from '../domain/state-machine.js';
import { EventNotifier } from './event-notifier.js';
import { isUniqueViolation, nowIso, type Db } from './db.js';
import type { Database, WorkspacesTable } from './schema.js';

export interface EventInput {
  type: string;
  message: string;
  data?: Record<string, unknown>;
}

export interface NewWorkspace {
  id: string;
  ownerId: string;
  spec: NormalizedSpec;
  specHash: string;
  desiredState: DesiredState;
}

export interface IdempotencyInput {
  key: string;
  requestHash: string;
}

export type CreateResult =
  | { kind: 'created'; record: WorkspaceRecord }
  | { kind: 'replayed'; record: WorkspaceRecord }
  | { kind: 'idempotency_mismatch' }
  | { kind: 'name_conflict' };

export interface ListFilter {
  /** null: every owner (admin). */
  ownerId: string | null;
  statuses?: WorkspaceStatus[];
  labels?: Record<string, string>;
  runtime?: string;
  limit: number;
  cursor?: string;
}

export interface StatusChange {
  /** Narrows the statuses the change may come from (default: every status that may precede `to`). */
  from?: WorkspaceStatus[];
  error?: { code: ErrorCode; message: string } | null;
  containerId?: string | null;
  endpoints?: Endpoint[];
  engineRuntime?: string | null;
  /** Restart bookkeeping written with the status (crash loops, backoff). */
  restart?: {
    failureTimes?: string[];
    lastExitCode?: number | null;
    nextAttemptAt?: string | null;
    incrementCount?: boolean;
  };
  event: EventInput;
}

type Row = Selectable<WorkspacesTable>;

export class WorkspaceRepo {
  constructor(
    private readonly db: Db,
    /** Fired after every committed event insert; event streams subscribe to it. */
    readonly notifier: EventNotifier = new EventNotifier(),
  ) {}

  private get k() {
    return this.db.kysely;
  }

  /** Inserts a workspace (with labels, idempotency key and first event) in one transaction. */
  async create(
    input: NewWorkspace,
    idempotency: ({ ownerId: string } & IdempotencyInput) | null,
  ): Promise<CreateResult> {
    const now = nowIso();
    try {
      const result = await this.k.transaction().execute(async (trx) => {
        if (idempotency) {
          const prior = await this.findIdempotencyKey(trx, idempotency.ownerId, idempotency.key);
          if (prior) return this.replay(trx, prior, idempotency.requestHash);
        }
        const { spec } = input;
        await trx
          .insertInto('workspaces')
          .values({
            id: input.id,
            name: spec.name,
            owner_id: input.ownerId,
            runtime: spec.runtime,
            image: spec.image,
            tier: spec.tier,
            spec_json: JSON.stringify(spec),
            spec_hash: input.specHash,
            generation: 1,
            status: 'provisioning',
            desired_state: input.desiredState,
            error_code: null,
            error_message: null,
            engine_runtime: null,
            container_id: null,
            endpoints_json: '[]',
            created_at: now,
            updated_at: now,
            status_changed_at: now,
            deleted_at: null,
          })
          .execute();
        const labels = Object.entries(spec.labels);
        if (labels.length > 0) {
          await trx
            .insertInto('workspace_labels')
            .values(labels.map(([key, value]) => ({ workspace_id: input.id, key, value })))
            .execute();
        }
        if (idempotency) {
          await trx
            .insertInto('idempotency_keys')
            .values({
              owner_id: idempotency.ownerId,
              key: idempotency.key,
              request_hash: idempotency.requestHash,
              workspace_id: input.id,
              created_at: now,
            })
            .execute();
        }
        await this.insertEvent(trx, input.id, 'provisioning', {
          type: 'workspace.created',
          message: `workspace ${spec.name} created (runtime ${spec.runtime}, tier ${spec.tier})`,
        });
        const record = await this.selectById(trx, input.id, true);
        if (!record) throw new Error('workspace vanished inside its creating transaction');
        return { kind: 'created' as const, record };
      });
      if (result.kind === 'created') this.notifier.notify();
      return result;
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      // A concurrent request won the race (Postgres), or the name is taken.
      if (idempotency) {
        const prior = await this.findIdempotencyKey(this.k, idempotency.ownerId, idempotency.key);
        if (prior) return this.replay(this.k, prior, idempotency.requestHash);
      }
      return { kind: 'name_conflict' };
    }
  }

  private async findIdempotencyKey(trx: Transaction<Database> | Db['kysely'], ownerId: string, key: string) {
    return trx
      .selectFrom('idempotency_keys')
      .select(['request_hash', 'workspace_id'])
      .where('owner_id', '=', ownerId)
      .where('key', '=', key)
      .executeTakeFirst();
  }

  private async replay(
    trx: Transaction<Database> | Db['kysely'],
    prior: { request_hash: string; workspace_id: string },
    requestHash: string,
  ): Promise<CreateResult> {
    if (prior.request_hash !== requestHash) return { kind: 'idempotency_mismatch' };
    const record = await this.selectById(trx, prior.workspace_id, true);
    if (!record) return { kind: 'idempotency_mismatch' };
    return { kind: 'replayed', record };
  }

  async nameTaken(name: string): Promise<boolean> {
    const row = await this.k
      .selectFrom('workspaces')
      .select('id')
      .where('name', '=', name)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** A live workspace by id or name, visible to `ownerId` (null = admin sees all). */
  async find(ref: string, ownerId: string | null): Promise<WorkspaceRecord | undefined> {
    let q = this.k
      .selectFrom('workspaces')
      .selectAll()
      .where('deleted_at', 'is', null)
      .where((eb) => eb.or([eb('id', '=', ref), eb('name', '=', ref)]));
    if (ownerId !== null) q = q.where('owner_id', '=', ownerId);
    const row = await q.executeTakeFirst();
    return row ? this.toRecord(row, await this.labelsOf(this.k, row.id)) : undefined;
  }

  async getById(id: string, includeDeleted = false): Promise<WorkspaceRecord | undefined> {
    return this.selectById(this.k, id, includeDeleted);
  }

  private async selectById(trx: Transaction<Database> | Db['kysely'], id: string, includeDeleted: boolean) {
    let q = trx.selectFrom('workspaces').selectAll().where('id', '=', id);
    if (!includeDeleted) q = q.where('deleted_at', 'is', null);
    const row = await q.executeTakeFirst();
    return row ? this.toRecord(row, await this.labelsOf(trx, id)) : undefined;
  }

  async list(filter: ListFilter): Promise<{ records: WorkspaceRecord[]; nextCursor: string | null }> {
    let q = this.k.selectFrom('workspaces as w').selectAll('w').where('w.deleted_at', 'is', null);
    if (filter.ownerId !== null) q = q.where('w.owner_id', '=', filter.ownerId);
    if (filter.statuses && filter.statuses.length > 0) q = q.where('w.status', 'in', filter.statuses);
    if (filter.runtime) q = q.where('w.runtime', '=', filter.runtime);
    for (const [key, value] of Object.entries(filter.labels ?? {})) {
      q = q.where((eb) =>
        eb.exists(
          eb
            .selectFrom('workspace_labels as l')
            .select('l.key')
            .whereRef('l.workspace_id', '=', 'w.id')
            .where('l.key', '=', key)
            .where('l.value', '=', value),
        ),
      );
    }
    const cursor = filter.cursor ? decodeCursor(filter.cursor) : null;
    if (cursor) {
      q = q.where((eb) =>
        eb.or([
          eb('w.created_at', '<', cursor.createdAt),
          eb.and([eb('w.created_at', '=', cursor.createdAt), eb('w.id', '<', cursor.id)]),
        ]),
      );
    }
    const rows = await q
      .orderBy('w.created_at', 'desc')
      .orderBy('w.id', 'desc')
      .limit(filter.limit + 1)
      .execute();
    const page = rows.slice(0, filter.limit);
    const labels = await this.labelsOfMany(page.map((r) => r.id));
    const records = page.map((r) => this.toRecord(r, labels.get(r.id) ?? {}));
    const last = page[page.length - 1];
    const nextCursor = rows.length > filter.limit && last ? encodeCursor(last.created_at, last.id) : null;
    return { records, nextCursor };
  }

  /** Workspaces in the given statuses (all owners), oldest first: the start-up resume list. */
  async listByStatus(statuses: WorkspaceStatus[]): Promise<WorkspaceRecord[]> {
    const rows = await this.k
      .selectFrom('workspaces')
      .selectAll()
      .where('status', 'in', statuses)
      .where('deleted_at', 'is', null)
      .orderBy('created_at', 'asc')
      .execute();
    const labels = await this.labelsOfMany(rows.map((r) => r.id));
    return rows.map((r) => this.toRecord(r, labels.get(r.id) ?? {}));
  }

  /**
   * Conditional status change with its event, in one transaction. Returns the updated record, or
   * undefined when the workspace was not in a status that may precede `to` (nothing changes then).
   */
  async transition(
    id: string,
    to: WorkspaceStatus,
    change: StatusChange,
  ): Promise<WorkspaceRecord | undefined> {
    const from = (change.from ?? allowedFrom(to)).filter((s) => allowedFrom(to).includes(s));
    if (from.length === 0) return undefined;
    const now = nowIso();
    let appended = false;
    const updated = await this.k.transaction().execute(async (trx) => {
      const result = await trx
        .updateTable('workspaces')
        .set({
          status: to,
          updated_at: now,
          status_changed_at: now,
          ...(to === 'deleted' ? { deleted_at: now, desired_state: 'deleted' } : {}),
          ...(change.error !== undefined
            ? { error_code: change.error?.code ?? null, error_message: change.error?.message ?? null }
            : to === 'failed'
              ? {}
              : { error_code: null, error_message: null }),
          ...(change.containerId !== undefined ? { container_id: change.containerId } : {}),
          ...(change.endpoints !== undefined ? { endpoints_json: JSON.stringify(change.endpoints) } : {}),
          ...(change.engineRuntime !== undefined ? { engine_runtime: change.engineRuntime } : {}),
          ...(change.restart?.failureTimes !== undefined
            ? { failure_times_json: JSON.stringify(change.restart.failureTimes) }
            : {}),
          ...(change.restart?.lastExitCode !== undefined
            ? { last_exit_code: change.restart.lastExitCode }
            : {}),
          ...(change.restart?.nextAttemptAt !== undefined
            ? { next_attempt_at: change.restart.nextAttemptAt }
            : {}),
          ...(change.restart?.incrementCount ? { restart_count: sql<number>`restart_count + 1` } : {}),
        })
        .where('id', '=', id)
        .where('status', 'in', from)
        .where('deleted_at', 'is', null)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return undefined;
      // A deleted workspace's own secrets go with it (SecretRepo.put locks against this).
      if (to === 'deleted') await trx.deleteFrom('secrets').where('workspace_id', '=', id).execute();
      await this.insertEvent(trx, id, to, change.event);
      appended = true;
      return this.selectById(trx, id, true);
    });
    if (appended) this.notifier.notify();
    return updated;
  }

  /** Records what the user wants now. Refused once the workspace is being deleted. */
  async setDesired(id: string, desired: DesiredState): Promise<boolean> {
    let q = this.k
      .updateTable('workspaces')
      .set({ desired_state: desired, updated_at: nowIso() })
      .where('id', '=', id)
      .where('deleted_at', 'is', null);
    if (desired !== 'deleted') q = q.where('desired_state', '!=', 'deleted');
    const result = await q.executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Every live workspace (not deleted), oldest first: the reconciler's full scan. */
  async listLive(): Promise<WorkspaceRecord[]> {
    const rows = await this.liveRows().execute();
    return rows.map((r) => this.toRecord(r, {}));
  }

  /** Live (not deleted) workspace rows, oldest first. */
  private liveRows() {
    return this.k
      .selectFrom('workspaces')
      .selectAll()
      .where('deleted_at', 'is', null)
      .orderBy('created_at', 'asc');
  }

  /** Which of `ids` name no live workspace (deleted, or never in this store). */
  async notLive(ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await this.k
      .selectFrom('workspaces')
      .select('id')
      .where('id', 'in', ids)
      .where('deleted_at', 'is', null)
      .execute();
    const live = new Set(rows.map((r) => r.id));
    return new Set(ids.filter((id) => !live.has(id)));
  }

  /** Counts a restart that happened (its backoff is over), with its event. */
  async countRestart(id: string, event: EventInput): Promise<void> {
    await this.k
      .updateTable('workspaces')
      .set({ restart_count: sql<number>`restart_count + 1`, next_attempt_at: null, updated_at: nowIso() })
      .where('id', '=', id)
      .where('deleted_at', 'is', null)
      .execute();
    await this.appendEvent(id, event);
  }

  /** Forgets past failures (a user's explicit start of a failed workspace). */
  async resetRestarts(id: string): Promise<void> {
    await this.k
      .updateTable('workspaces')
      .set({ failure_times_json: '[]', next_attempt_at: null })
      .where('id', '=', id)
      .where('deleted_at', 'is', null)
      .execute();
  }

  /** Stores the hash of a new agent token (the token itself only ever goes into /configs). */
  async setAgentToken(id: string, tokenHash: string): Promise<void> {
    await this.k
      .updateTable('workspaces')
      .set({ agent_token_hash: tokenHash, agent_json: null, last_heartbeat_at: null })
      .where('id', '=', id)
      .where('deleted_at', 'is', null)
      .execute();
  }

  /**
   * Replaces the parts of a live workspace's spec that change in place (egress rules, grants): the
   * spec hash and generation stay, so the container is kept. Records the event in the same transaction.
   */
  async updateSpecInPlace(id: string, spec: NormalizedSpec, event: EventInput): Promise<boolean> {
    const changed = await this.k.transaction().execute(async (trx) => {
      const result = await trx
        .updateTable('workspaces')
        .set({ spec_json: JSON.stringify(spec), updated_at: new Date().toISOString() })
        .where('id', '=', id)
        .where('deleted_at', 'is', null)
        .where('status', 'not in', ['deleting', 'deleted'])
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return false;
      await this.insertEvent(trx, id, null, event);
      return true;
    });
    if (changed) this.notifier.notify();
    return changed;
  }

  /** The live workspace whose agent token has this hash. */
  async findByAgentTokenHash(tokenHash: string): Promise<WorkspaceRecord | undefined> {
    const row = await this.k
      .selectFrom('workspaces')
      .selectAll()
      .where('agent_token_hash', '=', tokenHash)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    return row ? this.toRecord(row, {}) : undefined;
  }

  /** Records what an agent reported; only while the workspace is in one of `statuses`. */
  async recordAgent(id: string, agent: AgentInfo, statuses: WorkspaceStatus[]): Promise<boolean> {
    const result = await this.k
      .updateTable('workspaces')
      .set({ agent_json: JSON.stringify(agent), last_heartbeat_at: agent.lastHeartbeatAt })
      .where('id', '=', id)
      .where('deleted_at', 'is', null)
      .where('status', 'in', statuses)
      .where('desired_state', '=', 'running')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Updates engine facts without changing status (never on a deleted workspace). */
  async updateFacts(
    id: string,
    facts: { containerId?: string | null; endpoints?: Endpoint[]; engineRuntime?: string | null },
  ): Promise<void> {
    await this.k
      .updateTable('workspaces')
      .set({
        updated_at: nowIso(),
        ...(facts.containerId !== undefined ? { container_id: facts.containerId } : {}),
        ...(facts.endpoints !== undefined ? { endpoints_json: JSON.stringify(facts.endpoints) } : {}),
        ...(facts.engineRuntime !== undefined ? { engine_runtime: facts.engineRuntime } : {}),
      })
      .where('id', '=', id)
      .where('deleted_at', 'is', null)
      .execute();
  }

  /** Records when the workspace was last used; false when it is deleted (nothing is written then). */
  async touchActivity(id: string, atIso: string): Promise<boolean> {
    const result = await this.k
      .updateTable('workspaces')
      .set({ last_activity_at: atIso })
      .where('id', '=', id)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async appendEvent(id: string, event: EventInput): Promise<void> {
    await this.insertEvent(this.k, id, null, event);
    this.notifier.notify();
  }

  private async insertEvent(
    trx: Transaction<Database> | Db['kysely'],
    workspaceId: string,
    status: WorkspaceStatus | null,
    event: EventInput,
  ): Promise<void> {
    await trx
      .insertInto('workspace_events')
      .values({
        workspace_id: workspaceId,
        at: nowIso(),
        type: event.type,
        status,
        message: event.message,
        data_json: event.data ? JSON.stringify(event.data) : null,
      })
      .execute();
  }

  async listEvents(workspaceId: string, after: number, limit: number): Promise<WorkspaceEvent[]> {
    const rows = await this.k
      .selectFrom('workspace_events')
      .selectAll()
      .where('workspace_id', '=', workspaceId)
      .where('id', '>', after)
      .orderBy('id', 'asc')
      .limit(limit)
      .execute();
    return rows.map((r) => this.toEvent(r));
  }

  /**
   * Events of every workspace (`ownerId` null) or of the workspaces `ownerId` owns, deleted ones
   * included, oldest first: the feed of `GET /v1/events`.
   */
  async listAllEvents(query: {
    after: number;
    limit: number;
    ownerId: string | null;
  }): Promise<WorkspaceEvent[]> {
    let q = this.k.selectFrom('workspace_events as e').selectAll('e').where('e.id', '>', query.after);
    if (query.ownerId !== null) {
      q = q.innerJoin('workspaces as w', 'w.id', 'e.workspace_id').where('w.owner_id', '=', query.ownerId);
    }
    const rows = await q.orderBy('e.id', 'asc').limit(query.limit).execute();
    return rows.map((r) => this.toEvent(r));
  }

  /** The id of the newest event (0 when there is none): where `?after=now` resumes. */
  async lastEventId(): Promise<number> {
    const row = await this.k
      .selectFrom('workspace_events')
      .select((eb) => eb.fn.max('id').as('last'))
      .executeTakeFirst();
    return Number(row?.last ?? 0);
  }

  private toEvent(r: Selectable<Database['workspace_events']>): WorkspaceEvent {
    return {
      id: Number(r.id),
      workspaceId: r.workspace_id,
      at: r.at,
      type: r.type,
      status: r.status as WorkspaceStatus | null,
      message: r.message,
      ...(r.data_json ? { data: JSON.parse(r.data_json) as Record<string, unknown> } : {}),
    };
  }

  private async labelsOf(
    trx: Transaction<Database> | Db['kysely'],
    id: string,
  ): Promise<Record<string, string>> {
    const rows = await trx
      .selectFrom('workspace_labels')
      .select(['key', 'value'])
      .where('workspace_id', '=', id)
      .execute();
    return Object.fromEntries(rows.map((r) => [r.key, r.value]));
  }

  private async labelsOfMany(ids: string[]): Promise<Map<string, Record<string, string>>> {
    const out = new Map<string, Record<string, string>>();
    if (ids.length === 0) return out;
    const rows = await this.k
      .selectFrom('workspace_labels')
      .selectAll()
      .where('workspace_id', 'in', ids)
      .execute();
    for (const r of rows) {
      const labels = out.get(r.workspace_id) ?? {};
      labels[r.key] = r.value;
      out.set(r.workspace_id, labels);
    }
    return out;
  }

  private toRecord(row: Row, labels: Record<string, string>): WorkspaceRecord {
    const spec = JSON.parse(row.spec_json) as NormalizedSpec;
    // Specs stored before lifecycle settings existed keep the old behaviour: no restarts.
    spec.lifecycle ??= { restartPolicy: 'never', idleTimeoutMs: null, ttlMs: null };
    // ... and before egress policies existed: what their tier gave them then.
    spec.egress ??= { mode: spec.tier === 1 ? 'none' : 'open', allow: [], deny: [] };
    spec.grants ??= [];
    spec.secretEnv ??= {};
    return {
      id: row.id,
      name: row.name,
      ownerId: row.owner_id,
      runtime: row.runtime,
      image: row.image,
      tier: row.tier as Tier,
      spec,
      specHash: row.spec_hash,
      generation: Number(row.generation),
      status: row.status as WorkspaceStatus,
      desiredState: row.desired_state as DesiredState,
      error: row.error_code ? { code: row.error_code as ErrorCode, message: row.error_message ?? '' } : null,
      engineRuntime: row.engine_runtime,
      containerId: row.container_id,
      endpoints: JSON.parse(row.endpoints_json) as Endpoint[],
      labels,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      statusChangedAt: row.status_changed_at,
      restartCount: Number(row.restart_count),
      failureTimes: JSON.parse(row.failure_times_json) as string[],
      lastExitCode: row.last_exit_code === null ? null : Number(row.last_exit_code),
      nextAttemptAt: row.next_attempt_at,
      agentTokenHash: row.agent_token_hash,
      agent: row.agent_json ? (JSON.parse(row.agent_json) as AgentInfo) : null,
      lastHeartbeatAt: row.last_heartbeat_at,
      lastActivityAt: row.last_activity_at,
    };
  }
}

function encodeCursor(createdAt: string, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString('base64url');
}

/** Parses a list cursor; throws on anything that is not one Berth made. */
export function decodeCursor(cursor: string): { createdAt: string; id: string } {
  const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!Array.isArray(parsed) || parsed.length !== 2 || !parsed.every((p) => typeof p === 'string')) {
    throw new Error('malformed cursor');
  }
  return { createdAt: parsed[0] as string, id: parsed[1] as string };
}
