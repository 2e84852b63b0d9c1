import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

/** Runtime images: a workspace fails with `env_missing` when its runtime's required env is absent. */
export function runtimeImages0005(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      // Frozen as of this migration: the workspace error codes it adds.
      await db
        .insertInto('error_codes' as never)
        .values([{ code: 'env_missing' }] as never)
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db
        .deleteFrom('error_codes' as never)
        .where('code' as never, '=', 'env_missing' as never)
        .execute();
    },
  };
}
