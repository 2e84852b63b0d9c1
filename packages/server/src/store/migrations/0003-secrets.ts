import { sql, type Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

// Frozen as of this migration (see 0001): the secrets store's error codes.
const ERROR_CODES_0003 = [
  'secret_not_found',
  'invalid_secret_name',
  'invalid_secret_value',
  'secret_unreadable',
];

/**
 * Secrets, sealed at rest (secrets/cipher.ts). `workspace_id` null is the global scope. A name is
 * unique per scope: two partial unique indexes, because a plain unique index over
 * (name, workspace_id) would let NULLs (global) repeat on both SQLite and Postgres.
 */
export function secrets0003(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db
        .insertInto('error_codes' as never)
        .values(ERROR_CODES_0003.map((code) => ({ code })))
        .execute();
      await db.schema
        .createTable('secrets')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('workspace_id', 'text', (c) => c.references('workspaces.id').onDelete('cascade'))
        .addColumn('sealed_value', 'text', (c) => c.notNull())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('secrets_global_name')
        .on('secrets')
        .column('name')
        .unique()
        .where(sql.ref('workspace_id'), 'is', null)
        .execute();
      await db.schema
        .createIndex('secrets_workspace_name')
        .on('secrets')
        .columns(['workspace_id', 'name'])
        .unique()
        .where(sql.ref('workspace_id'), 'is not', null)
        .execute();
    },
  };
}
