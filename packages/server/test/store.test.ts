import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ERROR_CODE_LIST, WORKSPACE_STATUSES } from '@berth/protocol';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import type { NormalizedSpec } from '../src/domain/workspace.js';
import { migrate, openDb, type Db } from '../src/store/db.js';
import { SecretRepo } from '../src/store/secret-repo.js';
import { WorkspaceRepo } from '../src/store/workspace-repo.js';

/** SQLite always; Postgres too when BERTH_TEST_POSTGRES_URL points at a server (scripts/test.sh sets one up). */
const backends: { name: string; open: () => Promise<{ db: Db; dispose: () => Promise<void> }> }[] = [
  {
    name: 'sqlite',
    open: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'berth-store-'));
      const db = await openDb({ dataDir: dir });
      return {
        db,
        dispose: async () => {
          await db.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
];
const pgUrl = process.env.BERTH_TEST_POSTGRES_URL;
if (pgUrl) {
  backends.push({
    name: 'postgres',
    open: async () => {
      // A schema of its own per test keeps runs independent on one server.
      const schema = `berth_test_${Math.random().toString(36).slice(2, 10)}`;
      const admin = await openDbRaw(pgUrl);
      await sql.raw(`create schema ${schema}`).execute(admin.kysely);
      await admin.close();
      const url = new URL(pgUrl);
      url.searchParams.set('options', `-c search_path=${schema}`);
      const db = await openDb({ dataDir: tmpdir(), databaseUrl: url.toString() });
      return {
        db,
        dispose: async () => {
          await db.close();
          const cleanup = await openDbRaw(pgUrl);
          await sql.raw(`drop schema ${schema} cascade`).execute(cleanup.kysely);
          await cleanup.close();
        },
      };
    },
  });
}

async function openDbRaw(url: string): Promise<{ kysely: Db['kysely']; close: () => Promise<void> }> {
  const pg = await import('pg');
  const { Kysely, PostgresDialect } = await import('kysely');
  const kysely = new Kysely<never>({
    dialect: new PostgresDialect({ pool: new pg.default.Pool({ connectionString: url, max: 1 }) }),
  });
  return { kysely: kysely as unknown as Db['kysely'], close: () => kysely.destroy() };
}

const spec = (name: string): NormalizedSpec => ({
  name,
  runtime: 'shell',
  image: 'berth-shell:test',
  tier: 2,
  env: {},
  workspace: { access: 'none', hostPath: null },
  ports: [{ port: 8000, name: 'agent' }],
  resources: { memoryMb: 64, cpus: 1, pidsLimit: 64 },
  labels: { a: '1' },
  files: {},
  template: null,
  readiness: null,
  lifecycle: { restartPolicy: 'never', idleTimeoutMs: null, ttlMs: null },
  egress: { mode: 'open', allow: [], deny: [] },
  grants: [],
  secretEnv: {},
});

for (const backend of backends) {
  describe(`store on ${backend.name}`, () => {
    const withDb = async (fn: (db: Db) => Promise<void>) => {
      const { db, dispose } = await backend.open();
      try {
        await fn(db);
      } finally {
        await dispose();
      }
    };

    it('holds exactly the protocol statuses and error codes (one source of truth)', async () => {
      await withDb(async (db) => {
        const statuses = await db.kysely.selectFrom('workspace_statuses').select('code').execute();
        expect(statuses.map((r) => r.code).sort()).toEqual([...WORKSPACE_STATUSES].sort());
        const codes = await db.kysely.selectFrom('error_codes').select('code').execute();
        expect(codes.map((r) => r.code).sort()).toEqual([...ERROR_CODE_LIST].sort());
      });
    });

    it('refuses a status or error code outside the registry', async () => {
      await withDb(async (db) => {
        const repo = new WorkspaceRepo(db);
        await repo.create(
          {
            id: 'ws_aaaaaaaaaaaaaaaa',
            ownerId: 'admin',
            spec: spec('s1'),
            specHash: 'h',
            desiredState: 'running',
          },
          null,
        );
        await expect(
          db.kysely
            .updateTable('workspaces')
            .set({ status: 'zombie' })
            .where('id', '=', 'ws_aaaaaaaaaaaaaaaa')
            .execute(),
        ).rejects.toThrow();
        await expect(
          db.kysely
            .updateTable('workspaces')
            .set({ error_code: 'made_up' })
            .where('id', '=', 'ws_aaaaaaaaaaaaaaaa')
            .execute(),
        ).rejects.toThrow();
      });
    });

    it('makes status changes conditional: nothing resurrects a deleted workspace', async () => {
      await withDb(async (db) => {
        const repo = new WorkspaceRepo(db);
        const id = 'ws_bbbbbbbbbbbbbbbb';
        await repo.create(
          { id, ownerId: 'admin', spec: spec('s2'), specHash: 'h', desiredState: 'running' },
          null,
        );
        const ev = { type: 't', message: 'm' };
        expect(await repo.transition(id, 'running', { event: ev })).toBeUndefined(); // provisioning → running is no edge
        expect((await repo.transition(id, 'starting', { event: ev }))?.status).toBe('starting');
        expect((await repo.transition(id, 'deleting', { event: ev }))?.status).toBe('deleting');
        expect(await repo.transition(id, 'running', { event: ev })).toBeUndefined(); // a late heartbeat, say
        expect(await repo.transition(id, 'starting', { event: ev })).toBeUndefined();
        expect((await repo.transition(id, 'deleted', { event: ev }))?.status).toBe('deleted');
        for (const to of WORKSPACE_STATUSES)
          expect(await repo.transition(id, to, { event: ev })).toBeUndefined();
        expect(await repo.setDesired(id, 'running')).toBe(false);
        expect(await repo.find(id, null)).toBeUndefined();
        expect((await repo.getById(id, true))?.status).toBe('deleted');
        // The name is free again.
        const again = await repo.create(
          {
            id: 'ws_cccccccccccccccc',
            ownerId: 'admin',
            spec: spec('s2'),
            specHash: 'h',
            desiredState: 'running',
          },
          null,
        );
        expect(again.kind).toBe('created');
      });
    });

    it('keeps one row per idempotency key and tells a different body apart', async () => {
      await withDb(async (db) => {
        const repo = new WorkspaceRepo(db);
        const key = { ownerId: 'admin', key: 'k1', requestHash: 'body-1' };
        const results = await Promise.all(
          ['ws_dddddddddddddddd', 'ws_eeeeeeeeeeeeeeee', 'ws_ffffffffffffffff'].map((id, i) =>
            repo.create(
              { id, ownerId: 'admin', spec: spec(`idem-${i}`), specHash: 'h', desiredState: 'running' },
              key,
            ),
          ),
        );
        expect(results.filter((r) => r.kind === 'created')).toHaveLength(1);
        expect(results.filter((r) => r.kind === 'replayed')).toHaveLength(2);
        const other = await repo.create(
          {
            id: 'ws_gggggggggggggggg',
            ownerId: 'admin',
            spec: spec('idem-x'),
            specHash: 'h',
            desiredState: 'running',
          },
          { ...key, requestHash: 'body-2' },
        );
        expect(other.kind).toBe('idempotency_mismatch');
        const { records } = await repo.list({ ownerId: null, limit: 10 });
        expect(records).toHaveLength(1);
      });
    });

    it('keeps one secret per name and scope (global is one scope) and drops a deleted workspace’s', async () => {
      await withDb(async (db) => {
        const repo = new WorkspaceRepo(db);
        const secrets = new SecretRepo(db);
        const ws = 'ws_hhhhhhhhhhhhhhhh';
        await repo.create(
          { id: ws, ownerId: 'admin', spec: spec('sec'), specHash: 'h', desiredState: 'running' },
          null,
        );
        const put = (id: string, workspaceId: string | null, sealedValue: string) =>
          secrets.put({ id, name: 'TOKEN', workspaceId, sealedValue, keyId: 'k' });
        expect((await put('sec_1', null, 'g1')).kind).toBe('created');
        expect((await put('sec_2', null, 'g2')).kind).toBe('updated');
        expect((await put('sec_3', ws, 'w1')).kind).toBe('created');
        expect((await put('sec_4', ws, 'w2')).kind).toBe('updated');
        // Concurrent first puts of one name: one row, whoever wins.
        const raced = await Promise.all(
          ['sec_5', 'sec_6', 'sec_7'].map((id) =>
            secrets.put({ id, name: 'RACED', workspaceId: null, sealedValue: id, keyId: 'k' }),
          ),
        );
        expect(raced.filter((r) => r.kind === 'created')).toHaveLength(1);
        expect(
          (await secrets.list(null)).map((r) => [
            r.name,
            r.sealedValue.startsWith('sec_') ? 'x' : r.sealedValue,
          ]),
        ).toEqual([
          ['RACED', 'x'],
          ['TOKEN', 'g2'],
        ]);
        // The database itself refuses a second global row of one name (NULLs are not distinct here).
        await expect(
          db.kysely
            .insertInto('secrets')
            .values({
              id: 'sec_8',
              name: 'TOKEN',
              workspace_id: null,
              sealed_value: 'x',
              key_id: 'k',
              created_at: 'now',
              updated_at: 'now',
            })
            .execute(),
        ).rejects.toThrow();
        expect((await secrets.candidates(ws, 'TOKEN')).map((r) => r.sealedValue).sort()).toEqual([
          'g2',
          'w2',
        ]);
        expect(await secrets.reseal('sec_3', 'stale', 'w3', 'k2')).toBe(false);
        expect(await secrets.reseal('sec_3', 'w2', 'w3', 'k2')).toBe(true);

        // The workspace's deletion takes its secrets; a put afterwards writes nothing.
        const ev = { type: 't', message: 'm' };
        await repo.transition(ws, 'deleting', { event: ev });
        await repo.transition(ws, 'deleted', { event: ev });
        expect(await secrets.list(ws)).toEqual([]);
        expect((await put('sec_9', ws, 'late')).kind).toBe('workspace_gone');
        expect((await secrets.all()).map((r) => r.workspaceId)).toEqual([null, null]);
        expect(await secrets.delete('TOKEN', null)).toBe(true);
        expect(await secrets.delete('TOKEN', null)).toBe(false);
      });
    });

    it('runs migrations once: a second run applies nothing', async () => {
      await withDb(async (db) => {
        expect(await migrate(db)).toEqual([]);
      });
    });
  });
}
