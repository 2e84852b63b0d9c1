import {
  DESIRED_STATES,
  EGRESS_MODES,
  RESTART_POLICIES,
  ERROR_CODE_LIST,
  SECRET_MAX_VALUE_BYTES,
  SECRET_SCOPES,
  TOKEN_SCOPES,
  WORKSPACE_ACCESS,
  WORKSPACE_STATUSES,
  type ApiToken,
  type CommandInfo,
  type ExecResult,
  type FileInfo,
  type LogLine,
  type Preview,
  type TerminalInfo,
  type UploadSummary,
  type CreatedApiToken,
  type SecretInfo,
  type SecretRekeyResult,
  type ErrorBody,
  type ErrorCode,
  type ImageInfo,
  type RuntimeInfo,
  type SystemInfo,
  type Workspace,
  type WorkspaceEvent,
  type WorkspaceStats,
} from '@berth/protocol';
import { z } from 'zod';

/**
 * Response schemas: the source of the OpenAPI document's components. Each one is checked at
 * compile time against the protocol's wire type, and the end-to-end tests parse real responses
 * with them, so the document cannot drift from what the server sends.
 */
const errorCode = z.enum(ERROR_CODE_LIST as [ErrorCode, ...ErrorCode[]]);

export const ErrorBodySchema = z
  .object({
    code: errorCode,
    message: z.string(),
    requestId: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
  })
  .meta({ id: 'Error' });

const EndpointSchema = z.object({
  name: z.string(),
  containerPort: z.number().int(),
  protocol: z.literal('tcp'),
  hostIp: z.string(),
  hostPort: z.number().int(),
  url: z.string(),
});

const ProgressSchema = z.object({
  phase: z.enum(['image', 'volumes', 'container', 'configs', 'starting', 'stopping', 'deleting']),
  message: z.string(),
  current: z.number().optional(),
  total: z.number().optional(),
  unit: z.enum(['bytes', 'steps']).optional(),
});

export const AgentInfoSchema = z
  .object({
    registeredAt: z.string().nullable(),
    lastHeartbeatAt: z.string().nullable(),
    status: z.enum(['ok', 'error']),
    task: z.string().nullable(),
    error: z.string().nullable(),
    agent: z.string().nullable(),
  })
  .meta({ id: 'AgentInfo' });

export const AgentAckSchema = z
  .object({
    workspaceId: z.string(),
    status: z.enum(WORKSPACE_STATUSES),
    heartbeatIntervalMs: z.number().int(),
  })
  .meta({ id: 'AgentAck' });

export const EgressPolicySchema = z
  .object({ mode: z.enum(EGRESS_MODES), allow: z.array(z.string()), deny: z.array(z.string()) })
  .meta({ id: 'EgressPolicy' });

export const GrantSchema = z
  .object({
    name: z.string(),
    hosts: z.array(z.string()),
    header: z.string(),
    prefix: z.string(),
    secret: z.string(),
    placeholderEnv: z.string().nullable(),
  })
  .meta({ id: 'Grant' });

/** A readiness probe as the API shows it (a runtime's or a workspace's). */
const ReadinessViewSchema = z.object({
  http: z.object({ port: z.number().int(), path: z.string().optional() }).optional(),
  tcp: z.object({ port: z.number().int() }).optional(),
  command: z.array(z.string()).optional(),
  timeoutMs: z.number().int().optional(),
  intervalMs: z.number().int().optional(),
});

export const WorkspaceSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    owner: z.string(),
    runtime: z.string(),
    image: z.string(),
    tier: z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4)]),
    engineRuntime: z.string().nullable(),
    status: z.enum(WORKSPACE_STATUSES),
    desiredState: z.enum(DESIRED_STATES),
    error: z.object({ code: errorCode, message: z.string() }).nullable(),
    env: z.record(z.string(), z.string()),
    workspace: z.object({ access: z.enum(WORKSPACE_ACCESS), hostPath: z.string().nullable() }),
    ports: z.array(z.object({ port: z.number().int(), name: z.string() })),
    endpoints: z.array(EndpointSchema),
    resources: z.object({ memoryMb: z.number(), cpus: z.number(), pidsLimit: z.number() }),
    labels: z.record(z.string(), z.string()),
    files: z.array(z.string()),
    template: z.string().nullable(),
    readiness: ReadinessViewSchema.nullable(),
    specHash: z.string(),
    generation: z.number().int(),
    containerId: z.string().nullable(),
    progress: ProgressSchema.nullable(),
    restartPolicy: z.enum(RESTART_POLICIES),
    idleTimeoutMs: z.number().int().nullable(),
    ttlMs: z.number().int().nullable(),
    restarts: z.object({
      count: z.number().int(),
      recentFailures: z.number().int(),
      lastExitCode: z.number().int().nullable(),
      nextAttemptAt: z.string().nullable(),
    }),
    agent: AgentInfoSchema.nullable(),
    lastActivityAt: z.string().nullable(),
    egress: EgressPolicySchema,
    grants: z.array(GrantSchema),
    secretEnv: z.record(z.string(), z.string()),
    agentConfig: z
      .object({
        model: z.string().optional(),
        instructions: z.string().optional(),
        mcpServers: z
          .record(
            z.string(),
            z.union([
              z.object({
                command: z.string(),
                args: z.array(z.string()).optional(),
                env: z.record(z.string(), z.string()).optional(),
              }),
              z.object({ url: z.string(), headers: z.record(z.string(), z.string()).optional() }),
            ]),
          )
          .optional(),
      })
      .nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
    statusChangedAt: z.string(),
  })
  .meta({ id: 'Workspace' });

export const WorkspaceEventSchema = z
  .object({
    id: z.number().int(),
    workspaceId: z.string(),
    at: z.string(),
    type: z.string(),
    status: z.enum(WORKSPACE_STATUSES).nullable(),
    message: z.string(),
    data: z.record(z.string(), z.unknown()).optional(),
  })
  .meta({ id: 'WorkspaceEvent' });

export const pageOf = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable() });
export const listOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item) });

const EngineInfoSchema = z.object({
  kind: z.enum(['docker', 'podman']),
  version: z.string(),
  apiVersion: z.string(),
  os: z.string(),
  arch: z.string(),
  kernel: z.string(),
  ociRuntimes: z.array(z.string()),
  defaultRuntime: z.string(),
  cgroupVersion: z.string(),
  securityOptions: z.array(z.string()),
  capabilities: z.object({
    gvisor: z.boolean(),
    addedCapsEffectiveForNonRoot: z.boolean(),
    outputLostWithStdinInFlight: z.boolean(),
    init: z.boolean(),
    pidsLimit: z.boolean(),
    portPublishing: z.boolean(),
    build: z.boolean(),
  }),
});

export const SystemInfoSchema = z
  .object({
    version: z.string(),
    engine: EngineInfoSchema.nullable(),
    engineHealthy: z.boolean(),
    tiers: z.object({
      allowPrivileged: z.boolean(),
      gvisor: z.enum(['prefer', 'require', 'off']),
      seccomp: z.enum(['engine-default', 'berth-hardened']),
    }),
    platformUrl: z.string(),
  })
  .meta({ id: 'SystemInfo' });

export const HealthSchema = z.object({
  status: z.enum(['ok', 'degraded']),
  version: z.string(),
  engine: z.object({ healthy: z.boolean() }),
  reconciler: z.object({
    lastScanAt: z.string().nullable(),
    lastError: z.string().nullable(),
    queue: z.object({ queued: z.number().int(), running: z.number().int(), delayed: z.number().int() }),
  }),
});

export const RuntimeInfoSchema = z
  .object({
    name: z.string(),
    description: z.string(),
    image: z.string(),
    port: z.number().int(),
    user: z.string(),
    requiredFiles: z.array(z.string()),
    env: z.record(z.string(), z.string()),
    template: z.string().nullable(),
    agent: z.boolean(),
    provisionTimeoutMs: z.number().int(),
    restartPolicy: z.enum(RESTART_POLICIES),
    source: z.enum(['build', 'pull']),
    requiredEnv: z.array(z.string()),
    readiness: ReadinessViewSchema.nullable(),
    configFormat: z.string().nullable(),
    imagePresent: z.boolean(),
  })
  .meta({ id: 'RuntimeInfo' });

export const ImageInfoSchema = z
  .object({
    runtime: z.string(),
    image: z.string(),
    present: z.boolean(),
    id: z.string().nullable(),
    sizeBytes: z.number().nullable(),
    source: z.enum(['build', 'pull']),
    progress: ProgressSchema.nullable(),
    digest: z.string().nullable(),
    baseDigest: z.string().nullable(),
    upToDate: z.boolean().nullable(),
    command: z.string(),
    lastError: z.object({ code: z.string(), message: z.string() }).nullable(),
  })
  .meta({ id: 'ImageInfo' });

export const WorkspaceStatsSchema = z
  .object({
    workspaceId: z.string(),
    at: z.string(),
    cpu: z.object({
      percent: z
        .number()
        .describe(
          'CPU time over the sampling interval (about 1 s), in percent of one CPU: 200 is two CPUs busy',
        ),
      onlineCpus: z.number().int(),
    }),
    memory: z.object({
      usageBytes: z.number().describe('In use, without the inactive file cache (as `docker stats`)'),
      limitBytes: z.number().nullable(),
    }),
    pids: z.object({ current: z.number().int(), limit: z.number().int().nullable() }),
    network: z.object({ rxBytes: z.number(), txBytes: z.number() }),
  })
  .meta({ id: 'WorkspaceStats' });

export const ApiTokenSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    scope: z.enum(TOKEN_SCOPES),
    createdAt: z.string(),
    revokedAt: z.string().nullable(),
  })
  .meta({ id: 'ApiToken' });

export const CreatedApiTokenSchema = z
  .object({ token: ApiTokenSchema, secret: z.string() })
  .meta({ id: 'CreatedApiToken' });

export const FileInfoSchema = z
  .object({
    path: z.string(),
    name: z.string(),
    type: z.enum(['file', 'dir', 'symlink', 'other']),
    size: z.number(),
    mode: z.number().int(),
    modifiedAt: z.string(),
    linkTarget: z.string().optional(),
  })
  .meta({ id: 'FileInfo' });

export const ExecResultSchema = z
  .object({
    exitCode: z.number().int(),
    stdout: z.string(),
    stderr: z.string(),
    durationMs: z.number(),
    timedOut: z.boolean(),
    truncated: z.object({ stdout: z.boolean(), stderr: z.boolean() }),
  })
  .meta({ id: 'ExecResult' });

export const CommandInfoSchema = z
  .object({
    id: z.string(),
    workspaceId: z.string(),
    cmd: z.array(z.string()),
    background: z.boolean(),
    startedAt: z.string(),
    running: z.boolean(),
    exitCode: z.number().int().nullable(),
    timedOut: z.boolean(),
  })
  .meta({ id: 'CommandInfo' });

export const TerminalInfoSchema = z
  .object({
    id: z.string(),
    workspaceId: z.string(),
    cmd: z.array(z.string()),
    cols: z.number().int(),
    rows: z.number().int(),
    startedAt: z.string(),
    attached: z.boolean(),
    running: z.boolean(),
  })
  .meta({ id: 'TerminalInfo' });

export const LogLineSchema = z
  .object({ stream: z.enum(['stdout', 'stderr']), time: z.string().optional(), text: z.string() })
  .meta({ id: 'LogLine' });

export const PreviewSchema = z
  .object({ path: z.string(), token: z.string(), expiresAt: z.string() })
  .meta({ id: 'Preview' });

export const UploadSummarySchema = z
  .object({ entries: z.number().int(), bytes: z.number() })
  .meta({ id: 'UploadSummary' });

export const TokenCreateSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}$/, '1-63 letters, digits, space, . _ -'),
  scope: z.enum(TOKEN_SCOPES).default('user'),
});

export const SecretInfoSchema = z
  .object({
    name: z.string(),
    scope: z.enum(SECRET_SCOPES),
    workspaceId: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'SecretInfo' });

/** The body of a secret PUT, for the OpenAPI document (routes/secrets.ts checks it, never echoing the value). */
export const SecretPutSchema = z.strictObject({
  value: z
    .string()
    .min(1)
    .describe(`UTF-8 text, 1 to ${SECRET_MAX_VALUE_BYTES} bytes once encoded; write-only, never returned`),
});

export const SecretRekeyResultSchema = z
  .object({ rekeyed: z.number().int(), keyId: z.string() })
  .meta({ id: 'SecretRekeyResult' });

// Compile-time agreement between these schemas and the protocol's wire types.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export const responseTypesAgree: [
  Same<z.infer<typeof WorkspaceSchema>, Workspace>,
  Same<z.infer<typeof WorkspaceEventSchema>, WorkspaceEvent>,
  Same<z.infer<typeof SystemInfoSchema>, SystemInfo>,
  Same<z.infer<typeof RuntimeInfoSchema>, RuntimeInfo>,
  Same<z.infer<typeof ImageInfoSchema>, ImageInfo>,
  Same<z.infer<typeof WorkspaceStatsSchema>, WorkspaceStats>,
  Same<z.infer<typeof ApiTokenSchema>, ApiToken>,
  Same<z.infer<typeof CreatedApiTokenSchema>, CreatedApiToken>,
  Same<z.infer<typeof ErrorBodySchema>, ErrorBody>,
  Same<z.infer<typeof FileInfoSchema>, FileInfo>,
  Same<z.infer<typeof ExecResultSchema>, ExecResult>,
  Same<z.infer<typeof CommandInfoSchema>, CommandInfo>,
  Same<z.infer<typeof TerminalInfoSchema>, TerminalInfo>,
  Same<z.infer<typeof LogLineSchema>, LogLine>,
  Same<z.infer<typeof PreviewSchema>, Preview>,
  Same<z.infer<typeof UploadSummarySchema>, UploadSummary>,
  Same<z.infer<typeof SecretInfoSchema>, SecretInfo>,
  Same<z.infer<typeof SecretRekeyResultSchema>, SecretRekeyResult>,
] = [
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
];
