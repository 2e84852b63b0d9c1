import type { Db } from './db.js';

export interface EgressIdentityRow {
  workspaceId: string;
  tokenHash: string;
  caCertPem: string;
  caKeySealed: string;
  notAfter: string;
}

/** Per-workspace gateway identities: one row per workspace, replaced at each start. */
export class EgressIdentityRepo {
  constructor(private readonly db: Db) {}

  async get(workspaceId: string): Promise<EgressIdentityRow | null> {
    const row = await this.db.kysely
      .selectFrom('egress_identities')
      .selectAll()
      .where('workspace_id', '=', workspaceId)
      .executeTakeFirst();
    return row
      ? {
          workspaceId: row.workspace_id,
          tokenHash: row.token_hash,
          caCertPem: row.ca_cert_pem,
          caKeySealed: row.ca_key_sealed,
          notAfter: row.not_after,
        }
      : null;
  }

  async put(identity: EgressIdentityRow): Promise<void> {
    const values = {
      token_hash: identity.tokenHash,
      ca_cert_pem: identity.caCertPem,
      ca_key_sealed: identity.caKeySealed,
      not_after: identity.notAfter,
      updated_at: new Date().toISOString(),
    };
    await this.db.kysely
      .insertInto('egress_identities')
      .values({ workspace_id: identity.workspaceId, ...values })
      .onConflict((oc) => oc.column('workspace_id').doUpdateSet(values))
      .execute();
  }

  async listSealed(): Promise<{ workspaceId: string; caKeySealed: string }[]> {
    const rows = await this.db.kysely
      .selectFrom('egress_identities')
      .select(['workspace_id', 'ca_key_sealed'])
      .execute();
    return rows.map((r) => ({ workspaceId: r.workspace_id, caKeySealed: r.ca_key_sealed }));
  }

  /** Replaces a sealed CA key if it is still the one read (a start in between re-issued it). */
  async reseal(workspaceId: string, old: string, sealed: string): Promise<boolean> {
    const r = await this.db.kysely
      .updateTable('egress_identities')
      .set({ ca_key_sealed: sealed })
      .where('workspace_id', '=', workspaceId)
      .where('ca_key_sealed', '=', old)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async delete(workspaceId: string): Promise<void> {
    await this.db.kysely.deleteFrom('egress_identities').where('workspace_id', '=', workspaceId).execute();
  }
}
