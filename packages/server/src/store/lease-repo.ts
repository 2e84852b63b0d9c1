import { isUniqueViolation, type Db } from './db.js';

export interface LeaseState {
  acquired: boolean;
  /** Who holds it now (us when acquired). */
  holder: string;
  expiresAt: string;
}

/**
 * Named leases in the store (P6, F11): one holder at a time until the lease expires. Taking one is
 * a single conditional UPDATE (free, expired, or already ours) or an INSERT that the primary key
 * makes exclusive, so two servers on one SQLite file or one Postgres database never both win.
 */
export class LeaseRepo {
  constructor(private readonly db: Db) {}

  async tryAcquire(name: string, holder: string, ttlMs: number): Promise<LeaseState> {
    const now = new Date();
    const nowIso = now.toISOString();
    const expiresAt = new Date(now.getTime() + ttlMs).toISOString();
    const k = this.db.kysely;
    const updated = await k
      .updateTable('leases')
      .set({ holder, expires_at: expiresAt, acquired_at: nowIso })
      .where('name', '=', name)
      .where((eb) => eb.or([eb('holder', '=', holder), eb('expires_at', '<', nowIso)]))
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) === 1) {
      return { acquired: true, holder, expiresAt };
    }
    try {
      await k
        .insertInto('leases')
        .values({ name, holder, expires_at: expiresAt, acquired_at: nowIso })
        .execute();
      return { acquired: true, holder, expiresAt };
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
    }
    const row = await k
      .selectFrom('leases')
      .select(['holder', 'expires_at'])
      .where('name', '=', name)
      .executeTakeFirst();
    return { acquired: false, holder: row?.holder ?? 'unknown', expiresAt: row?.expires_at ?? nowIso };
  }

  /** Gives the lease up (only if we hold it), so a standby takes over at once. */
  async release(name: string, holder: string): Promise<void> {
    await this.db.kysely
      .updateTable('leases')
      .set({ expires_at: new Date(0).toISOString() })
      .where('name', '=', name)
      .where('holder', '=', holder)
      .execute();
  }
}
