import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { stringify } from 'yaml';
import { runDaemon, type Daemon } from '../src/index.js';

/** A Dockerode client on the same engine as the daemon under test (DOCKER_HOST or the default socket). */
export function engineClient(): Docker {
  const host = process.env.DOCKER_HOST;
  if (host?.startsWith('unix://')) return new Docker({ socketPath: host.slice('unix://'.length) });
  if (host?.startsWith('tcp://')) {
    const url = new URL(host.replace(/^tcp:/, 'http:'));
    return new Docker({ host: url.hostname, port: Number(url.port) });
  }
  return new Docker();
}

export const docker = engineClient();
export const RUN_LABEL = 'berth.test-run';

export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

export interface TestBerth {
  url: string;
  token: string;
  dataDir: string;
  runId: string;
  daemon: Daemon;
  /** Calls the API with the admin token (or `token`) and parses JSON. */
  api<T = unknown>(
    method: string,
    path: string,
    options?: { body?: unknown; raw?: string; headers?: Record<string, string>; token?: string | null },
  ): Promise<ApiResponse<T>>;
  /** What exists on the engine with this test's run label. */
  leftovers(): Promise<{ containers: string[]; volumes: string[]; networks: string[] }>;
  /** The daemon's structured log so far. */
  log(): string;
  cleanup(): Promise<void>;
}

export interface StartOptions {
  config?: Record<string, unknown>;
  env?: Record<string, string>;
}

/** Starts a real daemon on a fresh data dir and SQLite file, on the real engine. */
export async function startBerth(options: StartOptions = {}): Promise<TestBerth> {
  const runId = `t-${randomUUID().slice(0, 12)}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-test-'));
  const token = `test-admin-${randomUUID()}`;
  const engine = (options.config?.engine ?? {}) as Record<string, unknown>;
  const config = {
    logLevel: 'debug',
    ...options.config,
    engine: {
      ...engine,
      stopTimeoutMs: 2000,
      labels: { [RUN_LABEL]: runId, ...((engine.labels as object) ?? {}) },
    },
  };
  writeFileSync(join(dataDir, 'berth.yaml'), stringify(config));
  const logFile = join(dataDir, 'berth.log');
  const daemon = await runDaemon({
    port: 0,
    dataDir,
    env: { ...process.env, BERTH_ADMIN_TOKEN: token, ...options.env },
    print: () => {},
    logDestination: createWriteStream(logFile),
  });
  const leftovers = async () => {
    const filters = JSON.stringify({ label: [`${RUN_LABEL}=${runId}`] });
    const [containers, volumes, networks] = await Promise.all([
      docker.listContainers({ all: true, filters }),
      docker.listVolumes({ filters }),
      docker.listNetworks({ filters }),
    ]);
    return {
      containers: containers.map((c) => c.Id),
      volumes: (volumes.Volumes ?? []).map((v) => v.Name),
      networks: networks.map((n) => n.Name),
    };
  };
  return {
    url: daemon.url,
    token,
    dataDir,
    runId,
    daemon,
    async api(method, path, opts = {}) {
      const headers: Record<string, string> = { ...opts.headers };
      const bearer = opts.token === undefined ? token : opts.token;
      if (bearer !== null) headers.authorization = `Bearer ${bearer}`;
      let body: string | undefined = opts.raw;
      if (opts.body !== undefined) {
        body = JSON.stringify(opts.body);
        headers['content-type'] ??= 'application/json';
      }
      const res = await fetch(`${daemon.url}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        // not JSON; keep the text
      }
      return { status: res.status, body: parsed as never, headers: res.headers };
    },
    leftovers,
    log: () => {
      try {
        return readFileSync(logFile, 'utf8');
      } catch {
        return '';
      }
    },
    async cleanup() {
      try {
        await daemon.close();
      } finally {
        await removeLabeled(runId);
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}

/** Removes every container, network and volume carrying this run label. */
export async function removeLabeled(runId: string): Promise<void> {
  const filters = JSON.stringify({ label: [`${RUN_LABEL}=${runId}`] });
  for (const c of await docker.listContainers({ all: true, filters })) {
    await docker
      .getContainer(c.Id)
      .remove({ force: true, v: true })
      .catch(() => {});
  }
  for (const n of await docker.listNetworks({ filters }))
    await docker
      .getNetwork(n.Id)
      .remove()
      .catch(() => {});
  for (const v of (await docker.listVolumes({ filters })).Volumes ?? []) {
    for (let i = 0; i < 20; i++) {
      try {
        await docker.getVolume(v.Name).remove({ force: true });
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
}

/** Runs `fn` with a fresh daemon and always cleans up, also when `fn` fails. */
export async function withBerth<T>(options: StartOptions, fn: (berth: TestBerth) => Promise<T>): Promise<T> {
  const berth = await startBerth(options);
  try {
    return await fn(berth);
  } finally {
    await berth.cleanup();
  }
}

/** Runs a command in a container and returns its exit code and output. */
export async function execIn(
  containerId: string,
  cmd: string[],
  options: { user?: string } = {},
): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const exec = await docker.getContainer(containerId).exec({
    Cmd: cmd,
    AttachStdout: true,
    AttachStderr: true,
    ...(options.user ? { User: options.user } : {}),
  });
  const stream = await exec.start({ hijack: true, stdin: false });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  docker.modem.demuxStream(
    stream,
    { write: (c: Buffer) => out.push(c) } as unknown as NodeJS.WritableStream,
    { write: (c: Buffer) => err.push(c) } as unknown as NodeJS.WritableStream,
  );
  await new Promise<void>((resolve, reject) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', reject);
  });
  const { ExitCode } = await exec.inspect();
  return {
    exitCode: ExitCode ?? -1,
    stdout: Buffer.concat(out).toString(),
    stderr: Buffer.concat(err).toString(),
  };
}

export async function inspectContainer(id: string) {
  return docker.getContainer(id).inspect();
}

/** Polls `get` until `done` holds; fails naming `what` and the last value seen. Errors count as not yet. */
export async function until<T>(
  what: string,
  get: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    try {
      last = await get();
      if (done(last)) return last;
    } catch {
      // the engine or daemon may be coming back: try again
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
}

/** A new daemon on a test's data dir, after `berth.daemon.close()`, and a JSON client for it. */
export async function reopenBerth(berth: Pick<TestBerth, 'dataDir' | 'token'>) {
  const daemon = await runDaemon({
    port: 0,
    dataDir: berth.dataDir,
    env: { ...process.env, BERTH_ADMIN_TOKEN: berth.token },
    print: () => {},
    logLevel: 'silent',
  });
  return {
    daemon,
    url: daemon.url,
    async api<T>(path: string, init: { method?: string } = {}): Promise<T> {
      const res = await fetch(`${daemon.url}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${berth.token}` },
      });
      return (await res.json()) as T;
    },
    close: () => daemon.close(),
  };
}
