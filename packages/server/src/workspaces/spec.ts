import {
  BUILTIN_GRANTS,
  EGRESS_MODES,
  RESTART_POLICIES,
  LABEL_PREFIX,
  SECRET_NAME_PATTERN,
  TIERS,
  WORKSPACE_ACCESS,
  type Tier,
  type TokenScope,
  type EgressUpdate,
  type WorkspaceSpecInput,
} from '@berth/protocol';
import { z } from 'zod';
import type { ResolvedConfig } from '../config/load.js';
import { CONFIG_PATH, DNS_LABEL } from '../domain/patterns.js';
import { ReadinessSchema } from '../domain/readiness.js';
import type { ConfigFile, NormalizedSpec } from '../domain/workspace.js';
import { AppError } from '../errors.js';
import type { RuntimeCatalogue } from '../runtimes/catalogue.js';
import { readTemplate } from '../runtimes/templates.js';
import { AgentConfigSchema, agentConfigFiles } from '../runtimes/agent-configs.js';
import { canonicalHash } from '../util/canonical-json.js';
import { ENV_KEY_PATTERN } from '../domain/patterns.js';
import { isReservedEnvKey } from './env-rules.js';
import { normalizeGrants } from '../egress/grants.js';
import { parseRule } from '../egress/policy.js';
import { hostPathOnDiskProblem, hostPathProblem } from './host-path.js';

/** Workspace names: a DNS label, so a name can never become a path or an option (B1). */
export const NAME_PATTERN = DNS_LABEL;
const IMAGE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._\-/:@]{0,254}$/;
const LABEL_KEY_PATTERN = /^[A-Za-z0-9]([A-Za-z0-9._/-]{0,61}[A-Za-z0-9])?$/;

export const SPEC_LIMITS = {
  maxEnvValueBytes: 32 * 1024,
  maxEnvTotalBytes: 256 * 1024,
  maxEnvKeys: 256,
  maxLabels: 64,
  maxPorts: 16,
  maxFiles: 256,
  maxFilesBytes: 512 * 1024,
};

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const noControl = (s: string): boolean => !/[\u0000-\u001f\u007f]/.test(s);

const port = z.number().int().min(1).max(65535);

/** Egress mode and host rules (rules are parsed by `normalizeEgress`, with messages per rule). */
const EgressPolicySchema = z.strictObject({
  mode: z.enum(EGRESS_MODES).optional(),
  allow: z.array(z.string().max(260)).max(256).optional(),
  deny: z.array(z.string().max(260)).max(256).optional(),
});

/** Built-in grant names, or custom grants (validated by `normalizeGrants`). */
const GrantsSchema = z
  .array(
    z.union([
      z.enum(BUILTIN_GRANTS),
      z.strictObject({
        name: z.string().max(63),
        hosts: z.array(z.string().max(253)).max(16),
        header: z.string().max(64),
        secret: z.string().max(128),
        prefix: z.string().max(64).optional(),
      }),
    ]),
  )
  .max(16);

export const WorkspaceSpecSchema = z.strictObject({
  name: z
    .string()
    .regex(NAME_PATTERN, 'use 1-63 lowercase letters, digits and inner dashes (a DNS label), e.g. "my-agent"')
    .optional(),
  runtime: z.string().regex(DNS_LABEL, 'a runtime name from GET /v1/runtimes').optional(),
  image: z.string().regex(IMAGE_PATTERN, 'an image reference such as "debian:bookworm"').optional(),
  tier: z
    .union(
      TIERS.map((t) => z.literal(t)) as [z.ZodLiteral<1>, z.ZodLiteral<2>, z.ZodLiteral<3>, z.ZodLiteral<4>],
    )
    .optional(),
  env: z
    .record(
      z.string().regex(ENV_KEY_PATTERN, 'env keys are letters, digits and _ and do not start with a digit'),
      z
        .string()
        .max(
          SPEC_LIMITS.maxEnvValueBytes,
          `env values are at most ${SPEC_LIMITS.maxEnvValueBytes} characters`,
        )
        .refine((v) => !v.includes('\0'), 'env values must not contain NUL'),
    )
    .optional(),
  workspace: z
    .strictObject({
      access: z.enum(WORKSPACE_ACCESS).optional(),
      hostPath: z.string().max(4096).optional(),
    })
    .optional(),
  ports: z
    .array(
      z.union([
        port,
        z.strictObject({
          port,
          name: z.string().regex(NAME_PATTERN, 'port names are DNS labels').optional(),
        }),
      ]),
    )
    .max(SPEC_LIMITS.maxPorts)
    .optional(),
  resources: z
    .strictObject({
      memoryMb: z
        .number()
        .int('memoryMb is a whole number of MiB')
        .min(16, 'memoryMb is at least 16')
        .optional(),
      cpus: z.number().gt(0, 'cpus must be greater than 0').optional(),
      pidsLimit: z.number().int().min(8, 'pidsLimit is at least 8 (0 would mean unlimited)').optional(),
    })
    .optional(),
  labels: z
    .record(
      z.string().regex(LABEL_KEY_PATTERN, 'label keys: 1-63 letters, digits and . _ / -'),
      z.string().max(255).refine(noControl, 'label values must not contain control characters'),
    )
    .optional(),
  files: z
    .record(
      z.string().regex(CONFIG_PATH, 'a relative path inside /configs, without empty, . or .. segments'),
      z.union([
        z.string(),
        z.strictObject({
          content: z.string(),
          encoding: z.enum(['utf8', 'base64']).optional(),
          mode: z
            .number()
            .int()
            .min(0)
            .max(0o777, 'mode is a permission mode up to 0o777 (no setuid, setgid or sticky bits)')
            .optional(),
        }),
      ]),
    )
    .optional(),
  template: z.string().regex(DNS_LABEL, 'a template directory name (a DNS label)').optional(),
  readiness: ReadinessSchema.optional(),
  restartPolicy: z.enum(RESTART_POLICIES).optional(),
  idleTimeoutMs: z
    .number()
    .int()
    .min(1000, 'idleTimeoutMs is at least 1000 (1 s); leave it out for no idle stop')
    .max(31_536_000_000)
    .optional(),
  ttlMs: z
    .number()
    .int()
    .min(1000, 'ttlMs is at least 1000 (1 s); leave it out for no automatic delete')
    .max(31_536_000_000)
    .optional(),
  egress: EgressPolicySchema.optional(),
  grants: GrantsSchema.optional(),
  secretEnv: z
    .record(
      z.string().regex(ENV_KEY_PATTERN, 'env keys are letters, digits and _ and do not start with a digit'),
      z.string().regex(SECRET_NAME_PATTERN, 'a secret name (see GET /v1/secrets)'),
    )
    .optional(),
  agentConfig: AgentConfigSchema.optional(),
  buildImage: z.boolean().optional(),
});

/** `PATCH /v1/workspaces/{id}/egress`: the spec's egress fields, each replacing the current one. */
export const EgressUpdateSchema = EgressPolicySchema.extend({ grants: GrantsSchema.optional() });
export const egressUpdateTypesAgree: [z.infer<typeof EgressUpdateSchema>] extends [EgressUpdate]
  ? [EgressUpdate] extends [z.infer<typeof EgressUpdateSchema>]
    ? true
    : false
  : false = true;

// The schema and the protocol's wire type must agree.
type SchemaInput = z.infer<typeof WorkspaceSpecSchema>;
export const specTypesAgree: [SchemaInput] extends [WorkspaceSpecInput]
  ? [WorkspaceSpecInput] extends [SchemaInput]
    ? true
    : false
  : false = true;

/** Who is asking: decides whether tiers 3-4 are possible. */
export interface Principal {
  id: string;
  scope: TokenScope;
}

/** The admin token's principal id: also the `ownerId` of workspaces it created. */
export const ADMIN_ID = 'admin';

export interface NormalizeContext {
  config: Pick<ResolvedConfig, 'tiers' | 'limits' | 'defaults' | 'hostPaths' | 'templatesDir' | 'dataDir'>;
  catalogue: RuntimeCatalogue;
  principal: Principal;
  /** Whether the engine can run a workspace on gVisor (null when the engine is unknown). */
  gvisorAvailable: boolean | null;
}

const base64Pattern = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Validates a parsed request against policy and fills in defaults. Throws AppError with a stable
 * code and a message that says how to fix the request; never touches the engine or the store.
 * `name` may be absent (the service generates one).
 */
export function normalizeSpec(
  input: SchemaInput,
  ctx: NormalizeContext,
): Omit<NormalizedSpec, 'name'> & { name?: string } {
  const runtime = ctx.catalogue.get(input.runtime ?? 'shell');
  const tier: Tier = input.tier ?? 2;

  if (tier >= 3) {
    if (ctx.principal.scope !== 'admin') {
      throw new AppError('tier_not_allowed', `tier ${tier} needs an admin token; use tier 1 or 2`);
    }
    if (!ctx.config.tiers.allowPrivileged) {
      throw new AppError(
        'tier_not_allowed',
        `tier ${tier} is disabled on this server; an operator can enable it with tiers.allowPrivileged: true`,
      );
    }
  }
  const [uid, gid] = runtime.user.split(':').map(Number);
  if (tier <= 2 && (uid === 0 || gid === 0)) {
    throw new AppError(
      'validation_failed',
      `runtime "${runtime.name}" runs as ${runtime.user}; tiers 1-2 need a non-root uid:gid in the runtime catalogue`,
    );
  }
  if (tier === 1 && ctx.config.tiers.gvisor === 'require' && ctx.gvisorAvailable === false) {
    throw new AppError(
      'runtime_unavailable',
      'tier 1 requires gVisor (tiers.gvisor: require) but the engine cannot run runsc per container (Docker with a "runsc" runtime can; Podman\'s Docker-compatible API cannot); register gVisor with Docker, or set tiers.gvisor to prefer',
    );
  }

  // Env
  const env = input.env ?? {};
  const reserved = Object.keys(env).filter(isReservedEnvKey);
  if (reserved.length > 0) {
    throw new AppError(
      'reserved_env_key',
      `env keys ${reserved.join(', ')} are reserved: Berth sets the platform contract (WORKSPACE_ID, PLATFORM_URL, …) and refuses loader, proxy and CA variables; remove them`,
      { details: { keys: reserved } },
    );
  }
  if (Object.keys(env).length > SPEC_LIMITS.maxEnvKeys) {
    throw new AppError('validation_failed', `at most ${SPEC_LIMITS.maxEnvKeys} env keys`);
  }
  const envBytes = Object.entries(env).reduce((n, [k, v]) => n + k.length + v.length + 2, 0);
  if (envBytes > SPEC_LIMITS.maxEnvTotalBytes) {
    throw new AppError(
      'validation_failed',
      `env is larger than ${SPEC_LIMITS.maxEnvTotalBytes} bytes in total`,
    );
  }

  // Labels
  const labels = input.labels ?? {};
  const reservedLabels = Object.keys(labels).filter((k) => k.toLowerCase().startsWith(LABEL_PREFIX));
  if (reservedLabels.length > 0) {
    throw new AppError(
      'reserved_label',
      `labels ${reservedLabels.join(', ')} use the reserved "${LABEL_PREFIX}" prefix; choose another key`,
    );
  }
  if (Object.keys(labels).length > SPEC_LIMITS.maxLabels) {
    throw new AppError('validation_failed', `at most ${SPEC_LIMITS.maxLabels} labels`);
  }

  // /workspace (seed 000 #65 matrix, hardened)
  const access = input.workspace?.access ?? 'none';
  const hostPath = input.workspace?.hostPath;
  if (access === 'none' && hostPath !== undefined) {
    throw new AppError(
      'validation_failed',
      'workspace.hostPath needs workspace.access read_only or read_write; with access none the workspace gets an isolated volume',
    );
  }
  if (access !== 'none') {
    if (tier === 1) {
      throw new AppError(
        'validation_failed',
        'tier 1 (sandboxed) has no /workspace mount; use tier 2 to mount a host directory',
      );
    }
    if (hostPath === undefined) {
      throw new AppError(
        'validation_failed',
        `workspace.access ${access} needs workspace.hostPath, an absolute directory on the Berth host`,
      );
    }
    const problem =
      hostPathProblem(hostPath, {
        protectedRoots: [ctx.config.dataDir],
        allowedRoots: ctx.config.hostPaths.allowedRoots,
      }) ?? hostPathOnDiskProblem(hostPath);
    if (problem)
      throw new AppError('invalid_host_path', `workspace.hostPath ${JSON.stringify(hostPath)} ${problem}`);
  }

  // Resources
  const defaults = ctx.config.defaults.resources;
  const resources = {
    memoryMb: input.resources?.memoryMb ?? defaults.memoryMb,
    cpus: input.resources?.cpus ?? defaults.cpus,
    pidsLimit: input.resources?.pidsLimit ?? defaults.pidsLimit,
  };
  const limits = ctx.config.limits;
  const over: string[] = [];
  if (resources.memoryMb > limits.maxMemoryMb) over.push(`memoryMb at most ${limits.maxMemoryMb}`);
  if (resources.cpus > limits.maxCpus) over.push(`cpus at most ${limits.maxCpus}`);
  if (resources.pidsLimit > limits.maxPidsLimit) over.push(`pidsLimit at most ${limits.maxPidsLimit}`);
  if (over.length > 0)
    throw new AppError('validation_failed', `resources over the server limits: ${over.join(', ')}`);
  resources.cpus = Math.round(resources.cpus * 100) / 100 || 0.01;

  // Ports: the runtime's agent port first, then the extra ones.
  const ports = [{ port: runtime.port, name: 'agent' }];
  for (const p of input.ports ?? []) {
    const entry =
      typeof p === 'number'
        ? { port: p, name: `port-${p}` }
        : { port: p.port, name: p.name ?? `port-${p.port}` };
    if (ports.some((q) => q.port === entry.port)) {
      throw new AppError(
        'validation_failed',
        `port ${entry.port} is listed twice (the agent port ${runtime.port} is always published)`,
      );
    }
    if (ports.some((q) => q.name === entry.name)) {
      throw new AppError('validation_failed', `port name "${entry.name}" is used twice`);
    }
    ports.push(entry);
  }

  // /configs: template first, then files on top.
  const templateName = input.template ?? runtime.template ?? null;
  const files: Record<string, ConfigFile> = templateName
    ? readTemplate(ctx.config.templatesDir, templateName)
    : {};
  const inputFiles = Object.entries(input.files ?? {});
  if (inputFiles.length > SPEC_LIMITS.maxFiles)
    throw new AppError('validation_failed', `at most ${SPEC_LIMITS.maxFiles} files`);
  let inputBytes = 0;
  for (const [path, file] of inputFiles) {
    const f = typeof file === 'string' ? { content: file } : file;
    if (f.encoding === 'base64' && !base64Pattern.test(f.content)) {
      throw new AppError('validation_failed', `files["${path}"] is not valid base64`);
    }
    const bytes = f.encoding === 'base64' ? Buffer.from(f.content, 'base64') : Buffer.from(f.content, 'utf8');
    inputBytes += bytes.length;
    if (inputBytes > SPEC_LIMITS.maxFilesBytes) {
      throw new AppError(
        'validation_failed',
        `files hold more than ${SPEC_LIMITS.maxFilesBytes} bytes in total`,
      );
    }
    files[path] = { contentBase64: bytes.toString('base64'), mode: f.mode ?? 0o644 };
  }
  // The agent CLI's config files, generated from agentConfig; a file of the spec's own wins.
  if (input.agentConfig && !runtime.configFormat) {
    throw new AppError(
      'validation_failed',
      `runtime "${runtime.name}" has no agent CLI config; agentConfig applies to runtimes with a configFormat (GET /v1/runtimes), e.g. claude-code, codex, gemini`,
    );
  }
  if (runtime.configFormat) {
    const generated = agentConfigFiles(runtime.configFormat, input.agentConfig ?? {});
    for (const [path, content] of Object.entries(generated)) {
      if (!inputFiles.some(([p]) => p === path)) {
        files[path] = { contentBase64: Buffer.from(content).toString('base64'), mode: 0o644 };
      }
    }
  }
  const reservedPaths = Object.keys(files).filter(
    (p) => p === '.berth' || p.startsWith('.berth/') || p.startsWith('.berth-'),
  );
  if (reservedPaths.length > 0) {
    throw new AppError(
      'validation_failed',
      `files ${reservedPaths.join(', ')} are reserved: Berth writes .berth/ (gateway token, CA, env) and .berth-agent-token into /configs; choose another path`,
    );
  }
  const paths = Object.keys(files);
  for (const p of paths) {
    if (paths.some((q) => q !== p && q.startsWith(`${p}/`))) {
      throw new AppError('validation_failed', `files: "${p}" is both a file and a directory`);
    }
  }
  const missing = runtime.requiredFiles.filter((f) => !(f in files));
  if (missing.length > 0) {
    throw new AppError(
      'config_missing',
      `runtime "${runtime.name}" needs ${missing.join(', ')} in /configs: pass it in files (e.g. "files": {"${missing[0]}": "…"}) or choose a template that has it`,
      { details: { missing } },
    );
  }

  const { egress, grants } = normalizeEgress(input, tier);
  const secretEnv = input.secretEnv ?? {};
  const clashing = Object.keys(secretEnv).filter((k) => isReservedEnvKey(k) || k in env);
  if (clashing.length > 0) {
    throw new AppError(
      'validation_failed',
      `secretEnv keys ${clashing.join(', ')} are reserved or also set in env; use each key once and no reserved keys`,
    );
  }

  const readiness = input.readiness ?? runtime.readiness ?? null;
  if (readiness) {
    const port = readiness.http?.port ?? readiness.tcp?.port;
    if (port !== undefined && tier === 1) {
      throw new AppError('validation_failed', 'tier 1 has no network: use a command readiness probe');
    }
    if (port !== undefined && egress.mode !== 'open') {
      throw new AppError(
        'validation_failed',
        `with egress ${egress.mode} the workspace has no network interface but loopback: use a command readiness probe`,
      );
    }
    if (port !== undefined && !ports.some((p) => p.port === port)) {
      throw new AppError(
        'validation_failed',
        `the readiness probe checks port ${port}, which is not declared; add it to ports (the agent port ${runtime.port} always is)`,
      );
    }
  }

  return {
    ...(input.name !== undefined ? { name: input.name } : {}),
    runtime: runtime.name,
    image: input.image ?? runtime.image,
    tier,
    env,
    workspace: { access, hostPath: hostPath === undefined ? null : hostPath.replace(/\/+$/, '') || '/' },
    ports,
    resources,
    labels,
    files,
    template: templateName,
    readiness,
    lifecycle: {
      restartPolicy: input.restartPolicy ?? runtime.restartPolicy,
      idleTimeoutMs: input.idleTimeoutMs ?? null,
      ttlMs: input.ttlMs ?? null,
    },
    egress,
    grants,
    secretEnv,
    ...(input.agentConfig ? { agentConfig: input.agentConfig } : {}),
    ...(input.buildImage ? { buildImage: true } : {}),
  };
}

/**
 * The egress mode and rules: `none` by default on tier 1, `open` on tier 2, `allowlist` when
 * rules or grants are given; tiers 3-4 can leave their network namespace, so only `open` is honest.
 */
export function normalizeEgress(
  input: Pick<SchemaInput, 'egress' | 'grants'>,
  tier: Tier,
): Pick<NormalizedSpec, 'egress' | 'grants'> {
  const wantsGateway = (input.egress?.allow?.length ?? 0) > 0 || (input.grants?.length ?? 0) > 0;
  const mode = input.egress?.mode ?? (wantsGateway ? 'allowlist' : tier === 1 ? 'none' : 'open');
  if (tier >= 3 && mode !== 'open') {
    throw new AppError(
      'validation_failed',
      `tier ${tier} workspaces are privileged and can change their own network, so egress ${mode} could not be enforced; use tier 1 or 2`,
    );
  }
  if (tier === 1 && mode === 'open') {
    throw new AppError(
      'validation_failed',
      'tier 1 (sandboxed) has no direct network; use egress mode allowlist to reach named hosts through the gateway',
    );
  }
  if ((input.grants?.length ?? 0) > 0 && mode !== 'allowlist') {
    throw new AppError(
      'validation_failed',
      `grants need egress mode allowlist: they are injected by the egress gateway, which ${mode === 'open' ? 'open traffic bypasses' : 'mode none never reaches'}`,
    );
  }
  if (mode !== 'allowlist' && (input.egress?.allow?.length ?? 0) > 0) {
    throw new AppError('validation_failed', `egress.allow only applies to mode allowlist (mode is ${mode})`);
  }
  const rules = (list: string[] | undefined, field: string): string[] =>
    (list ?? []).map((text) => {
      try {
        return parseRule(text).text;
      } catch (err) {
        throw new AppError('validation_failed', `egress.${field}: ${(err as Error).message}`);
      }
    });
  let grants;
  try {
    grants = normalizeGrants(input.grants ?? []);
  } catch (err) {
    throw new AppError('validation_failed', `grants: ${(err as Error).message}`);
  }
  return {
    egress: { mode, allow: rules(input.egress?.allow, 'allow'), deny: rules(input.egress?.deny, 'deny') },
    grants,
  };
}

/** Whether the egress gateway is the workspace's only route out (its container has no network). */
export const usesGateway = (spec: Pick<NormalizedSpec, 'egress'>): boolean =>
  spec.egress.mode === 'allowlist';

/** sha256 of what shapes the container: the spec without its name, labels and lifecycle. */
export function specHash(spec: NormalizedSpec): string {
  const {
    name: _name,
    labels: _labels,
    lifecycle: _lifecycle,
    egress,
    grants: _grants,
    secretEnv,
    agentConfig: _agentConfig, // its effect is in files
    buildImage: _buildImage,
    ...shape
  } = spec;
  // Rules and grants change in place; the mode and the boot wrapper shape the container. Specs
  // without either hash as they did before egress policies existed.
  const gateway = egress.mode !== (spec.tier === 1 ? 'none' : 'open');
  const wrapper = Object.keys(secretEnv).length > 0;
  return canonicalHash({
    ...shape,
    ...(gateway ? { egressMode: egress.mode } : {}),
    ...(wrapper ? { secretEnvKeys: Object.keys(secretEnv).sort() } : {}),
  });
}
