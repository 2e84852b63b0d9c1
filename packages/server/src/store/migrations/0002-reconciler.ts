import { sql, type Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

// Frozen as of this migration (see 0001): one status and two workspace error codes.
const STATUSES_0002 = ['unresponsive'];
const ERROR_CODES_0002 = ['provision_timeout', 'crash_loop'];

/**
 * The self-healing control plane: restart bookkeeping, the agent contract, activity for idle
 * timeouts, and a lease so that one reconciler at a time writes.
 */
export function reconciler0002(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db
        .insertInto('workspace_statuses' as never)
        .values(STATUSES_0002.map((code) => ({ code })))
        .execute();
      await db
        .insertInto('error_codes' as never)
        .values(ERROR_CODES_0002.map((code) => ({ code })))
        .execute();
      const columns: [string, 'text' | 'integer'][] = [
        ['restart_count', 'integer'],
        ['failure_times_json', 'text'],
        ['last_exit_code', 'integer'],
        ['next_attempt_at', 'text'],
        ['agent_token_hash', 'text'],
        ['agent_json', 'text'],
        ['last_heartbeat_at', 'text'],
        ['last_activity_at', 'text'],
      ];
      for (const [name, type] of columns) {
        await db.schema
          .alterTable('workspaces')
          .addColumn(name, type, (c) =>
            name === 'restart_count'
              ? c.notNull().defaultTo(0)
              : name === 'failure_times_json'
                ? c.notNull().defaultTo('[]')
                : c,
          )
          .execute();
      }
      await db.schema
        .createIndex('workspaces_agent_token')
        .on('workspaces')
        .column('agent_token_hash')
        .unique()
        .where(sql.ref('agent_token_hash'), 'is not', null)
        .execute();

      await db.schema
        .createTable('leases')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('holder', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('acquired_at', 'text', (c) => c.notNull())
        .execute();
    },
  };
}
