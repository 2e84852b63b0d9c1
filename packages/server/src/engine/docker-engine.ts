import { existsSync } from 'node:fs';
import { PassThrough, Readable, type Duplex } from 'node:stream';
import type { EngineInfo } from '@berth/protocol';
import Docker from 'dockerode';
import type { Logger } from '../log/logger.js';
import { BERTH_VERSION } from '../version.js';
import { toDockerCreateOptions } from './docker-create-options.js';
import { isConflict, isNotFound, isNotModified, toEngineAppError } from './docker-errors.js';
import {
  demuxFrames,
  rawFrames,
  writeWithBackpressure,
  type OutputChunk,
  type ProcessHandle,
} from './process.js';
import { computeStats, hasPreviousCpu, withPrevious, type EngineStatsSample } from './stats.js';
import type {
  BuildProgress,
  ContainerClient,
  ContainerExit,
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

/** How long apart two stats readings are taken when the engine gives only one (Podman 4). */
const STATS_INTERVAL_MS = 1000;

const labelFilter = (labels: Record<string, string>): string =>
  JSON.stringify({ label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) });

/**
 * Whether an object carries every label of a filter. Lists are filtered again here: Podman 4.3
 * ORs several label filters on volumes (Docker ANDs them), which would hand one workspace's
 * delete every Berth volume on the host.
 */
const hasLabels = (have: Record<string, string> | null | undefined, want: Record<string, string>): boolean =>
  Object.entries(want).every(([k, v]) => have?.[k] === v);

/**
 * The Docker Engine API driver (dockerode). Serves Docker and Podman's Docker-compatible socket;
 * `probe()` tells which one answers and what it can do.
 */
export class DockerEngine implements EngineDriver {
  private readonly docker: Docker;
  /** Same socket without a per-call timeout, for pulls and builds that stream for minutes. */
  private readonly streaming: Docker;
  private readonly log: Logger;
  private readonly callTimeoutMs: number;
  readonly endpoint: string;
  kind: EngineDriver['kind'] = 'unknown';
  info: EngineInfo | null = null;

  constructor(options: DockerEngineOptions) {
    this.endpoint = options.host ?? 'unix:///var/run/docker.sock';
    this.callTimeoutMs = options.callTimeoutMs;
    const headers = { 'User-Agent': `berth/${BERTH_VERSION}` };
    this.docker = new Docker({ ...modemOptions(options.host), timeout: options.callTimeoutMs, headers });
    this.streaming = new Docker({ ...modemOptions(options.host), headers });
    this.log = options.logger.child({ component: 'engine' });
  }

  /** Runs one engine call, mapping failures onto stable codes. */
  private async killContainer(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).kill({ signal: 'SIGKILL' });
    } catch (err) {
      // 404: gone; 409: not running. Both mean it is not running any more.
      if (!isNotFound(err) && !isConflict(err) && !isNotModified(err)) throw err;
    }
  }

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
    const ociRuntimes = Object.entries(info.Runtimes ?? {})
      // Podman lists every runtime its config knows, installed or not; keep the ones present here.
      .filter(
        ([, rt]) =>
          this.kind !== 'podman' || !this.endpoint.startsWith('unix://') || !rt?.path || existsSync(rt.path),
      )
      .map(([name]) => name)
      .sort();
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
        // Podman's Docker-compatible API ignores HostConfig.Runtime, so it cannot put one
        // workspace on gVisor; claiming it would silently run tier 1 on runc.
        gvisor: this.kind === 'docker' && ociRuntimes.includes('runsc'),
        addedCapsEffectiveForNonRoot: this.kind === 'podman',
        outputLostWithStdinInFlight: this.kind === 'podman',
        init: true,
        pidsLimit: info.PidsLimit !== false,
        portPublishing: true,
        build: true,
      },
    };
    this.log.info({ engine: this.info }, 'engine probed');
    return this.info;
  }

  watchExits(
    labels: Record<string, string>,
    onExit: (exit: ContainerExit) => void,
    signal: AbortSignal,
  ): void {
    // The action is filtered here, not by the engine: Podman 4.3 returns nothing for an `event` filter.
    const filters = JSON.stringify({
      type: ['container'],
      label: Object.entries(labels).map(([k, v]) => `${k}=${v}`),
    });
    const loop = async () => {
      let backoffMs = 500;
      while (!signal.aborted) {
        try {
          const stream = await this.streaming.getEvents({
            filters,
            abortSignal: signal,
          });
          backoffMs = 500;
          await forEachJsonLine(stream, signal, (event: EngineEvent) => {
            if ((event.Action ?? event.status) !== 'die') return;
            const attributes = event.Actor?.Attributes ?? {};
            const code = Number(attributes.exitCode);
            onExit({
              containerId: event.Actor?.ID ?? event.id ?? '',
              labels: attributes,
              exitCode: Number.isFinite(code) ? code : null,
            });
          });
        } catch (err) {
          if (signal.aborted) return;
          this.log.debug(
            { err: err instanceof Error ? err.message : String(err) },
            'engine event stream ended; reconnecting',
          );
        }
        await new Promise((resolve) => setTimeout(resolve, backoffMs).unref());
        backoffMs = Math.min(backoffMs * 2, 10_000);
      }
    };
    void loop();
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
        // The engine escalates to SIGKILL after the grace period; if the call itself hangs (F14: a
        // process in D state, a wedged engine), Berth sends the kill and bounds that call too.
        const stop = this.streaming
          .getContainer(id)
          .stop({ t: Math.ceil(timeoutMs / 1000) })
          .then(
            () => 'stopped' as const,
            (err: unknown) => {
              if (!isNotModified(err) && !isNotFound(err)) throw err;
              return 'stopped' as const;
            },
          );
        let timer: NodeJS.Timeout | undefined;
        const hung = new Promise<'hung'>((resolve) => {
          timer = setTimeout(() => resolve('hung'), timeoutMs + this.callTimeoutMs);
        });
        const outcome = await Promise.race([stop, hung]).finally(() => clearTimeout(timer));
        if (outcome === 'hung') {
          stop.catch(() => {});
          this.log.warn({ containerId: id }, 'stop did not return in time; killing the container');
          await this.killContainer(id);
        }
      }),

    kill: (id) => this.call(`kill container ${id}`, () => this.killContainer(id)),

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
        return items
          .filter((c) => hasLabels(c.Labels, labels))
          .map((c) => ({
            id: c.Id,
            names: c.Names,
            labels: c.Labels ?? {},
            state: c.State,
            createdAt: c.Created * 1000,
          }));
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

    execProcess: (id, spec, options) =>
      this.call(`exec in ${id}`, async () => {
        const exec = await this.docker.getContainer(id).exec({
          Cmd: spec.cmd,
          AttachStdin: options.stdin,
          AttachStdout: true,
          AttachStderr: true,
          Tty: spec.tty ?? false,
          ...(spec.user ? { User: spec.user } : {}),
          ...(spec.env ? { Env: spec.env } : {}),
          ...(spec.workingDir ? { WorkingDir: spec.workingDir } : {}),
        });
        const socket = await exec.start({
          hijack: true,
          stdin: options.stdin,
          Tty: spec.tty ?? false,
        });
        return processHandle(socket, spec.tty ?? false, this.kind === 'podman', {
          resize: (cols, rows) => exec.resize({ w: cols, h: rows }).then(() => undefined),
          wait: async () => {
            // The engine may report the exec as running for a moment after its streams closed.
            for (let i = 0; ; i++) {
              const state = await exec.inspect();
              if (!state.Running && state.ExitCode !== null) return state.ExitCode;
              if (i > 200) throw new Error('the exec did not report an exit code');
              await new Promise((r) => setTimeout(r, 10));
            }
          },
        });
      }),

    logs: (id, options, signal) =>
      this.call(`read logs of ${id}`, async () => {
        const container = this.streaming.getContainer(id);
        const { Config } = await container.inspect();
        const params = {
          stdout: true,
          stderr: true,
          timestamps: options.timestamps,
          ...(options.tail !== undefined ? { tail: options.tail } : {}),
          ...(options.since !== undefined ? { since: options.since } : {}),
          ...(signal ? { abortSignal: signal } : {}),
        };
        const source: Readable = options.follow
          ? ((await container.logs({ ...params, follow: true })) as unknown as Readable)
          : Readable.from([await container.logs({ ...params, follow: false })]);
        return Config.Tty ? rawFrames(source) : demuxFrames(source);
      }),

    stats: (id) =>
      this.call(`read stats of ${id}`, async () => {
        // One reading; null when the container is gone or not running (Docker then answers with
        // the zero time, Podman with an empty body).
        const sample = async (): Promise<EngineStatsSample | null> => {
          try {
            const doc = (await this.docker.getContainer(id).stats({ stream: false })) as
              EngineStatsSample | string | null;
            if (typeof doc !== 'object' || doc === null) return null;
            return doc.read && !doc.read.startsWith('0001-') ? doc : null;
          } catch (err) {
            if (isNotFound(err)) return null;
            throw err;
          }
        };
        const first = await sample();
        if (!first || hasPreviousCpu(first)) return first && computeStats(first);
        await new Promise((resolve) => setTimeout(resolve, STATS_INTERVAL_MS));
        const second = await sample();
        return second && computeStats(withPrevious(second, first));
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
        return (res.Volumes ?? [])
          .filter((v) => hasLabels(v.Labels, labels))
          .map((v) => ({ name: v.Name, labels: v.Labels ?? {} }));
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
          // Docker isolates bridge networks from each other by default; Podman (netavark) only
          // when asked, so two workspaces on their own networks could otherwise reach each other.
          Options: {
            'com.docker.network.bridge.enable_icc': 'true',
            ...(this.kind === 'podman' ? { isolate: 'true' } : {}),
          },
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
        return items
          .filter((n) => hasLabels(n.Labels, labels))
          .map((n) => ({ name: n.Name, labels: n.Labels ?? {} }));
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
            env: i.Config?.Env ?? [],
            entrypoint: asArgv(i.Config?.Entrypoint),
            cmd: asArgv(i.Config?.Cmd),
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
          ...(options.buildArgs ? { buildargs: options.buildArgs } : {}),
        });
        let partial = '';
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
              if (options.onOutput && event.stream) {
                const lines = (partial + event.stream).split('\n');
                partial = lines.pop() ?? '';
                for (const line of lines) if (line.trim()) options.onOutput(line);
              }
              // Docker: "Step 3/8 : RUN …"; Podman: "STEP 3/8: RUN …".
              const m = /^step (\d+)\/(\d+) ?: (.*)/i.exec(event.stream ?? '');
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

    importRootfs: (tarball, { repo, tag }) =>
      this.call(`import image ${repo}:${tag}`, async () => {
        const stream = await this.streaming.importImage(tarball, { repo, tag });
        const output = await new Promise<{ status?: string; error?: string }[]>((resolve, reject) => {
          this.streaming.modem.followProgress(
            stream,
            (err: Error | null, out: { status?: string; error?: string }[] | undefined) =>
              err ? reject(err) : resolve(out ?? []),
          );
        });
        const failure = output.find((o) => o.error);
        if (failure) throw new Error(failure.error);
        const id = output.map((o) => /sha256:[0-9a-f]{64}/.exec(o.status ?? '')?.[0]).find(Boolean);
        if (!id) return (await this.docker.getImage(`${repo}:${tag}`).inspect()).Id;
        // Podman's compat import ignores `tag` and tags `repo:latest`: tag the id as asked (a no-op
        // on Docker), and drop a `latest` that only Podman's import made.
        await this.docker.getImage(id).tag({ repo, tag });
        if (tag !== 'latest') {
          const latest = await this.docker
            .getImage(`${repo}:latest`)
            .inspect()
            .catch(() => null);
          if (latest?.Id === id) await this.docker.getImage(`${repo}:latest`).remove({ noprune: true });
        }
        return id;
      }),
  };
}

/** Wraps an attached engine connection as a ProcessHandle. */
function processHandle(
  socket: Duplex,
  tty: boolean,
  podman: boolean,
  ops: {
    resize: (cols: number, rows: number) => Promise<void>;
    wait: () => Promise<number>;
  },
): ProcessHandle {
  let closed = false;
  let exit: Promise<number> | undefined;
  return {
    output: () =>
      tty ? rawFrames(socket) : podman ? withoutPodmanNoise(demuxFrames(socket)) : demuxFrames(socket),
    writeStdin: (data) => writeWithBackpressure(socket, data),
    endStdin: () => {
      if (!socket.writableEnded) socket.end();
    },
    resize: ops.resize,
    wait: () => (exit ??= ops.wait()),
    close: () => {
      if (!closed) {
        closed = true;
        socket.destroy();
      }
      return Promise.resolve();
    },
  };
}

/**
 * Podman 4.3 writes its own attach error into a process's stderr when conmon resets the attach
 * socket as the process exits ("read unixpacket …/attach: … connection reset by peer"). That line
 * is Podman's, not the program's: drop it.
 */
const PODMAN_ATTACH_NOISE = /^Error: read unixpacket @->\S+\/attach: read: connection reset by peer\n?$/;

async function* withoutPodmanNoise(chunks: AsyncIterable<OutputChunk>): AsyncIterable<OutputChunk> {
  for await (const chunk of chunks) {
    if (chunk.stream === 'stderr' && PODMAN_ATTACH_NOISE.test(chunk.data.toString('utf8'))) continue;
    yield chunk;
  }
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

interface EngineEvent {
  id?: string;
  Action?: string;
  status?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

/** Reads a stream of newline-delimited JSON documents until it ends or `signal` aborts. */
async function forEachJsonLine<T>(
  stream: NodeJS.ReadableStream,
  signal: AbortSignal,
  fn: (doc: T) => void,
): Promise<void> {
  let buffer = '';
  await new Promise<void>((resolve, reject) => {
    const stop = () => {
      (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      resolve();
    };
    signal.addEventListener('abort', stop, { once: true });
    stream.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline).trim();
        buffer = buffer.slice(newline + 1);
        if (line) {
          try {
            fn(JSON.parse(line) as T);
          } catch {
            // a malformed line is skipped; the next one may be fine
          }
        }
      }
    });
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', reject);
  });
}

/** The parts of GET /info Berth reads (Docker and Podman both send them). */
interface DockerInfo {
  OperatingSystem?: string;
  Architecture?: string;
  KernelVersion?: string;
  DefaultRuntime?: string;
  CgroupVersion?: string;
  Runtimes?: Record<string, { path?: string } | null>;
  SecurityOptions?: string[];
  PidsLimit?: boolean;
}

type Inspect = Awaited<ReturnType<Docker.Container['inspect']>>;

/** Podman's compat inspect says "oci" rather than a runtime name: unknown, so callers use the engine default. */
function ociRuntimeOf(c: Inspect): string | null {
  const runtime = (c as { OCIRuntime?: string }).OCIRuntime ?? (c.HostConfig as { Runtime?: string }).Runtime;
  return runtime && runtime !== 'oci' ? runtime : null;
}

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
    ociRuntime: ociRuntimeOf(c),
    ipAddress: Object.values(c.NetworkSettings?.Networks ?? {}).find((n) => n.IPAddress)?.IPAddress ?? null,
    ports,
    raw: c,
  };
}

/** ENTRYPOINT/CMD as the engine reports them: an argv array, a string (shell form) or nothing. */
function asArgv(value: unknown): string[] | null {
  if (Array.isArray(value)) return value.length > 0 ? value.map(String) : null;
  if (typeof value === 'string' && value.length > 0) return ['/bin/sh', '-c', value];
  return null;
}
