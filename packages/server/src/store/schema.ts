import type { Generated } from 'kysely';

/** Row shapes of the store. Timestamps are ISO-8601 UTC strings (portable and sortable). */
export interface WorkspacesTable {
  id: string;
  name: string;
  owner_id: string;
  runtime: string;
  image: string;
  tier: number;
  spec_json: string;
  spec_hash: string;
  generation: number;
  status: string;
  desired_state: string;
  error_code: string | null;
  error_message: string | null;
  engine_runtime: string | null;
  container_id: string | null;
  endpoints_json: string;
  created_at: string;
  updated_at: string;
  status_changed_at: string;
  deleted_at: string | null;
  restart_count: Generated<number>;
  failure_times_json: Generated<string>;
  last_exit_code: number | null;
  next_attempt_at: string | null;
  agent_token_hash: string | null;
  agent_json: string | null;
  last_heartbeat_at: string | null;
  last_activity_at: string | null;
}

export interface WorkspaceLabelsTable {
  workspace_id: string;
  key: string;
  value: string;
}

export interface WorkspaceEventsTable {
  id: Generated<number>;
  workspace_id: string;
  at: string;
  type: string;
  status: string | null;
  message: string;
  data_json: string | null;
}

export interface IdempotencyKeysTable {
  owner_id: string;
  key: string;
  request_hash: string;
  workspace_id: string;
  created_at: string;
}

export interface TokensTable {
  id: string;
  name: string;
  scope: string;
  token_hash: string;
  created_at: string;
  revoked_at: string | null;
}

export interface CodeTable {
  code: string;
}

export interface MetaTable {
  key: string;
  value: string;
  updated_at: string;
}

/** A named lease: one holder at a time until `expires_at` (the reconciler's single-writer lock). */
export interface LeasesTable {
  name: string;
  holder: string;
  expires_at: string;
  acquired_at: string;
}

/** The egress gateway's identity of one workspace (token hash, CA with its key sealed). */
export interface EgressIdentitiesTable {
  workspace_id: string;
  token_hash: string;
  ca_cert_pem: string;
  ca_key_sealed: string;
  not_after: string;
  updated_at: string;
}

/** A secret, sealed (`v1.<keyId>.…`); `workspace_id` null is the global scope. */
export interface SecretsTable {
  id: string;
  name: string;
  workspace_id: string | null;
  sealed_value: string;
  key_id: string;
  created_at: string;
  updated_at: string;
}

export interface Database {
  egress_identities: EgressIdentitiesTable;
  workspaces: WorkspacesTable;
  workspace_labels: WorkspaceLabelsTable;
  workspace_events: WorkspaceEventsTable;
  idempotency_keys: IdempotencyKeysTable;
  tokens: TokensTable;
  workspace_statuses: CodeTable;
  error_codes: CodeTable;
  meta: MetaTable;
  leases: LeasesTable;
  secrets: SecretsTable;
}
