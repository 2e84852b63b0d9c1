import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

/**
 * The egress gateway's per-workspace identity (X5, X6): the sha256 of the token the workspace
 * presents to its gateway socket, and the workspace's CA — certificate in clear, private key
 * sealed with the secrets key. Re-issued at every start; removed with the workspace.
 */
export function egress0004(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      // Frozen as of this migration: the workspace error codes it adds.
      await db
        .insertInto('error_codes' as never)
        .values(['secret_missing', 'egress_unavailable'].map((code) => ({ code })))
        .execute();
      await db.schema
        .createTable('egress_identities')
        .addColumn('workspace_id', 'text', (c) => c.primaryKey())
        .addColumn('token_hash', 'text', (c) => c.notNull())
        .addColumn('ca_cert_pem', 'text', (c) => c.notNull())
        .addColumn('ca_key_sealed', 'text', (c) => c.notNull())
        .addColumn('not_after', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('egress_identities').execute();
      await db
        .deleteFrom('error_codes' as never)
        .where('code' as never, 'in', ['secret_missing', 'egress_unavailable'] as never)
        .execute();
    },
  };
}
