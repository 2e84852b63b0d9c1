import type { ApiToken, TokenScope } from '@berth/protocol';
import type { Selectable } from 'kysely';
import { nowIso, type Db } from './db.js';
import type { TokensTable } from './schema.js';

const toApiToken = (row: Selectable<TokensTable>): ApiToken => ({
  id: row.id,
  name: row.name,
  scope: row.scope as TokenScope,
  createdAt: row.created_at,
  revokedAt: row.revoked_at,
});

/** API tokens. Only a sha256 of each secret is stored. */
export class TokenRepo {
  constructor(private readonly db: Db) {}

  async create(token: { id: string; name: string; scope: TokenScope; tokenHash: string }): Promise<ApiToken> {
    const row = {
      id: token.id,
      name: token.name,
      scope: token.scope,
      token_hash: token.tokenHash,
      created_at: nowIso(),
      revoked_at: null,
    };
    await this.db.kysely.insertInto('tokens').values(row).execute();
    return toApiToken(row);
  }

  async findActiveByHash(tokenHash: string): Promise<ApiToken | undefined> {
    const row = await this.db.kysely
      .selectFrom('tokens')
      .selectAll()
      .where('token_hash', '=', tokenHash)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return row ? toApiToken(row) : undefined;
  }

  async list(): Promise<ApiToken[]> {
    const rows = await this.db.kysely.selectFrom('tokens').selectAll().orderBy('created_at', 'asc').execute();
    return rows.map(toApiToken);
  }

  /** Revokes a token; false when there is no such token. Revoking twice is fine. */
  async revoke(id: string): Promise<boolean> {
    const row = await this.db.kysely
      .selectFrom('tokens')
      .select('revoked_at')
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) return false;
    if (row.revoked_at === null) {
      await this.db.kysely.updateTable('tokens').set({ revoked_at: nowIso() }).where('id', '=', id).execute();
    }
    return true;
  }
}

export class MetaRepo {
  constructor(private readonly db: Db) {}

  async set(key: string, value: unknown): Promise<void> {
    const row = { key, value: JSON.stringify(value), updated_at: nowIso() };
    await this.db.kysely
      .insertInto('meta')
      .values(row)
      .onConflict((oc) => oc.column('key').doUpdateSet({ value: row.value, updated_at: row.updated_at }))
      .execute();
  }

  /** The value of `key`, set to `init()` first if absent (the first writer wins a race). */
  async getOrInit(key: string, init: () => string): Promise<string> {
    await this.db.kysely
      .insertInto('meta')
      .values({ key, value: JSON.stringify(init()), updated_at: nowIso() })
      .onConflict((oc) => oc.column('key').doNothing())
      .execute();
    const value = await this.get<string>(key);
    if (value === undefined) throw new Error(`meta key ${key} vanished`);
    return value;
  }

  async get<T>(key: string): Promise<T | undefined> {
    const row = await this.db.kysely
      .selectFrom('meta')
      .select('value')
      .where('key', '=', key)
      .executeTakeFirst();
    return row ? (JSON.parse(row.value) as T) : undefined;
  }
}
