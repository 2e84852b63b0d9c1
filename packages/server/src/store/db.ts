import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import { Migrator, type MigrationProvider } from 'kysely/migration';
import { migrations } from './migrations/index.js';
import type { Database } from './schema.js';

export type StoreDialect = 'sqlite' | 'postgres';

export interface Db {
  readonly kysely: Kysely<Database>;
  readonly dialect: StoreDialect;
  /** Where the data lives, for logs: a file path, or the Postgres URL without credentials. */
  readonly location: string;
  close(): Promise<void>;
}

export interface OpenDbOptions {
  dataDir: string;
  databaseUrl?: string | undefined;
}

/**
 * Opens the store: SQLite (WAL, busy timeout, foreign keys) in the data dir by default, or Postgres
 * for `postgres://` URLs. Runs pending migrations before returning.
 */
export async function openDb(options: OpenDbOptions): Promise<Db> {
  const url = options.databaseUrl;
  let db: Db;
  if (url && /^postgres(ql)?:\/\//.test(url)) {
    const pg = await import('pg');
    const pool = new pg.default.Pool({ connectionString: url, max: 10 });
    const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    const safe = new URL(url);
    safe.password = '';
    safe.username = '';
    db = { kysely, dialect: 'postgres', location: safe.toString(), close: () => kysely.destroy() };
  } else {
    const file = url ? url.replace(/^sqlite:(\/\/)?/, '') : join(options.dataDir, 'berth.db');
    if (!url) mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
    const sqlite = new SQLite(file);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('synchronous = NORMAL');
    const kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
    db = { kysely, dialect: 'sqlite', location: file, close: () => kysely.destroy() };
  }
  try {
    await migrate(db);
  } catch (err) {
    await db.close();
    throw err;
  }
  return db;
}

export async function migrate(db: Db): Promise<string[]> {
  const all = migrations(db.dialect);
  const provider: MigrationProvider = { getMigrations: () => Promise.resolve(all) };
  const migrator = new Migrator({ db: db.kysely, provider, migrationTableName: 'berth_migrations' });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    throw new Error(
      `database migration failed: ${error instanceof Error ? error.message : JSON.stringify(error)}`,
      {
        cause: error,
      },
    );
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** True when `err` is a unique-constraint violation (SQLite or Postgres). */
export function isUniqueViolation(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { code?: unknown };
  return (
    e.code === 'SQLITE_CONSTRAINT_UNIQUE' || e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || e.code === '23505'
  );
}

export const nowIso = (): string => new Date().toISOString();
