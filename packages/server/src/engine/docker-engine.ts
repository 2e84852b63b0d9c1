import { PassThrough } from 'node:stream';
import type { EngineInfo } from '@berth/protocol';
import Docker from 'dockerode';
import type { Logger } from '../log/logger.js';
import { BERTH_VERSION } from '../version.js';
import { toDockerCreateOptions } from './docker-create-options.js';
import { isNotFound, isNotModified, toEngineAppError } from './docker-errors.js';
import type {
  BuildProgress,
  ContainerClient,
  ContainerState,
  EngineDriver,
  ImageClient,
  NetworkClient,
  VolumeClient,
} from './types.js';

export interface DockerEngineOptions {
  /** DOCKER_HOST-style address: unix:///path or tcp://host:port. Default: the local Docker socket. */
  host?: string | undefined;
  callTimeoutMs: number;
  logger: Logger;
}

function modemOptions(host: string | undefined): Docker.DockerOptions {
  const address = host ?? 'unix:///var/run/docker.sock';
  if (address.startsWith('unix://')) return { socketPath: address.slice('unix://'.length) };
  const url = new URL(address.replace(/^tcp:/, 'http:'));
  return { host: url.hostname, port: Number(url.port || 2375), protocol: 'http' };
}

const labelFilter = (labels: Record<string, string>): string =>
  JSON.stringify({ label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) });

/**
 * The Docker Engine API driver (dockerode). Serves Docker and Podman's Docker-compatible socket;
 * `probe()` tells which one answers and what it can do.
 */
export class DockerEngine implements EngineDriver {
  private readonly docker: Docker;
  /** Same socket without a per-call timeout, for pulls and builds that stream for minutes. */
  private readonly streaming: Docker;
  private readonly log: Logger;
  readonly endpoint: string;
  kind: EngineDriver['kind'] = 'unknown';
  info: EngineInfo | null = null;

  constructor(options: DockerEngineOptions) {
    this.endpoint = options.host ?? 'unix:///var/run/docker.sock';
    const headers = { 'User-Agent': `berth/${BERTH_VERSION}` };
    this.docker = new Docker({ ...modemOptions(options.host), timeout: options.callTimeoutMs, headers });
    this.streaming = new Docker({ ...modemOptions(options.host), headers });
    this.log = options.logger.child({ component: 'engine' });
  }

  /** Runs one engine call, mapping failures onto stable codes. */
  private async call<T>(action: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toEngineAppError(err, action, this.endpoint);
    }
  }

  async ping(): Promise<boolean> {
    try {
      await this.docker.ping();
      return true;
    } catch {
      return false;
    }
  }

  async probe(): Promise<EngineInfo> {
    const [version, info] = await this.call('probe engine', async () => {
      const v = await this.docker.version();
      const i = (await this.docker.info()) as DockerInfo;
      return [v, i] as const;
    });
    const components = (version as { Components?: { Name: string }[] }).Components ?? [];
    this.kind = components.some((c) => /podman/i.test(c.Name)) ? 'podman' : 'docker';
    const ociRuntimes = Object.keys(info.Runtimes ?? {}).sort();
    const securityOptions = info.SecurityOptions ?? [];
    this.info = {
      kind: this.kind,
      version: version.Version,
      apiVersion: version.ApiVersion,
      os: info.OperatingSystem ?? version.Os,
      arch: info.Architecture ?? version.Arch,
      kernel: info.KernelVersion ?? version.KernelVersion ?? '',
      ociRuntimes,
      defaultRuntime: info.DefaultRuntime ?? 'runc',
      cgroupVersion: info.CgroupVersion ?? '',
      securityOptions,
      capabilities: {
        gvisor: ociRuntimes.includes('runsc'),
        init: true,
        pidsLimit: info.PidsLimit !== false,
        portPublishing: true,
        build: true,
      },
    };
    this.log.info({ engine: this.info }, 'engine probed');
    return this.info;
  }

  async close(): Promise<void> {
    // dockerode keeps no pooled connections that need closing; present for drivers that do.
  }

  readonly containers: ContainerClient = {
    create: (plan) =>
      this.call(`create container ${plan.name}`, async () => {
        const c = await this.docker.createContainer(toDockerCreateOptions(plan));
        this.log.debug({ containerId: c.id, name: plan.name }, 'container created');
        return c.id;
      }),

    start: (id) =>
      this.call(`start container ${id}`, async () => {
        try {
          await this.docker.getContainer(id).start();
        } catch (err) {
          if (!isNotModified(err)) throw err;
        }
      }),

    stop: (id, timeoutMs) =>
      this.call(`stop container ${id}`, async () => {
        try {
          await this.streaming.getContainer(id).stop({ t: Math.ceil(timeoutMs / 1000) });
        } catch (err) {
          if (!isNotModified(err) && !isNotFound(err)) throw err;
        }
      }),

    remove: (id) =>
      this.call(`remove container ${id}`, async () => {
        try {
          await this.streaming.getContainer(id).remove({ force: true, v: true });
          this.log.debug({ containerId: id }, 'container removed');
          return true;
        } catch (err) {
          if (isNotFound(err)) return false;
          // "removal already in progress" counts as done by someone else
          if ((err as { statusCode?: number }).statusCode === 409) return true;
          throw err;
        }
      }),

    inspect: (idOrName) =>
      this.call(`inspect container ${idOrName}`, async () => {
        try {
          return toContainerState(await this.docker.getContainer(idOrName).inspect());
        } catch (err) {
          if (isNotFound(err)) return null;
          throw err;
        }
      }),

    list: (labels) =>
      this.call('list containers', async () => {
        const items = await this.docker.listContainers({ all: true, filters: labelFilter(labels) });
        return items.map((c) => ({ id: c.Id, names: c.Names, labels: c.Labels ?? {}, state: c.State }));
      }),

    putArchive: (id, path, tar) =>
      this.call(`write archive into ${id}:${path}`, async () => {
        // The tar's uid/gid are kept (extraction runs as root); copyUIDGID would resolve the
        // container user by name, which fails for numeric users absent from /etc/passwd.
        await this.docker.getContainer(id).putArchive(tar, { path });
      }),

    pathExists: (id, path) =>
      this.call(`stat ${id}:${path}`, async () => {
        try {
          await this.docker.getContainer(id).infoArchive({ path });
          return true;
        } catch (err) {
          if (isNotFound(err)) return false;
          throw err;
        }
      }),

    wait: (id) =>
      this.call(`wait for container ${id}`, async () => {
        const res = (await this.streaming.getContainer(id).wait()) as { StatusCode: number };
        return res.StatusCode;
      }),

    logsTail: (id, lines) =>
      this.call(`read logs of ${id}`, async () => {
        const container = this.docker.getContainer(id);
        const info = await container.inspect();
        const raw = await container.logs({
          stdout: true,
          stderr: true,
          tail: lines,
          follow: false,
        });
        return info.Config.Tty ? raw.toString('utf8') : demuxBuffer(raw);
      }),

    exec: (id, cmd, options = {}) =>
      this.call(`exec in ${id}`, async () => {
        const exec = await this.docker.getContainer(id).exec({
          Cmd: cmd,
          AttachStdout: true,
          AttachStderr: true,
          ...(options.user ? { User: options.user } : {}),
          ...(options.env ? { Env: options.env } : {}),
        });
        const stream = await exec.start({ hijack: true, stdin: false });
        const out = new PassThrough();
        const err = new PassThrough();
        const chunks: { out: Buffer[]; err: Buffer[] } = { out: [], err: [] };
        out.on('data', (c: Buffer) => chunks.out.push(c));
        err.on('data', (c: Buffer) => chunks.err.push(c));
        this.docker.modem.demuxStream(stream, out, err);
        await new Promise<void>((resolve, reject) => {
          stream.on('end', resolve);
          stream.on('close', resolve);
          stream.on('error', reject);
        });
        const inspected = await exec.inspect();
        return {
          exitCode: inspected.ExitCode ?? -1,
          stdout: Buffer.concat(chunks.out).toString('utf8'),
          stderr: Buffer.concat(chunks.err).toString('utf8'),
        };
      }),
  };

  readonly volumes: VolumeClient = {
    create: (name, labels) =>
      this.call(`create volume ${name}`, async () => {
        await this.docker.createVolume({ Name: name, Labels: labels });
      }),
    inspect: (name) =>
      this.call(`inspect volume ${name}`, async () => {
        try {
          const v = (await this.docker.getVolume(name).inspect()) as {
            Name: string;
            Labels: Record<string, string> | null;
          };
          return { name: v.Name, labels: v.Labels ?? {} };
        } catch (err) {
          if (isNotFound(err)) return null;
          throw err;
        }
      }),
    remove: (name) =>
      this.call(`remove volume ${name}`, async () => {
        try {
          await this.docker.getVolume(name).remove({ force: true });
          return true;
        } catch (err) {
          if (isNotFound(err)) return false;
          throw err;
        }
      }),
    list: (labels) =>
      this.call('list volumes', async () => {
        const res = (await this.docker.listVolumes({ filters: labelFilter(labels) })) as {
          Volumes: { Name: string; Labels: Record<string, string> | null }[] | null;
        };
        return (res.Volumes ?? []).map((v) => ({ name: v.Name, labels: v.Labels ?? {} }));
      }),
  };

  readonly networks: NetworkClient = {
    create: (name, labels, options) =>
      this.call(`create network ${name}`, async () => {
        await this.docker.createNetwork({
          Name: name,
          Driver: 'bridge',
          Labels: labels,
          Internal: options.internal,
          CheckDuplicate: true,
          IPAM: { Driver: 'default', Config: [{ Subnet: options.subnet }] },
          Options: { 'com.docker.network.bridge.enable_icc': 'true' },
        });
      }),
    inspect: (name) =>
      this.call(`inspect network ${name}`, async () => {
        try {
          const n = (await this.docker.getNetwork(name).inspect()) as {
            Name: string;
            Labels: Record<string, string> | null;
            IPAM?: { Config?: { Subnet?: string }[] | null };
          };
          const subnets = (n.IPAM?.Config ?? []).map((c) => c.Subnet).filter((s): s is string => !!s);
          return { name: n.Name, labels: n.Labels ?? {}, subnets };
        } catch (err) {
          if (isNotFound(err)) return null;
          throw err;
        }
      }),
    remove: (name) =>
      this.call(`remove network ${name}`, async () => {
        try {
          await this.docker.getNetwork(name).remove();
          return true;
        } catch (err) {
          if (isNotFound(err)) return false;
          throw err;
        }
      }),
    list: (labels) =>
      this.call('list networks', async () => {
        const items = await this.docker.listNetworks({ filters: labelFilter(labels) });
        return items.map((n) => ({ name: n.Name, labels: n.Labels ?? {} }));
      }),
    usedSubnets: () =>
      this.call('list networks', async () => {
        const items = await this.docker.listNetworks();
        return items.flatMap((n) =>
          (n.IPAM?.Config ?? []).map((c) => c.Subnet).filter((s): s is string => !!s),
        );
      }),
  };

  readonly images: ImageClient = {
    inspect: (ref) =>
      this.call(`inspect image ${ref}`, async () => {
        try {
          const i = await this.docker.getImage(ref).inspect();
          return {
            id: i.Id,
            sizeBytes: i.Size,
            labels: i.Config?.Labels ?? {},
            repoDigests: i.RepoDigests ?? [],
          };
        } catch (err) {
          if (isNotFound(err)) return null;
          throw err;
        }
      }),

    pull: (ref, onProgress, signal) =>
      this.call(`pull image ${ref}`, async () => {
        const stream = await this.streaming.pull(ref, signal ? { abortSignal: signal } : {});
        const layers = new Map<string, { current: number; total: number }>();
        await new Promise<void>((resolve, reject) => {
          this.streaming.modem.followProgress(
            stream,
            (err: Error | null, output: { error?: string }[] | undefined) => {
              const failure = err ?? (output ?? []).find((o) => o.error);
              if (failure) reject(failure instanceof Error ? failure : new Error(String(failure.error)));
              else resolve();
            },
            (event: {
              id?: string;
              status?: string;
              progressDetail?: { current?: number; total?: number };
            }) => {
              if (event.id && event.progressDetail?.total) {
                layers.set(event.id, {
                  current: event.progressDetail.current ?? 0,
                  total: event.progressDetail.total,
                });
              }
              let current = 0;
              let total = 0;
              for (const l of layers.values()) {
                current += l.current;
                total += l.total;
              }
              onProgress({ current, total, message: event.status ?? 'pulling' });
            },
          );
        });
      }),

    build: (context, options, onProgress) =>
      this.call(`build image ${options.tag}`, async () => {
        const stream = await this.streaming.buildImage(context, {
          t: options.tag,
          labels: options.labels,
          rm: true,
          forcerm: true,
        });
        await new Promise<void>((resolve, reject) => {
          this.streaming.modem.followProgress(
            stream,
            (
              err: Error | null,
              output: { error?: string; errorDetail?: { message?: string } }[] | undefined,
            ) => {
              const failure = (output ?? []).find((o) => o.error);
              if (err) reject(err);
              else if (failure) reject(new Error(failure.errorDetail?.message ?? failure.error));
              else resolve();
            },
            (event: { stream?: string }) => {
              const m = /^Step (\d+)\/(\d+) : (.*)/.exec(event.stream ?? '');
              if (m)
                onProgress({
                  step: Number(m[1]),
                  totalSteps: Number(m[2]),
                  message: m[3] ?? '',
                } satisfies BuildProgress);
            },
          );
        });
      }),
  };
}

/** Strips the 8-byte frame headers of Docker's multiplexed stdout/stderr stream. */
export function demuxBuffer(data: Buffer): string {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= data.length) {
    const size = data.readUInt32BE(offset + 4);
    parts.push(data.subarray(offset + 8, offset + 8 + size));
    offset += 8 + size;
  }
  return Buffer.concat(parts).toString('utf8');
}

/** The parts of GET /info Berth reads (Docker and Podman both send them). */
interface DockerInfo {
  OperatingSystem?: string;
  Architecture?: string;
  KernelVersion?: string;
  DefaultRuntime?: string;
  CgroupVersion?: string;
  Runtimes?: Record<string, unknown>;
  SecurityOptions?: string[];
  PidsLimit?: boolean;
}

type Inspect = Awaited<ReturnType<Docker.Container['inspect']>>;

function toContainerState(c: Inspect): ContainerState {
  const ports: ContainerState['ports'] = [];
  for (const [key, bindings] of Object.entries(c.NetworkSettings?.Ports ?? {})) {
    const containerPort = Number(key.split('/')[0]);
    for (const b of bindings ?? []) {
      ports.push({ containerPort, hostIp: b.HostIp, hostPort: Number(b.HostPort) });
    }
  }
  const zeroTime = (t: string | undefined): string | null => (!t || t.startsWith('0001-') ? null : t);
  return {
    id: c.Id,
    name: c.Name.replace(/^\//, ''),
    image: c.Config.Image,
    imageId: c.Image,
    labels: c.Config.Labels ?? {},
    running: c.State.Running,
    status: c.State.Status,
    exitCode: c.State.Running ? null : c.State.ExitCode,
    oomKilled: c.State.OOMKilled,
    startedAt: zeroTime(c.State.StartedAt),
    finishedAt: zeroTime(c.State.FinishedAt),
    ociRuntime: (c.HostConfig as { Runtime?: string }).Runtime ?? null,
    ports,
    raw: c,
  };
}
