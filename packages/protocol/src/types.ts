import type { ErrorCode } from './errors.js';
import type {
  BuiltinGrant,
  DesiredState,
  EgressMode,
  RestartPolicy,
  Tier,
  TokenScope,
  WorkspaceAccess,
  WorkspaceStatus,
} from './statuses.js';

/** A config file for `/configs`: plain UTF-8 text, or an object with encoding and mode. */
export type ConfigFileInput = string | { content: string; encoding?: 'utf8' | 'base64'; mode?: number };

/** A port to publish on 127.0.0.1 with an ephemeral host port. */
export type PortInput = number | { port: number; name?: string };

/** What `POST /v1/workspaces` accepts. Every field is optional; unknown fields are rejected. */
export interface WorkspaceSpecInput {
  /** Unique DNS-label name (`[a-z0-9-]`, 1-63); generated as adjective-noun when absent. */
  name?: string;
  /** Runtime catalogue name (`GET /v1/runtimes`); default `shell`. */
  runtime?: string;
  /** Image override; default is the runtime's image. */
  image?: string;
  /** Isolation tier 1-4; default 2. */
  tier?: Tier;
  /** Extra environment; reserved keys are refused. */
  env?: Record<string, string>;
  /** `/workspace`: an isolated volume (default) or a host directory. */
  workspace?: { access?: WorkspaceAccess; hostPath?: string };
  /** Extra container ports to publish besides the runtime's agent port. */
  ports?: PortInput[];
  resources?: { memoryMb?: number; cpus?: number; pidsLimit?: number };
  labels?: Record<string, string>;
  /** Files written into `/configs` before the container starts (path relative to `/configs`). */
  files?: Record<string, ConfigFileInput>;
  /** Name of a config template directory (server `templatesDir`), copied into `/configs` first. */
  template?: string;
  /** Overrides the runtime's readiness probe: the workspace is `running` once it passes. */
  readiness?: ReadinessProbe;
  /** When the main process exits: `never` restart, restart `on-failure` (exit code ≠ 0), or `always`. */
  restartPolicy?: RestartPolicy;
  /** Stop the workspace after this long without activity (exec, terminals, log follows, proxy). */
  idleTimeoutMs?: number;
  /** Delete the workspace this long after it was created. */
  ttlMs?: number;
  /**
   * Where the workspace may connect. Default: `none` on tier 1, `open` on tier 2, or `allowlist`
   * on tiers 1-2 when `egress.allow` or `grants` is given. Tiers 3-4 are always `open`.
   */
  egress?: EgressPolicyInput;
  /** Credentials the egress gateway injects on HTTPS to their hosts; the workspace sees placeholders. */
  grants?: GrantInput[];
  /**
   * Env vars filled from secrets (env key → secret name), only when asked for explicitly: the
   * value then lives in the workspace's processes. Prefer a grant, which never enters the workspace.
   */
  secretEnv?: Record<string, string>;
  /**
   * For runtimes with an agent CLI (`configFormat` in `GET /v1/runtimes`): the model, global
   * instructions and MCP servers Berth writes into the CLI's config files in /configs.
   */
  agentConfig?: AgentConfigInput;
  /** Build the runtime's image first when it is missing (else the workspace fails with the command). */
  buildImage?: boolean;
}

/** An MCP server: a local command (stdio) or a remote URL (streamable HTTP). */
export type McpServerInput =
  | { command: string; args?: string[]; env?: Record<string, string> }
  | { url: string; headers?: Record<string, string> };

export interface AgentConfigInput {
  model?: string;
  /** Global instructions: CLAUDE.md, AGENTS.md or GEMINI.md. */
  instructions?: string;
  mcpServers?: Record<string, McpServerInput>;
}

/** Host rules: `api.example.com`, `*.example.com` (sub-domains only), either with `:port`. */
export interface EgressPolicyInput {
  mode?: EgressMode;
  allow?: string[];
  deny?: string[];
}

/** A built-in grant by name, or a custom one: `header: prefix + secret` on HTTPS to `hosts`. */
export type GrantInput =
  BuiltinGrant | { name: string; hosts: string[]; header: string; secret: string; prefix?: string };

/** A grant as the workspace has it (never the credential). */
export interface Grant {
  name: string;
  hosts: string[];
  header: string;
  prefix: string;
  /** Name of the secret injected (workspace scope first, then global). */
  secret: string;
  /** Env var the workspace gets a format-valid placeholder in, if any. */
  placeholderEnv: string | null;
}

export interface EgressPolicy {
  mode: EgressMode;
  allow: string[];
  deny: string[];
}

/** `PATCH /v1/workspaces/{id}/egress`: replaces the given parts; takes effect on the next connection. */
export interface EgressUpdate {
  mode?: EgressMode;
  allow?: string[];
  deny?: string[];
  grants?: GrantInput[];
}

export interface Resources {
  memoryMb: number;
  cpus: number;
  pidsLimit: number;
}

export interface PortSpec {
  port: number;
  name: string;
}

export interface Endpoint {
  name: string;
  containerPort: number;
  protocol: 'tcp';
  hostIp: string;
  hostPort: number;
  url: string;
}

/** What a long operation is doing now (image pull/build, volumes, container start). */
export interface Progress {
  phase: 'image' | 'volumes' | 'container' | 'configs' | 'starting' | 'stopping' | 'deleting';
  message: string;
  /** Bytes or steps done / total when known. */
  current?: number;
  total?: number;
  unit?: 'bytes' | 'steps';
}

export interface WorkspaceError {
  code: ErrorCode;
  message: string;
}

export interface Workspace {
  id: string;
  name: string;
  /** Id of the token that created it. */
  owner: string;
  runtime: string;
  image: string;
  tier: Tier;
  /** OCI runtime the container uses (`runc`, `runsc`), once known. */
  engineRuntime: string | null;
  status: WorkspaceStatus;
  desiredState: DesiredState;
  error: WorkspaceError | null;
  env: Record<string, string>;
  workspace: { access: WorkspaceAccess; hostPath: string | null };
  ports: PortSpec[];
  endpoints: Endpoint[];
  resources: Resources;
  labels: Record<string, string>;
  /** Paths of the `files` written into /configs (contents are not echoed). */
  files: string[];
  template: string | null;
  /** The probe that decides when it is running (the spec's, else the runtime's), if any. */
  readiness: ReadinessProbe | null;
  /** sha256 of the normalised spec; also the container's `berth.spec-hash` label. */
  specHash: string;
  generation: number;
  containerId: string | null;
  progress: Progress | null;
  restartPolicy: RestartPolicy;
  idleTimeoutMs: number | null;
  ttlMs: number | null;
  /** Restarts after the process exited, and the failures counted towards a crash loop. */
  restarts: RestartInfo;
  /** What the runtime's agent last reported (null: no agent, or it has not registered yet). */
  agent: AgentInfo | null;
  /** Last exec, terminal, log follow, proxied request or keepalive (null: none yet). */
  lastActivityAt: string | null;
  egress: EgressPolicy;
  grants: Grant[];
  /** Env key → secret name (names only, never values). */
  secretEnv: Record<string, string>;
  /** What the agent CLI's generated config files say (null: none given). */
  agentConfig: AgentConfigInput | null;
  createdAt: string;
  updatedAt: string;
  statusChangedAt: string;
}

export interface RestartInfo {
  count: number;
  /** Failures inside the crash-loop window. */
  recentFailures: number;
  lastExitCode: number | null;
  /** When the next restart is due (backoff), if one is pending. */
  nextAttemptAt: string | null;
}

export interface AgentInfo {
  registeredAt: string | null;
  lastHeartbeatAt: string | null;
  status: 'ok' | 'error';
  task: string | null;
  error: string | null;
  /** What the agent says it is (name/version), as reported at register. */
  agent: string | null;
}

/** `POST /v1/agent/register` body (all optional). */
export interface AgentRegisterInput {
  agent?: string;
  version?: string;
  pid?: number;
}

/** `POST /v1/agent/heartbeat` body. */
export interface AgentHeartbeatInput {
  status?: 'ok' | 'error';
  task?: string | null;
  error?: string | null;
}

/** Answer to register and heartbeat. */
export interface AgentAck {
  workspaceId: string;
  status: WorkspaceStatus;
  heartbeatIntervalMs: number;
}

export interface WorkspaceEvent {
  id: number;
  workspaceId: string;
  at: string;
  type: string;
  status: WorkspaceStatus | null;
  message: string;
  data?: Record<string, unknown>;
}

export interface Page<T> {
  items: T[];
  /** Pass as `cursor` to get the next page; null on the last page. */
  nextCursor: string | null;
}

export interface EngineInfo {
  kind: 'docker' | 'podman';
  version: string;
  apiVersion: string;
  os: string;
  arch: string;
  kernel: string;
  /** OCI runtimes the engine offers (runc, runsc, crun, ...). */
  ociRuntimes: string[];
  defaultRuntime: string;
  cgroupVersion: string;
  securityOptions: string[];
  capabilities: EngineCapabilities;
}

export interface EngineCapabilities {
  gvisor: boolean;
  /**
   * Whether capabilities added to a non-root container user become effective (Podman) instead of
   * staying bounding-set ceilings (Docker). Berth then adds none to tiers 1-2.
   */
  addedCapsEffectiveForNonRoot: boolean;
  /**
   * Whether the engine drops a process's pending output when stdin input is in flight as it exits
   * (Podman 4.3's conmon resets the attach socket). Berth then has its helper linger on stdin.
   */
  outputLostWithStdinInFlight: boolean;
  init: boolean;
  pidsLimit: boolean;
  portPublishing: boolean;
  build: boolean;
}

export interface SystemInfo {
  version: string;
  engine: EngineInfo | null;
  engineHealthy: boolean;
  tiers: {
    allowPrivileged: boolean;
    gvisor: 'prefer' | 'require' | 'off';
    /** Seccomp for tiers 1-2: the engine's default, or Berth's hardening of it (Podman). */
    seccomp: 'engine-default' | 'berth-hardened';
  };
  platformUrl: string;
}

export interface RuntimeInfo {
  name: string;
  description: string;
  image: string;
  /** The agent port published for every workspace of this runtime. */
  port: number;
  user: string;
  requiredFiles: string[];
  env: Record<string, string>;
  template: string | null;
  /** Whether its image runs an agent that registers and heartbeats (the agent contract). */
  agent: boolean;
  provisionTimeoutMs: number;
  restartPolicy: RestartPolicy;
  /** How Berth makes the image when it is missing: built locally, or pulled. */
  source: 'build' | 'pull';
  /**
   * Env keys a workspace must have before it starts; `A|B` means either. Spec env, secret env,
   * grant placeholders and the runtime's own env all count.
   */
  requiredEnv: string[];
  /** What decides that its workspaces are running (besides an agent registering), if anything. */
  readiness: ReadinessProbe | null;
  /** The agent CLI whose config files Berth generates into /configs from `agentConfig`, if any. */
  configFormat: string | null;
  /** Whether the engine has the image now. */
  imagePresent: boolean;
}

export interface ImageInfo {
  runtime: string;
  image: string;
  present: boolean;
  id: string | null;
  sizeBytes: number | null;
  source: 'build' | 'pull';
  /** What a build or pull of this image is doing now (null: none under way on this server). */
  progress: Progress | null;
  /** The registry digest (`name@sha256:…`) when pulled, else the image id; null when missing. */
  digest: string | null;
  /** The Debian image every layer of a Berth-built image starts from, pinned by id or digest. */
  baseDigest: string | null;
  /** For Berth-built images: whether the image matches the current recipe (null: missing or pulled). */
  upToDate: boolean | null;
  /** The command that makes the image present (build or pull). */
  command: string;
  /** Why the last build or pull of it on this server failed (null: none failed since it last began). */
  lastError: { code: string; message: string } | null;
}

/**
 * One sample of a running workspace's resource use, as the engine measures it for its container
 * (`GET /v1/workspaces/{id}/stats`).
 */
export interface WorkspaceStats {
  workspaceId: string;
  /** When the engine took the sample. */
  at: string;
  cpu: {
    /**
     * CPU time used over the sampling interval (about a second), in percent of one CPU, as
     * `docker stats` shows it: 100 is one CPU busy, 200 two.
     */
    percent: number;
    /** CPUs the container can see. */
    onlineCpus: number;
  };
  memory: {
    /** Memory in use, without the inactive file cache (as `docker stats` counts it). */
    usageBytes: number;
    /** The container's memory limit (null when the engine reports none). */
    limitBytes: number | null;
  };
  pids: { current: number; limit: number | null };
  /** Bytes received and sent over every interface since the container started (0 without a network). */
  network: { rxBytes: number; txBytes: number };
}

export interface ApiToken {
  id: string;
  name: string;
  scope: TokenScope;
  createdAt: string;
  revokedAt: string | null;
}

export interface CreatedApiToken {
  token: ApiToken;
  /** The bearer secret. Shown once; Berth stores only its hash. */
  secret: string;
}

/** Which directory a file path is relative to. */
export type FileRoot = 'workspace' | 'configs';

export interface FileInfo {
  /** Relative to the root. */
  path: string;
  name: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
  /** Permission bits, e.g. 420 (0644). */
  mode: number;
  modifiedAt: string;
  linkTarget?: string;
}

/** `POST /v1/workspaces/:id/exec` and the `start` message of a command stream. */
export interface CommandInput {
  /** argv, run directly (no shell). Exactly one of `cmd` and `command`. */
  cmd?: string[];
  /** A command line, run by `/bin/sh -c` inside the workspace (never a host shell). */
  command?: string;
  cwd?: string;
  env?: Record<string, string>;
  /** Numeric `uid[:gid]` inside the workspace; tiers 1-2 refuse uid 0. */
  user?: string;
  timeoutMs?: number;
}

export interface ExecInput extends CommandInput {
  /** Text for the command's stdin (UTF-8), or base64 with `stdinEncoding: 'base64'`. */
  stdin?: string;
  stdinEncoding?: 'utf8' | 'base64';
  /** Bytes kept per stream; more is discarded and `truncated` says so. */
  maxOutputBytes?: number;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
  truncated: { stdout: boolean; stderr: boolean };
}

export interface CommandInfo {
  id: string;
  workspaceId: string;
  cmd: string[];
  background: boolean;
  startedAt: string;
  running: boolean;
  exitCode: number | null;
  timedOut: boolean;
}

export interface TerminalInfo {
  id: string;
  workspaceId: string;
  cmd: string[];
  cols: number;
  rows: number;
  startedAt: string;
  attached: boolean;
  running: boolean;
}

/** One line of a workspace's output (`GET /v1/workspaces/:id/logs`, NDJSON). */
export interface LogLine {
  stream: 'stdout' | 'stderr';
  /** RFC 3339 with nanoseconds, when `timestamps` was asked for. */
  time?: string;
  text: string;
}

/** Readiness probe: exactly one of `http`, `tcp` and `command`. */
export interface ReadinessProbe {
  http?: { port: number; path?: string };
  tcp?: { port: number };
  command?: string[];
  timeoutMs?: number;
  intervalMs?: number;
}

export interface Preview {
  /** Path (under the Berth URL) that opens the port in a browser; the token becomes a cookie. */
  path: string;
  token: string;
  expiresAt: string;
}

export interface UploadSummary {
  entries: number;
  bytes: number;
}
