import { z } from 'zod';
import { CONFIG_PATH, DNS_LABEL } from '../domain/patterns.js';
import { ReadinessSchema } from '../domain/readiness.js';
import { BERTH_VERSION } from '../version.js';
import { RESTART_POLICIES } from '@berth/protocol';
import { isCidr } from '../util/cidr.js';
import { AGENT_CONFIG_FORMATS } from '../runtimes/agent-configs.js';

const DEFAULT_SHELL_IMAGE = `berth-shell:${BERTH_VERSION}`;

/** Names of runtimes and templates: a DNS label, so they never become paths. */
export const catalogueName = z
  .string()
  .regex(DNS_LABEL, 'use 1-63 lowercase letters, digits and inner dashes');

const relativeConfigPath = z.string().regex(CONFIG_PATH, 'a relative path without empty, . or .. segments');

export const RuntimeConfigSchema = z.strictObject({
  description: z.string().default('').describe('One line shown by `berth runtimes`.'),
  image: z
    .string()
    .min(1)
    .describe('Image reference; pulled when missing unless `recipe` says how Berth builds it.'),
  port: z.number().int().min(1).max(65535).default(8000).describe('Agent port, published on 127.0.0.1.'),
  user: z
    .string()
    .regex(/^\d+:\d+$/, 'numeric uid:gid')
    .default('1000:1000')
    .describe('Numeric uid:gid the workspace runs as (tiers 1-2 refuse uid or gid 0).'),
  requiredFiles: z
    .array(relativeConfigPath)
    .default([])
    .describe('Files that must exist in /configs before start (e.g. config.yaml).'),
  env: z.record(z.string(), z.string()).default({}).describe('Env every workspace of this runtime gets.'),
  template: catalogueName.nullable().default(null).describe('Default config template name.'),
  command: z.array(z.string()).optional().describe('Overrides the image CMD.'),
  shell: z
    .array(z.string())
    .min(1)
    .default(['/bin/sh'])
    .describe('The program `berth shell` and terminals start.'),
  readiness: ReadinessSchema.optional().describe(
    'Readiness probe ({http: {port, path}} | {tcp: {port}} | {command: [...]}, timeoutMs, intervalMs); the workspace is running only once it passes.',
  ),
  agent: z
    .boolean()
    .default(false)
    .describe(
      'The image runs an agent that registers and heartbeats (agent contract); the workspace is running only once it registers.',
    ),
  provisionTimeoutMs: z
    .number()
    .int()
    .min(1000)
    .default(120_000)
    .describe('How long an agent may take to register after start before the workspace fails.'),
  restartPolicy: z
    .enum(RESTART_POLICIES)
    .default('on-failure')
    .describe('Default restart policy of its workspaces: never | on-failure | always.'),
  requiredEnv: z
    .array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(\|[A-Za-z_][A-Za-z0-9_]*)*$/, 'KEY or KEY_A|KEY_B'))
    .default([])
    .describe(
      'Env keys a workspace needs before it starts (`A|B`: either); spec env, secret env and grant placeholders count. Missing ones fail the workspace with `env_missing`.',
    ),
  configFormat: z
    .enum(AGENT_CONFIG_FORMATS)
    .nullable()
    .default(null)
    .describe("Agent CLI whose config files Berth generates into /configs from the spec's `agentConfig`."),
  recipe: catalogueName
    .nullable()
    .default(null)
    .describe(
      'Berth recipe (images/<recipe>) that builds the image; null: the image is pulled when missing.',
    ),
});
export type RuntimeConfig = z.infer<typeof RuntimeConfigSchema>;

const resources = z.strictObject({
  memoryMb: z.number().int().min(16),
  cpus: z.number().min(0.01),
  pidsLimit: z.number().int().min(8),
});

export const ConfigSchema = z.strictObject({
  host: z.string().default('127.0.0.1').describe('Address the API listens on. Keep it on loopback.'),
  port: z.number().int().min(0).max(65535).default(7420).describe('API port (0 picks a free one).'),
  dataDir: z.string().min(1).describe('Directory for the database, admin token and templates.'),
  databaseUrl: z
    .string()
    .optional()
    .describe('`postgres://…` to use Postgres; default is SQLite at `<dataDir>/berth.db`.'),
  logLevel: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .describe('Log level of the structured (JSON) log on stderr.'),
  platformUrl: z
    .string()
    .url()
    .optional()
    .describe('URL workspaces receive as PLATFORM_URL; default is the API URL.'),
  bodyLimitBytes: z.number().int().min(1024).default(1_048_576).describe('Largest accepted request body.'),
  shellImage: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._\-/:]{0,254}$/, 'an image tag')
    .default(DEFAULT_SHELL_IMAGE)
    .describe(
      "Tag of Berth's own busybox image (the `shell` runtime and helpers); built locally when missing.",
    ),
  templatesDir: z.string().optional().describe('Config template directories; default `<dataDir>/templates`.'),
  engine: z
    .strictObject({
      host: z.string().optional().describe('Engine socket, e.g. `unix:///run/podman/podman.sock`.'),
      callTimeoutMs: z.number().int().min(100).default(60_000).describe('Timeout of one engine API call.'),
      stopTimeoutMs: z.number().int().min(0).default(10_000).describe('Grace period before SIGKILL on stop.'),
      labels: z
        .record(z.string(), z.string())
        .default({})
        .describe(
          'Extra labels on every container, volume and network Berth creates for workspaces, and on the images it builds.',
        ),
    })
    .prefault({}),
  network: z
    .strictObject({
      subnetPool: z
        .string()
        .regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, 'an IPv4 CIDR')
        .default('10.213.0.0/16')
        .describe('IPv4 range from which each workspace network gets its own small subnet.'),
      subnetPrefix: z
        .number()
        .int()
        .min(16)
        .max(29)
        .default(28)
        .describe('Prefix length of one workspace subnet (/28 = 14 addresses).'),
    })
    .prefault({}),
  tiers: z
    .strictObject({
      allowPrivileged: z.boolean().default(false).describe('Allow tiers 3-4 (admin tokens only).'),
      gvisor: z
        .enum(['prefer', 'require', 'off'])
        .default('prefer')
        .describe('Tier 1 on gVisor (runsc): when available, always, or never.'),
    })
    .prefault({}),
  limits: z
    .strictObject({
      maxMemoryMb: z.number().int().min(16).default(65_536).describe('Largest `resources.memoryMb`.'),
      maxCpus: z.number().min(0.01).default(64).describe('Largest `resources.cpus`.'),
      maxPidsLimit: z.number().int().min(8).default(32_768).describe('Largest `resources.pidsLimit`.'),
    })
    .prefault({}),
  defaults: z
    .strictObject({
      resources: resources
        .default({ memoryMb: 512, cpus: 1, pidsLimit: 512 })
        .describe('Resources of a workspace that asks for none.'),
    })
    .prefault({}),
  files: z
    .strictObject({
      maxReadBytes: z
        .number()
        .int()
        .min(1)
        .default(256 * 1024 * 1024)
        .describe('Largest file read through the API.'),
      maxWriteBytes: z
        .number()
        .int()
        .min(1)
        .default(256 * 1024 * 1024)
        .describe('Largest file written through the API.'),
      maxArchiveBytes: z
        .number()
        .int()
        .min(1)
        .default(1024 * 1024 * 1024)
        .describe('Largest archive uploaded or downloaded (uncompressed bytes).'),
      maxArchiveEntries: z
        .number()
        .int()
        .min(1)
        .default(100_000)
        .describe('Most entries in an uploaded archive.'),
      maxArchiveRatio: z
        .number()
        .min(1)
        .default(200)
        .describe('Largest expansion of a gzip upload (decompression-bomb guard).'),
      maxListEntries: z.number().int().min(1).default(10_000).describe('Most entries one listing returns.'),
    })
    .prefault({}),
  commands: z
    .strictObject({
      execTimeoutMs: z.number().int().min(1).default(60_000).describe('Default timeout of one-shot exec.'),
      maxTimeoutMs: z
        .number()
        .int()
        .min(1)
        .default(86_400_000)
        .describe('Largest timeoutMs a command may ask for.'),
      defaultMaxOutputBytes: z
        .number()
        .int()
        .min(0)
        .default(10 * 1024 * 1024)
        .describe('Output kept per stream by one-shot exec unless it asks otherwise.'),
      maxOutputBytes: z
        .number()
        .int()
        .min(0)
        .default(64 * 1024 * 1024)
        .describe('Largest maxOutputBytes of one-shot exec.'),
      bufferBytes: z
        .number()
        .int()
        .min(1024)
        .default(1024 * 1024)
        .describe('Recent output kept per command for clients that re-attach.'),
      retainFinishedMs: z
        .number()
        .int()
        .min(0)
        .default(600_000)
        .describe('How long finished commands stay listed.'),
    })
    .prefault({}),
  terminals: z
    .strictObject({
      bufferBytes: z
        .number()
        .int()
        .min(1024)
        .default(256 * 1024)
        .describe('Recent output replayed on reconnect.'),
      detachedTimeoutMs: z
        .number()
        .int()
        .min(1000)
        .default(600_000)
        .describe('How long a terminal with no client stays alive.'),
    })
    .prefault({}),
  env: z
    .strictObject({
      passthroughAllow: z
        .array(z.string())
        .default([])
        .describe('Host env names (globs like `LC_*`) passed into every workspace.'),
      passthroughDeny: z
        .array(z.string())
        .default(['*TOKEN*', '*SECRET*', '*PASSWORD*', '*KEY*', 'BERTH_*'])
        .describe('Host env names never passed through; deny wins over allow.'),
    })
    .prefault({}),
  hostPaths: z
    .strictObject({
      allowedRoots: z
        .array(z.string())
        .default([])
        .describe('If set, `/workspace` host paths must lie under one of these directories.'),
    })
    .prefault({}),
  reconciler: z
    .strictObject({
      intervalMs: z
        .number()
        .int()
        .min(100)
        .default(10_000)
        .describe('How often every workspace and labeled engine object is compared with the store.'),
      concurrency: z.number().int().min(1).default(4).describe('Workspaces reconciled at the same time.'),
      passTimeoutMs: z
        .number()
        .int()
        .min(1000)
        .default(900_000)
        .describe('Longest single reconcile pass (image pulls and builds included).'),
      backoffBaseMs: z
        .number()
        .int()
        .min(1)
        .default(1_000)
        .describe('First retry delay after a failed pass.'),
      backoffMaxMs: z.number().int().min(1).default(60_000).describe('Longest retry delay (with jitter).'),
      orphanGraceMs: z
        .number()
        .int()
        .min(0)
        .default(30_000)
        .describe('How long a labeled object nobody owns is left alone before it is removed.'),
      leaseTtlMs: z
        .number()
        .int()
        .min(500)
        .default(15_000)
        .describe('Reconciler lease; a second server on the same store waits until it expires.'),
    })
    .prefault({}),
  restarts: z
    .strictObject({
      maxFailures: z
        .number()
        .int()
        .min(1)
        .default(5)
        .describe('Failures within `windowMs` after which a workspace is failed with crash_loop.'),
      windowMs: z.number().int().min(1000).default(600_000).describe('The crash-loop window.'),
      backoffBaseMs: z.number().int().min(0).default(1_000).describe('Delay before the first restart.'),
      backoffMaxMs: z.number().int().min(0).default(60_000).describe('Longest delay between restarts.'),
    })
    .prefault({}),
  agents: z
    .strictObject({
      heartbeatIntervalMs: z
        .number()
        .int()
        .min(100)
        .default(10_000)
        .describe('How often agents are told to heartbeat.'),
      heartbeatTimeoutMs: z
        .number()
        .int()
        .min(200)
        .default(45_000)
        .describe('A running agent silent this long is unresponsive, and restarted per its policy.'),
      socketDir: z
        .string()
        .optional()
        .describe(
          'Host directory of the agent socket, mounted read-only at /run/berth; default `<dataDir>/run`.',
        ),
    })
    .prefault({}),
  images: z
    .strictObject({
      recipesDir: z
        .string()
        .optional()
        .describe(
          "Berth's image recipes (one directory per image); default the `images/` directory Berth ships with.",
        ),
      repository: z
        .string()
        .regex(/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/, 'lowercase letters, digits and inner . _ -')
        .default('berth')
        .describe(
          'Prefix of the tags Berth gives the images it builds: `<repository>-<recipe>:<version>`, and `<repository>-debian:<suite>` for a debootstrapped Debian.',
        ),
      baseImage: z
        .string()
        .regex(/^[a-z0-9][a-z0-9._\-/:@]{0,254}$/, 'an image reference')
        .default('debian:bookworm-slim')
        .describe('The Debian image the `base` recipe starts from when it is present or can be pulled.'),
      baseSource: z
        .enum(['auto', 'pull', 'debootstrap'])
        .default('auto')
        .describe(
          '`auto`: use `baseImage` if present or pullable, else make Debian with debootstrap (offline); `pull` or `debootstrap` force one.',
        ),
      debianMirror: z
        .string()
        .url()
        .default('http://deb.debian.org/debian')
        .describe('Debian mirror debootstrap uses (its -security sibling is added to apt sources).'),
      debianSuite: z
        .string()
        .regex(/^[a-z]+$/)
        .default('bookworm')
        .describe('Debian suite debootstrap makes.'),
      extraCaCertificates: z
        .array(z.string())
        .optional()
        .describe(
          "PEM files built into the base image's trust store; default every *.crt in /usr/local/share/ca-certificates (the host's own extra CAs).",
        ),
      npmRegistry: z
        .string()
        .url()
        .default('https://registry.npmjs.org')
        .describe('npm registry the Node.js-based recipes install from.'),
      pipIndexUrl: z
        .string()
        .url()
        .default('https://pypi.org/simple')
        .describe('Python package index the Python-based recipes install from.'),
      buildOnCreate: z
        .boolean()
        .default(false)
        .describe(
          'Build a missing recipe image when a workspace needs it, as if every create asked with `buildImage`; otherwise the workspace fails with the command that builds it.',
        ),
    })
    .prefault({})
    .describe('How Berth builds its runtime images.'),
  egress: z
    .strictObject({
      socketDir: z
        .string()
        .optional()
        .describe(
          'Host directory of the per-workspace gateway sockets (one sub-directory per workspace, mounted read-only at /run/berth-egress); default `<dataDir>/egress` (never inside the agent socket directory, which agent workspaces see). Keep it short: a Unix socket path has at most 107 bytes.',
        ),
      denyCidrs: z
        .array(z.string().refine(isCidr, 'a CIDR such as 10.20.0.0/16'))
        .default([])
        .describe(
          "Ranges never dialled besides the built-in X3 list (e.g. the host's own public addresses).",
        ),
      allowCidrs: z
        .array(z.string().refine(isCidr, 'a CIDR such as 10.20.0.0/16'))
        .default([])
        .describe(
          'Private ranges workspaces may reach through the gateway when their policy allows the name (an internal registry). Cloud metadata addresses stay refused.',
        ),
      dnsServers: z
        .array(z.string().regex(/^[0-9a-fA-F.:[\]]+$/, 'an IP, optionally with :port'))
        .default([])
        .describe("DNS servers the gateway resolves allowed names with; default: the host's resolver."),
      upstreamCaFile: z
        .string()
        .optional()
        .describe(
          'PEM file of extra CAs trusted for upstream HTTPS on granted hosts (a corporate TLS proxy).',
        ),
      caTtlMs: z
        .number()
        .int()
        .min(60_000)
        .default(7 * 24 * 3_600_000)
        .describe(
          'Lifetime of a workspace CA; a new one is made at every start. A workspace running longer needs a restart to renew it.',
        ),
      connectTimeoutMs: z.number().int().min(100).default(10_000).describe('Upstream connect timeout.'),
      listenPort: z
        .number()
        .int()
        .min(1024)
        .max(65535)
        .default(3128)
        .describe(
          'Loopback port inside the workspace where berth-helper forwards to the gateway (HTTP_PROXY).',
        ),
    })
    .prefault({}),
  secrets: z
    .strictObject({
      keyFile: z
        .string()
        .min(1)
        .optional()
        .describe(
          'Key file sealing secrets at rest (mode 0600, created at first start; one `<keyId>:<base64 32 bytes>` per line, the first seals); default `<dataDir>/secrets.key`. The env var BERTH_SECRETS_KEY (same format) replaces the file.',
        ),
    })
    .prefault({}),
  runtimes: z
    .record(catalogueName, RuntimeConfigSchema)
    .default({})
    .describe('Runtime catalogue entries; they add to or replace the built-in `shell`.'),
});

export type Config = z.infer<typeof ConfigSchema>;

/** Env variables that set config keys (path in the schema, and how to read the value). */
export const ENV_BINDINGS: readonly { env: string; path: string[]; kind: 'string' | 'number' | 'boolean' }[] =
  [
    { env: 'BERTH_HOST', path: ['host'], kind: 'string' },
    { env: 'BERTH_PORT', path: ['port'], kind: 'number' },
    { env: 'BERTH_DATA_DIR', path: ['dataDir'], kind: 'string' },
    { env: 'BERTH_DATABASE_URL', path: ['databaseUrl'], kind: 'string' },
    { env: 'BERTH_LOG_LEVEL', path: ['logLevel'], kind: 'string' },
    { env: 'BERTH_PLATFORM_URL', path: ['platformUrl'], kind: 'string' },
    { env: 'BERTH_TEMPLATES_DIR', path: ['templatesDir'], kind: 'string' },
    { env: 'DOCKER_HOST', path: ['engine', 'host'], kind: 'string' },
    { env: 'BERTH_ALLOW_PRIVILEGED_TIERS', path: ['tiers', 'allowPrivileged'], kind: 'boolean' },
    { env: 'BERTH_GVISOR', path: ['tiers', 'gvisor'], kind: 'string' },
    { env: 'BERTH_SECRETS_KEY_FILE', path: ['secrets', 'keyFile'], kind: 'string' },
  ];
