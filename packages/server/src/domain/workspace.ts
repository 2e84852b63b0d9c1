import type { Readiness } from './readiness.js';
import type {
  AgentConfigInput,
  DesiredState,
  Endpoint,
  PortSpec,
  AgentInfo,
  EgressPolicy,
  Grant,
  Resources,
  RestartPolicy,
  Tier,
  WorkspaceAccess,
  WorkspaceError,
  WorkspaceStatus,
} from '@berth/protocol';

/** A config file as stored: bytes (base64) and a permission mode. */
export interface ConfigFile {
  contentBase64: string;
  mode: number;
}

/**
 * A workspace spec after validation and defaults: what the user asked for, fully spelled out.
 * `specHash` covers the fields that shape the container (everything but `name` and `labels`).
 */
export interface NormalizedSpec {
  name: string;
  runtime: string;
  image: string;
  tier: Tier;
  env: Record<string, string>;
  workspace: { access: WorkspaceAccess; hostPath: string | null };
  ports: PortSpec[];
  resources: Resources;
  labels: Record<string, string>;
  files: Record<string, ConfigFile>;
  template: string | null;
  /** The probe that decides when the workspace is running (the spec's, else the runtime's). */
  readiness: Readiness | null;
  /** How the workspace lives, not how its container looks: left out of the spec hash. */
  lifecycle: Lifecycle;
  /**
   * Where it may connect (enforced by the egress gateway). Rules and grants can change while it
   * runs, so they are left out of the spec hash; whether the gateway is its only route is not.
   */
  egress: EgressPolicy;
  grants: Grant[];
  /** Env key → secret name, written into /configs/.berth/env at each start (never the container config). */
  secretEnv: Record<string, string>;
  /** The agent CLI config the spec asked for (its files are in `files`); absent when none. */
  agentConfig?: AgentConfigInput;
  /** Build the runtime's image when it is missing, rather than fail with the command. */
  buildImage?: boolean;
}

export interface Lifecycle {
  restartPolicy: RestartPolicy;
  idleTimeoutMs: number | null;
  ttlMs: number | null;
}

export interface WorkspaceRecord {
  id: string;
  name: string;
  ownerId: string;
  runtime: string;
  image: string;
  tier: Tier;
  spec: NormalizedSpec;
  specHash: string;
  generation: number;
  status: WorkspaceStatus;
  desiredState: DesiredState;
  error: WorkspaceError | null;
  engineRuntime: string | null;
  containerId: string | null;
  endpoints: Endpoint[];
  labels: Record<string, string>;
  createdAt: string;
  updatedAt: string;
  statusChangedAt: string;
  restartCount: number;
  /** ISO times of recent failures (the crash-loop window). */
  failureTimes: string[];
  lastExitCode: number | null;
  nextAttemptAt: string | null;
  /** sha256 of the agent token written into /configs (null: the runtime has no agent). */
  agentTokenHash: string | null;
  agent: AgentInfo | null;
  lastHeartbeatAt: string | null;
  lastActivityAt: string | null;
}
