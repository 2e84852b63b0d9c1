/**
 * Workspace statuses: the one source of truth. The store's `workspace_statuses` table is seeded from
 * this list by migrations, and a test checks the real database against it.
 */
export const WORKSPACE_STATUSES = [
  'provisioning',
  'starting',
  'running',
  'unresponsive',
  'stopping',
  'stopped',
  'failed',
  'deleting',
  'deleted',
] as const;
export type WorkspaceStatus = (typeof WORKSPACE_STATUSES)[number];

/** Statuses in which an operation is in flight; a restarted server resumes them. */
export const TRANSITIONAL_STATUSES: readonly WorkspaceStatus[] = [
  'provisioning',
  'starting',
  'stopping',
  'deleting',
];

/** What the user last asked for. The store is the only source of desired state. */
export const DESIRED_STATES = ['running', 'stopped', 'deleted'] as const;
export type DesiredState = (typeof DESIRED_STATES)[number];

/** Isolation tiers (seed 000, hardened): 1 sandboxed, 2 standard (default), 3 privileged, 4 full host. */
export const TIERS = [1, 2, 3, 4] as const;
export type Tier = (typeof TIERS)[number];
export const TIER_NAMES: Record<Tier, string> = {
  1: 'sandboxed',
  2: 'standard',
  3: 'privileged',
  4: 'full-host',
};

/** `/workspace` access modes (seed 000 #65). */
export const WORKSPACE_ACCESS = ['none', 'read_only', 'read_write'] as const;
export type WorkspaceAccess = (typeof WORKSPACE_ACCESS)[number];

/** Token scopes: `admin` may do everything; `user` sees only its own workspaces and tiers 1-2. */
export const TOKEN_SCOPES = ['admin', 'user'] as const;
export type TokenScope = (typeof TOKEN_SCOPES)[number];

/** What happens when a workspace's main process exits while it should run (seed 002 restart policy). */
export const RESTART_POLICIES = ['never', 'on-failure', 'always'] as const;
export type RestartPolicy = (typeof RESTART_POLICIES)[number];

/** Where a workspace may connect: nowhere, through the egress gateway's allowlist, or directly. */
export const EGRESS_MODES = ['none', 'allowlist', 'open'] as const;
export type EgressMode = (typeof EGRESS_MODES)[number];

/** Grants Berth knows by name (host, header and placeholder built in). */
export const BUILTIN_GRANTS = ['anthropic', 'openai', 'github'] as const;
export type BuiltinGrant = (typeof BUILTIN_GRANTS)[number];
