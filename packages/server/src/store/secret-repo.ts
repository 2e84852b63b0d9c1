import type { ExpressionBuilder, Selectable, Transaction } from 'kysely';
import { isUniqueViolation, nowIso, type Db } from './db.js';
import type { Database, SecretsTable } from './schema.js';

/** A stored secret: its value only ever sealed. */
export interface SecretRow {
  id: string;
  name: string;
  /** null: the global scope. */
  workspaceId: string | null;
  sealedValue: string;
  keyId: string;
  createdAt: string;
  updatedAt: string;
}

export type SecretPutResult =
  | { kind: 'created' | 'updated'; row: SecretRow }
  /** The workspace was deleted (or never was live): nothing was written. */
  | { kind: 'workspace_gone' };

const toRow = (r: Selectable<SecretsTable>): SecretRow => ({
  id: r.id,
  name: r.name,
  workspaceId: r.workspace_id,
  sealedValue: r.sealed_value,
  keyId: r.key_id,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** One name in one scope (null: global), as a filter on `secrets`. */
const inScope = (name: string, workspaceId: string | null) => (eb: ExpressionBuilder<Database, 'secrets'>) =>
  eb.and([
    eb('name', '=', name),
    workspaceId === null ? eb('workspace_id', 'is', null) : eb('workspace_id', '=', workspaceId),
  ]);

/**
 * Sealed secrets, one name per scope (global, or one workspace). The rows of a workspace go with
 * it: `WorkspaceRepo.transition(…, 'deleted')` deletes them in the same transaction.
 */
export class SecretRepo {
  constructor(private readonly db: Db) {}

  /** Creates or replaces the secret `name` in its scope. */
  async put(input: {
    id: string;
    name: string;
    workspaceId: string | null;
    sealedValue: string;
    keyId: string;
  }): Promise<SecretPutResult> {
    // A concurrent first put of the same name loses the insert race once; it then updates.
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.db.kysely.transaction().execute((trx) => this.putIn(trx, input));
      } catch (err) {
        if (attempt > 0 || !isUniqueViolation(err)) throw err;
      }
    }
  }

  private async putIn(
    trx: Transaction<Database>,
    input: { id: string; name: string; workspaceId: string | null; sealedValue: string; keyId: string },
  ): Promise<SecretPutResult> {
    if (input.workspaceId !== null) {
      // Locks the workspace row (Postgres), so a put and the workspace's deletion, which deletes its
      // secrets in its own transaction, never interleave into a secret left behind.
      let live = trx
        .selectFrom('workspaces')
        .select('id')
        .where('id', '=', input.workspaceId)
        .where('deleted_at', 'is', null);
      if (this.db.dialect === 'postgres') live = live.forUpdate();
      if (!(await live.executeTakeFirst())) return { kind: 'workspace_gone' };
    }
    const now = nowIso();
    const existing = await trx
      .selectFrom('secrets')
      .selectAll()
      .where(inScope(input.name, input.workspaceId))
      .executeTakeFirst();
    if (existing) {
      await trx
        .updateTable('secrets')
        .set({ sealed_value: input.sealedValue, key_id: input.keyId, updated_at: now })
        .where('id', '=', existing.id)
        .execute();
      return {
        kind: 'updated',
        row: toRow({ ...existing, sealed_value: input.sealedValue, key_id: input.keyId, updated_at: now }),
      };
    }
    const row = {
      id: input.id,
      name: input.name,
      workspace_id: input.workspaceId,
      sealed_value: input.sealedValue,
      key_id: input.keyId,
      created_at: now,
      updated_at: now,
    };
    await trx.insertInto('secrets').values(row).execute();
    return { kind: 'created', row: toRow(row) };
  }

  /** The secrets of one scope (null: global), by name. */
  async list(workspaceId: string | null): Promise<SecretRow[]> {
    let q = this.db.kysely.selectFrom('secrets').selectAll();
    q =
      workspaceId === null ? q.where('workspace_id', 'is', null) : q.where('workspace_id', '=', workspaceId);
    return (await q.orderBy('name').execute()).map(toRow);
  }

  /** Every secret (rekey, and the start-up check that the keys open them). */
  async all(): Promise<SecretRow[]> {
    return (await this.db.kysely.selectFrom('secrets').selectAll().orderBy('id').execute()).map(toRow);
  }

  /** The workspace's own secret `name` and the global one, whichever exist. */
  async candidates(workspaceId: string, name: string): Promise<SecretRow[]> {
    const rows = await this.db.kysely
      .selectFrom('secrets')
      .selectAll()
      .where('name', '=', name)
      .where((eb) => eb.or([eb('workspace_id', '=', workspaceId), eb('workspace_id', 'is', null)]))
      .execute();
    return rows.map(toRow);
  }

  /** Deletes `name` from its scope; false when it was not there. */
  async delete(name: string, workspaceId: string | null): Promise<boolean> {
    const result = await this.db.kysely
      .deleteFrom('secrets')
      .where(inScope(name, workspaceId))
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /**
   * Replaces a sealed value only if it is still `expected` (a put in between wins, already sealed
   * with the active key). True when it was replaced.
   */
  async reseal(id: string, expected: string, sealedValue: string, keyId: string): Promise<boolean> {
    const result = await this.db.kysely
      .updateTable('secrets')
      .set({ sealed_value: sealedValue, key_id: keyId })
      .where('id', '=', id)
      .where('sealed_value', '=', expected)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }
}
