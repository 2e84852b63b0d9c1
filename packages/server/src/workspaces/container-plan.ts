import type { NormalizedSpec } from '../domain/workspace.js';
import { CA_BUNDLE_FILE, CA_FILE, CONFIG_FILES, EGRESS_SOCKET_MOUNT, SOCKET_NAME } from '../egress/files.js';
import { ownedLabels, resourceNames, type OwnerRef } from '../engine/labels.js';
import type { ContainerPlan, PlannedMount } from '../engine/types.js';
import type { Runtime } from '../runtimes/catalogue.js';

/**
 * Capabilities a tier-2 workspace keeps: what agents need to manage their own files and processes.
 * Dropped from Docker's default 14: NET_RAW (raw sockets, ARP/ICMP spoofing), MKNOD, SETFCAP,
 * SETPCAP, SYS_CHROOT, AUDIT_WRITE. The workspace runs as a non-root user with no-new-privileges,
 * so these are bounding-set ceilings, not effective capabilities.
 */
export const TIER2_CAPABILITIES = [
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'SETGID',
  'SETUID',
  'NET_BIND_SERVICE',
];

export const CONFIGS_PATH = '/configs';
export const WORKSPACE_PATH = '/workspace';
/** Where the tools volume is mounted (read-only) in every workspace, and the helper inside it. */
export const TOOLS_MOUNT = '/.berth';
export const HELPER_IN_WORKSPACE = `${TOOLS_MOUNT}/bin/berth-helper`;
/** Agent contract: Berth's agent socket directory (read-only) and the token file in /configs. */
export const AGENT_SOCKET_MOUNT = '/run/berth';
export const AGENT_SOCKET_PATH = `${AGENT_SOCKET_MOUNT}/agent.sock`;
export const AGENT_TOKEN_FILE = '.berth-agent-token';
/** Env keys whose values come from the host at plan time, not from the spec: drift ignores them. */
export const HOST_DERIVED_ENV = ['PLATFORM_URL'];

/** Whether the container's entrypoint becomes `berth-helper boot` (egress forwarder, secret env). */
export const needsBoot = (spec: NormalizedSpec): boolean =>
  spec.egress.mode === 'allowlist' || Object.keys(spec.secretEnv).length > 0;

/** `berth-helper run` options that give commands and terminals the same env as the main process. */
export const runEnvArgs = (spec: NormalizedSpec): string[] =>
  needsBoot(spec) ? ['--env-file', `${CONFIGS_PATH}/${CONFIG_FILES.env}`] : [];

export interface PlanContext {
  /** Does the engine offer gVisor, and what does the server setting say? */
  gvisorAvailable: boolean;
  /**
   * Seccomp profile for tiers 1-2: null keeps the engine default (Docker's); on Podman Berth passes
   * a profile derived from Podman's default with Docker's namespace rules (engine/seccomp.ts).
   */
  seccompProfile: string | null;
  /** Podman makes added capabilities effective for a non-root user; Docker keeps them as ceilings. */
  addedCapsEffectiveForNonRoot: boolean;
  gvisorMode: 'prefer' | 'require' | 'off';
  platformUrl: string;
  /** Host env that passed the allow/deny filter. */
  passthroughEnv: Record<string, string>;
  /** Engine socket path, mounted into tier 4 only. */
  engineSocketPath: string | null;
  /** Labels added to everything (operator setting; tests use it for per-test cleanup). */
  extraLabels: Record<string, string>;
  /**
   * Whether the image ships /configs and /workspace owned by the workspace user. If not, Berth
   * hands the volume roots over itself, and the engine must not copy the image's root-owned
   * directory over them at mount time.
   */
  volumesPrepared: boolean;
  /** The volume holding berth-helper, mounted read-only at /.berth (null when unavailable). */
  toolsVolume: string | null;
  /** Host directory of Berth's agent socket, for runtimes with an agent. */
  agentSocketDir: string | null;
  /** Host directory of this workspace's gateway socket, and the in-workspace proxy port. */
  egress: { socketDir: string; listenPort: number };
  /**
   * The image's ENTRYPOINT and CMD: `berth-helper boot` replaces the entrypoint and runs them
   * (null when unknown, e.g. for drift checks, which do not compare the command).
   */
  imageCommand: { entrypoint: string[] | null; cmd: string[] | null } | null;
}

export interface WorkspacePlan {
  container: ContainerPlan;
  volumes: { name: string; labels: Record<string, string>; role: 'configs-volume' | 'workspace-volume' }[];
  network: { name: string; labels: Record<string, string> } | null;
}

/** Whether the workspace gets a network of its own (tier 1 has no network; tier 4 uses the host's). */
export const needsNetwork = (tier: number): boolean => tier === 2 || tier === 3;

/**
 * The pure decision at the heart of Berth: a workspace spec becomes a container plan, hardened by
 * tier. Tier 1 meets checklist H1-H4, H6, H7, H11, H13-H17, H19, H21, H22, H24; tier 2 has limits,
 * no-new-privileges and a trimmed capability set; tiers 3-4 follow seed 000 (privileged, host PID;
 * tier 4 adds host network and the engine socket).
 */
export function planWorkspace(
  ws: { id: string; spec: NormalizedSpec; specHash: string; generation: number },
  runtime: Runtime,
  ctx: PlanContext,
): WorkspacePlan {
  const { spec } = ws;
  const owner: OwnerRef = {
    workspaceId: ws.id,
    name: spec.name,
    specHash: ws.specHash,
    generation: ws.generation,
  };
  const names = resourceNames(ws.id);
  const label = (role: Parameters<typeof ownedLabels>[1]) => ownedLabels(owner, role, ctx.extraLabels);
  const tier = spec.tier;

  const volumes: WorkspacePlan['volumes'] = [
    { name: names.configsVolume, labels: label('configs-volume'), role: 'configs-volume' },
  ];
  const noCopy = !ctx.volumesPrepared;
  const mounts: PlannedMount[] = [
    { type: 'volume', source: names.configsVolume, target: CONFIGS_PATH, readOnly: false, noCopy },
  ];
  if (tier !== 1) {
    if (spec.workspace.access === 'none') {
      volumes.push({
        name: names.workspaceVolume,
        labels: label('workspace-volume'),
        role: 'workspace-volume',
      });
      mounts.push({
        type: 'volume',
        source: names.workspaceVolume,
        target: WORKSPACE_PATH,
        readOnly: false,
        noCopy,
      });
    } else if (spec.workspace.hostPath) {
      mounts.push({
        type: 'bind',
        source: spec.workspace.hostPath,
        target: WORKSPACE_PATH,
        readOnly: spec.workspace.access === 'read_only',
      });
    }
  }
  if (ctx.toolsVolume) {
    mounts.push({
      type: 'volume',
      source: ctx.toolsVolume,
      target: TOOLS_MOUNT,
      readOnly: true,
      noCopy: true,
    });
  }
  if (runtime.agent && ctx.agentSocketDir) {
    mounts.push({ type: 'bind', source: ctx.agentSocketDir, target: AGENT_SOCKET_MOUNT, readOnly: true });
  }
  const gateway = spec.egress.mode === 'allowlist';
  if (gateway) {
    mounts.push({ type: 'bind', source: ctx.egress.socketDir, target: EGRESS_SOCKET_MOUNT, readOnly: true });
  }
  if (tier === 4 && ctx.engineSocketPath) {
    mounts.push({
      type: 'bind',
      source: ctx.engineSocketPath,
      target: '/var/run/docker.sock',
      readOnly: false,
    });
  }

  // `none` and `allowlist` leave only loopback: the gateway socket is the one way out (X1).
  const closed = spec.egress.mode !== 'open';
  const network = needsNetwork(tier) && !closed ? { name: names.network, labels: label('network') } : null;
  const proxy = `http://127.0.0.1:${ctx.egress.listenPort}`;
  const caBundle = `${EGRESS_SOCKET_MOUNT}/${CA_BUNDLE_FILE}`;
  const gatewayEnv: Record<string, string> = gateway
    ? {
        HTTP_PROXY: proxy,
        HTTPS_PROXY: proxy,
        http_proxy: proxy,
        https_proxy: proxy,
        ALL_PROXY: proxy,
        all_proxy: proxy,
        NO_PROXY: 'localhost,127.0.0.1,::1',
        no_proxy: 'localhost,127.0.0.1,::1',
        NODE_USE_ENV_PROXY: '1',
        NODE_EXTRA_CA_CERTS: `${EGRESS_SOCKET_MOUNT}/${CA_FILE}`,
        SSL_CERT_FILE: caBundle,
        REQUESTS_CA_BUNDLE: caBundle,
        CURL_CA_BUNDLE: caBundle,
        GIT_SSL_CAINFO: caBundle,
        PIP_CERT: caBundle,
        BERTH_EGRESS_PROXY: proxy,
      }
    : {};
  const platformEnv: Record<string, string> = {
    WORKSPACE_ID: ws.id,
    WORKSPACE_NAME: spec.name,
    WORKSPACE_CONFIG_PATH: CONFIGS_PATH,
    PLATFORM_URL: ctx.platformUrl,
    TIER: String(tier),
    ...(tier !== 1 ? { WORKSPACE_DIR: WORKSPACE_PATH } : {}),
    ...(runtime.agent
      ? {
          BERTH_AGENT_SOCKET: AGENT_SOCKET_PATH,
          BERTH_AGENT_TOKEN_FILE: `${CONFIGS_PATH}/${AGENT_TOKEN_FILE}`,
        }
      : {}),
  };
  // Later entries win: host pass-through, then the runtime's env, then the user's, then the contract.
  const env = { ...ctx.passthroughEnv, ...runtime.env, ...spec.env, ...gatewayEnv, ...platformEnv };

  // berth-helper boot: loads /configs/.berth/env (placeholders, secret env) and, with the gateway,
  // forwards the proxy port to the socket before it execs the real command.
  let entrypoint: string[] | null = null;
  let cmd = runtime.command ?? null;
  if (needsBoot(spec) && ctx.toolsVolume && ctx.imageCommand) {
    entrypoint = [
      HELPER_IN_WORKSPACE,
      'boot',
      '--env-file',
      `${CONFIGS_PATH}/${CONFIG_FILES.env}`,
      ...(gateway
        ? [
            '--egress-listen',
            `127.0.0.1:${ctx.egress.listenPort}`,
            '--egress-socket',
            `${EGRESS_SOCKET_MOUNT}/${SOCKET_NAME}`,
            '--egress-token-file',
            `${CONFIGS_PATH}/${CONFIG_FILES.token}`,
          ]
        : []),
      '--',
    ];
    cmd = [...(ctx.imageCommand.entrypoint ?? []), ...(runtime.command ?? ctx.imageCommand.cmd ?? [])];
  }

  const sandboxed = tier === 1;
  const privileged = tier >= 3;
  const memoryBytes = spec.resources.memoryMb * 1024 * 1024;
  const container: ContainerPlan = {
    name: names.container,
    image: spec.image,
    user: runtime.user,
    env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    cmd,
    entrypoint,
    workingDir: tier === 1 ? null : WORKSPACE_PATH,
    labels: label('container'),
    mounts,
    tmpfs: sandboxed ? { '/tmp': 'rw,noexec,nosuid,nodev,size=64m' } : {},
    readOnlyRootfs: sandboxed,
    capDrop: privileged ? [] : ['ALL'],
    // Ceilings for a non-root user on Docker; on Podman they would become effective, so none there.
    capAdd: sandboxed || privileged || ctx.addedCapsEffectiveForNonRoot ? [] : TIER2_CAPABILITIES,
    noNewPrivileges: !privileged,
    seccompProfile: privileged ? null : ctx.seccompProfile,
    privileged,
    pidModeHost: privileged,
    network:
      sandboxed || closed
        ? { mode: 'none' }
        : tier === 4
          ? { mode: 'host' }
          : { mode: 'network', name: names.network },
    // Tier 1 has no network, so nothing to publish; tier 4 shares the host's ports.
    publishPorts: sandboxed || closed || tier === 4 ? [] : spec.ports.map((p) => p.port),
    memoryBytes,
    nanoCpus: Math.round(spec.resources.cpus * 1e9),
    pidsLimit: spec.resources.pidsLimit,
    ulimits: [
      { name: 'nofile', soft: 8192, hard: 8192 },
      { name: 'nproc', soft: 16384, hard: 16384 },
    ],
    // An init reaps zombies (H22); with the host's PID namespace (tiers 3-4) the host's init does,
    // and Podman refuses an init process there.
    init: !privileged,
    ociRuntime: sandboxed && ctx.gvisorMode !== 'off' && ctx.gvisorAvailable ? 'runsc' : null,
    logMaxSize: '10m',
    logMaxFiles: 3,
  };
  return { container, volumes, network };
}

/**
 * A short-lived helper container from Berth's own image (always present: Berth builds it
 * offline): no network, read-only rootfs, no capabilities but those asked for, no-new-privileges,
 * small limits. Used to hand volumes to the workspace user, fill the tools volume, and run
 * berth-helper on the volumes of a stopped workspace.
 */
export function helperContainerPlan(options: {
  name: string;
  image: string;
  user: string;
  cmd: string[];
  mounts: PlannedMount[];
  labels: Record<string, string>;
  capAdd?: string[];
  seccompProfile?: string | null;
  env?: string[];
}): ContainerPlan {
  return {
    name: options.name,
    image: options.image,
    user: options.user,
    env: options.env ?? [],
    cmd: options.cmd,
    workingDir: null,
    labels: options.labels,
    mounts: options.mounts,
    tmpfs: {},
    readOnlyRootfs: true,
    capDrop: ['ALL'],
    capAdd: options.capAdd ?? [],
    noNewPrivileges: true,
    seccompProfile: options.seccompProfile ?? null,
    privileged: false,
    pidModeHost: false,
    network: { mode: 'none' },
    publishPorts: [],
    memoryBytes: 256 * 1024 * 1024,
    nanoCpus: 1_000_000_000,
    pidsLimit: 64,
    ulimits: [],
    init: false,
    ociRuntime: null,
    logMaxSize: '1m',
    logMaxFiles: 1,
  };
}
