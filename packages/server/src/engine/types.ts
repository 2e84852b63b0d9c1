import type { EngineCapabilities, EngineInfo, WorkspaceStats } from '@berth/protocol';
import type { OutputChunk, ProcessHandle, ProcessSpec } from './process.js';

export type { OutputChunk, ProcessHandle, ProcessSpec };

export type { EngineCapabilities, EngineInfo };

/**
 * A container as Berth wants it, independent of the engine API. The Docker driver maps it 1:1 onto
 * the Docker Engine API (which Podman also serves); a Kubernetes driver would map it onto a Pod.
 */
export interface ContainerPlan {
  name: string;
  image: string;
  /** Numeric `uid:gid`, or null to keep the image's user (tiers 3-4 only). */
  user: string | null;
  env: string[];
  cmd: string[] | null;
  /** Overrides the image's ENTRYPOINT (null keeps it). Docker then ignores the image's CMD. */
  entrypoint?: string[] | null;
  workingDir: string | null;
  labels: Record<string, string>;
  mounts: PlannedMount[];
  tmpfs: Record<string, string>;
  readOnlyRootfs: boolean;
  capDrop: string[];
  capAdd: string[];
  noNewPrivileges: boolean;
  /** Path of a seccomp profile on the engine host, or null for the engine's default profile. */
  seccompProfile: string | null;
  privileged: boolean;
  pidModeHost: boolean;
  /** `none`, `host`, or the name of a Berth network. */
  network: { mode: 'none' } | { mode: 'host' } | { mode: 'network'; name: string };
  /** Container ports published on 127.0.0.1 with an ephemeral host port. */
  publishPorts: number[];
  memoryBytes: number;
  nanoCpus: number;
  pidsLimit: number;
  ulimits: { name: string; soft: number; hard: number }[];
  init: boolean;
  /** OCI runtime name (`runsc` for gVisor), or null for the engine default. */
  ociRuntime: string | null;
  /** Max json-file log size and count, so a chatty agent cannot fill the disk. */
  logMaxSize: string;
  logMaxFiles: number;
}

export interface PlannedMount {
  type: 'volume' | 'bind';
  source: string;
  target: string;
  readOnly: boolean;
  /** Volumes only: do not copy the image's content (and owner) at `target` into an empty volume. */
  noCopy?: boolean;
}

export interface ContainerState {
  id: string;
  name: string;
  image: string;
  imageId: string;
  labels: Record<string, string>;
  running: boolean;
  status: string;
  exitCode: number | null;
  oomKilled: boolean;
  startedAt: string | null;
  finishedAt: string | null;
  ociRuntime: string | null;
  /** The container's address on its first network, when it has one. */
  ipAddress: string | null;
  /** Published ports: container port → host binding. */
  ports: { containerPort: number; hostIp: string; hostPort: number }[];
  /** The raw inspect document, for tests and drift checks. */
  raw: unknown;
}

export interface ContainerSummary {
  id: string;
  names: string[];
  labels: Record<string, string>;
  state: string;
  /** Creation time, ms since the epoch. */
  createdAt: number;
}

export interface ResourceSummary {
  name: string;
  labels: Record<string, string>;
}

export interface ImageDetails {
  id: string;
  sizeBytes: number;
  labels: Record<string, string>;
  repoDigests: string[];
  /** `KEY=value` entries the image sets (a container's env includes them). */
  env: string[];
  /** The image's ENTRYPOINT and CMD (null when unset). */
  entrypoint: string[] | null;
  cmd: string[] | null;
}

/** A container's main process ended (engine `die` event). */
export interface ContainerExit {
  containerId: string;
  labels: Record<string, string>;
  exitCode: number | null;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface PullProgress {
  /** Bytes downloaded over all layers, and their total when known. */
  current: number;
  total: number;
  message: string;
}

export interface BuildProgress {
  step: number;
  totalSteps: number;
  message: string;
}

/** One sample of a running container's resource use (see `WorkspaceStats`). */
export type ContainerStats = Omit<WorkspaceStats, 'workspaceId'>;

export interface ContainerClient {
  create(plan: ContainerPlan): Promise<string>;
  start(id: string): Promise<void>;
  /** Stops with a grace period, then SIGKILL. Already stopped is success. */
  stop(id: string, timeoutMs: number): Promise<void>;
  /** SIGKILL now; not running or gone is success. */
  kill(id: string): Promise<void>;
  /** Force-removes with anonymous volumes. Returns false when it was already gone. */
  remove(id: string): Promise<boolean>;
  inspect(idOrName: string): Promise<ContainerState | null>;
  list(labels: Record<string, string>): Promise<ContainerSummary[]>;
  /** Extracts an uncompressed tar into `path` of a container that is not running. */
  putArchive(id: string, path: string, tar: Buffer): Promise<void>;
  /** Whether `path` exists in the container's filesystem (works on stopped containers). */
  pathExists(id: string, path: string): Promise<boolean>;
  exec(id: string, cmd: string[], options?: { user?: string; env?: string[] }): Promise<ExecResult>;
  /** Waits until the container is not running; returns its exit code. */
  wait(id: string): Promise<number>;
  /** The last `lines` lines of the container's output (stdout and stderr interleaved). */
  logsTail(id: string, lines: number): Promise<string>;
  /** Starts a process in a running container (exec), streams attached. */
  execProcess(id: string, spec: ProcessSpec, options: { stdin: boolean }): Promise<ProcessHandle>;
  /** The container's output, in order; with `follow`, until it stops or `signal` aborts. */
  logs(id: string, options: LogOptions, signal?: AbortSignal): Promise<AsyncIterable<OutputChunk>>;
  /**
   * One sample of a running container's CPU, memory, pids and network use, with CPU measured over
   * about a second. Null when the container is gone.
   */
  stats(id: string): Promise<ContainerStats | null>;
}

export interface LogOptions {
  /** Last N lines (all when absent). */
  tail?: number;
  follow: boolean;
  timestamps: boolean;
  /** Unix seconds. */
  since?: number;
}

export interface VolumeClient {
  create(name: string, labels: Record<string, string>): Promise<void>;
  inspect(name: string): Promise<ResourceSummary | null>;
  remove(name: string): Promise<boolean>;
  list(labels: Record<string, string>): Promise<ResourceSummary[]>;
}

export interface NetworkClient {
  create(
    name: string,
    labels: Record<string, string>,
    options: { subnet: string; internal: boolean },
  ): Promise<void>;
  inspect(name: string): Promise<(ResourceSummary & { subnets: string[] }) | null>;
  remove(name: string): Promise<boolean>;
  list(labels: Record<string, string>): Promise<ResourceSummary[]>;
  /** Subnets of every network the engine has (Berth's or not), to allocate free ones. */
  usedSubnets(): Promise<string[]>;
}

export interface ImageClient {
  inspect(ref: string): Promise<ImageDetails | null>;
  pull(ref: string, onProgress: (p: PullProgress) => void, signal?: AbortSignal): Promise<void>;
  build(
    context: NodeJS.ReadableStream,
    options: BuildOptions,
    onProgress: (p: BuildProgress) => void,
  ): Promise<void>;
  /** Makes an image of a root filesystem tarball (`docker import`); resolves to its id. */
  importRootfs(tarball: NodeJS.ReadableStream, options: { repo: string; tag: string }): Promise<string>;
}

export interface BuildOptions {
  tag: string;
  labels: Record<string, string>;
  /** Values for the Dockerfile's ARGs. */
  buildArgs?: Record<string, string>;
  /** Each line the build prints (step output), for logs and for the error of a failed build. */
  onOutput?: (line: string) => void;
}

/** The engine driver: one port per concern, plus what the engine can do. */
export interface EngineDriver {
  readonly kind: 'docker' | 'podman' | 'unknown';
  readonly containers: ContainerClient;
  readonly volumes: VolumeClient;
  readonly networks: NetworkClient;
  readonly images: ImageClient;
  /** Probes version, OS, arch and runtimes; records them as `info`. */
  probe(): Promise<EngineInfo>;
  readonly info: EngineInfo | null;
  ping(): Promise<boolean>;
  /**
   * Calls `onExit` whenever a container carrying `labels` dies, until `signal` aborts. Reconnects
   * with backoff when the engine goes away (events only make Berth act sooner; they are not the
   * source of truth).
   */
  watchExits(
    labels: Record<string, string>,
    onExit: (exit: ContainerExit) => void,
    signal: AbortSignal,
  ): void;
  close(): Promise<void>;
}
