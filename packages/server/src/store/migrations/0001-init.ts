import { sql, type Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';
import type { StoreDialect } from '../db.js';

// Frozen copies of the codes as of this migration. Later migrations add or remove codes; a test
// checks that the database's tables equal the protocol registry, so forgetting one fails CI.
const STATUSES_0001 = [
  'provisioning',
  'starting',
  'running',
  'stopping',
  'stopped',
  'failed',
  'deleting',
  'deleted',
];
const ERROR_CODES_0001 = [
  'validation_failed',
  'invalid_json',
  'payload_too_large',
  'unsupported_media_type',
  'unauthenticated',
  'forbidden',
  'tier_not_allowed',
  'route_not_found',
  'workspace_not_found',
  'token_not_found',
  'runtime_not_found',
  'template_not_found',
  'reserved_env_key',
  'reserved_label',
  'invalid_host_path',
  'invalid_idempotency_key',
  'idempotency_key_reused',
  'name_conflict',
  'invalid_state',
  'config_missing',
  'image_not_found',
  'image_build_failed',
  'runtime_unavailable',
  'container_exited',
  'engine_unavailable',
  'engine_error',
  'name_in_use_by_foreign_object',
  'readiness_failed',
  'invalid_path',
  'path_escapes_root',
  'file_not_found',
  'file_exists',
  'not_a_directory',
  'is_a_directory',
  'directory_not_empty',
  'file_too_large',
  'file_permission_denied',
  'unsupported_file_type',
  'invalid_archive',
  'command_not_found',
  'terminal_not_found',
  'port_not_declared',
  'internal',
];

export function init0001(dialect: StoreDialect): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('workspace_statuses')
        .addColumn('code', 'text', (c) => c.primaryKey())
        .execute();
      await db.schema
        .createTable('error_codes')
        .addColumn('code', 'text', (c) => c.primaryKey())
        .execute();
      await db
        .insertInto('workspace_statuses' as never)
        .values(STATUSES_0001.map((code) => ({ code })))
        .execute();
      await db
        .insertInto('error_codes' as never)
        .values(ERROR_CODES_0001.map((code) => ({ code })))
        .execute();

      await db.schema
        .createTable('tokens')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('scope', 'text', (c) => c.notNull().check(sql`scope in ('admin', 'user')`))
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('revoked_at', 'text')
        .execute();

      await db.schema
        .createTable('workspaces')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('owner_id', 'text', (c) => c.notNull())
        .addColumn('runtime', 'text', (c) => c.notNull())
        .addColumn('image', 'text', (c) => c.notNull())
        .addColumn('tier', 'integer', (c) => c.notNull().check(sql`tier between 1 and 4`))
        .addColumn('spec_json', 'text', (c) => c.notNull())
        .addColumn('spec_hash', 'text', (c) => c.notNull())
        .addColumn('generation', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('status', 'text', (c) => c.notNull().references('workspace_statuses.code'))
        .addColumn('desired_state', 'text', (c) =>
          c.notNull().check(sql`desired_state in ('running', 'stopped', 'deleted')`),
        )
        .addColumn('error_code', 'text', (c) => c.references('error_codes.code'))
        .addColumn('error_message', 'text')
        .addColumn('engine_runtime', 'text')
        .addColumn('container_id', 'text')
        .addColumn('endpoints_json', 'text', (c) => c.notNull().defaultTo('[]'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('status_changed_at', 'text', (c) => c.notNull())
        .addColumn('deleted_at', 'text')
        .execute();
      // A name is unique among live workspaces; a deleted one frees its name.
      await db.schema
        .createIndex('workspaces_live_name')
        .on('workspaces')
        .column('name')
        .unique()
        .where(sql.ref('deleted_at'), 'is', null)
        .execute();
      await db.schema
        .createIndex('workspaces_owner_created')
        .on('workspaces')
        .columns(['owner_id', 'created_at', 'id'])
        .execute();
      await db.schema.createIndex('workspaces_status').on('workspaces').column('status').execute();

      await db.schema
        .createTable('workspace_labels')
        .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('workspace_labels_pk', ['workspace_id', 'key'])
        .execute();
      await db.schema
        .createIndex('workspace_labels_kv')
        .on('workspace_labels')
        .columns(['key', 'value'])
        .execute();

      await db.schema
        .createTable('workspace_events')
        .addColumn('id', dialect === 'postgres' ? 'serial' : 'integer', (c) =>
          dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
        )
        .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.references('workspace_statuses.code'))
        .addColumn('message', 'text', (c) => c.notNull())
        .addColumn('data_json', 'text')
        .execute();
      await db.schema
        .createIndex('workspace_events_ws')
        .on('workspace_events')
        .columns(['workspace_id', 'id'])
        .execute();

      await db.schema
        .createTable('idempotency_keys')
        .addColumn('owner_id', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('request_hash', 'text', (c) => c.notNull())
        .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('idempotency_keys_pk', ['owner_id', 'key'])
        .execute();

      await db.schema
        .createTable('meta')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
    },
  };
}
