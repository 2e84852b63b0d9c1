import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page, Workspace } from '@berth/protocol';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { docker, RUN_LABEL, removeLabeled, until } from './harness.js';

/**
 * Fault scenarios F1 and F2 with real process kills: `berth serve` runs as a child process with
 * an env-gated failpoint that SIGKILLs it at a named step (util/failpoints.ts); a second `berth
 * serve` on the same data dir must converge — no orphan, no duplicate — and invariants I1 and I2
 * hold afterwards.
 */

const BIN = join(import.meta.dirname, '../../cli/bin/berth');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Env {
  dataDir: string;
  runId: string;
  token: string;
}

function makeEnv(): Env {
  const runId = `t-${randomUUID().slice(0, 12)}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-fault-'));
  writeFileSync(
    join(dataDir, 'berth.yaml'),
    stringify({
      logLevel: 'warn',
      engine: { stopTimeoutMs: 1000, labels: { [RUN_LABEL]: runId } },
      // T_reap = 2 scans + the grace period: about 1.5 s here.
      reconciler: { intervalMs: 250, orphanGraceMs: 1000, backoffBaseMs: 100, backoffMaxMs: 1000 },
    }),
  );
  return { dataDir, runId, token: `fault-admin-${randomUUID()}` };
}

interface Serve {
  child: ChildProcess;
  url: string;
  output: () => string;
}

/** Every `berth serve` a test started and that has not exited: killed when the test ends, however it ends. */
const children = new Set<ChildProcess>();

function spawnServe(env: Env, failpoint?: string) {
  const child = spawn(BIN, ['serve', '--port', '0', '--data-dir', env.dataDir], {
    env: {
      ...process.env,
      BERTH_ADMIN_TOKEN: env.token,
      BERTH_FAILPOINTS: failpoint ?? '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

function serve(env: Env, failpoint?: string): Promise<Serve> {
  const child = spawnServe(env, failpoint);
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`berth serve did not start: ${output}`)), 30_000);
    const onData = () => {
      const m = /listening on (http:\/\/[0-9.:]+)/.exec(output);
      if (!m) return;
      clearTimeout(timer);
      child.stdout.off('data', onData);
      resolve({ child, url: m[1]!, output: () => output });
    };
    child.stdout.on('data', onData);
    child.on('exit', (code, signal) =>
      reject(new Error(`berth serve exited (${code ?? signal}): ${output}`)),
    );
  });
}

function exited(child: ChildProcess): Promise<NodeJS.Signals | number | null> {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve(child.signalCode ?? child.exitCode);
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
}

async function stop(s: Serve | undefined): Promise<void> {
  if (!s || s.child.exitCode !== null || s.child.signalCode !== null) return;
  const done = exited(s.child);
  s.child.kill('SIGTERM');
  await done;
}

async function call<T>(
  s: Serve,
  env: Env,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${s.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${env.token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

/** Labeled engine objects of this test run. */
async function objects(runId: string) {
  const filters = JSON.stringify({ label: [`${RUN_LABEL}=${runId}`] });
  const [containers, volumes, networks] = await Promise.all([
    docker.listContainers({ all: true, filters }),
    docker.listVolumes({ filters }),
    docker.listNetworks({ filters }),
  ]);
  return { containers, volumes: volumes.Volumes ?? [], networks };
}

/**
 * I1: every labeled container belongs to a live workspace whose spec hash it carries, and only
 * workspace containers remain (no helper left behind). I2: each workspace that should run has
 * exactly one container, and it runs. Also: volumes and networks belong to live workspaces.
 */
async function invariantsHold(s: Serve, env: Env): Promise<string[]> {
  const problems: string[] = [];
  const list = await call<Page<Workspace>>(s, env, 'GET', '/v1/workspaces?limit=200');
  const live = new Map(list.body.items.map((w) => [w.id, w]));
  const { containers, volumes, networks } = await objects(env.runId);
  for (const c of containers) {
    const id = c.Labels['berth.workspace'];
    const ws = id ? live.get(id) : undefined;
    if (!ws) problems.push(`I1: container ${c.Names[0]} belongs to no live workspace`);
    else if (c.Labels['berth.role'] !== 'container')
      problems.push(`I1: ${c.Labels['berth.role']} container ${c.Names[0]} left over`);
    else if (c.Labels['berth.spec-hash'] !== ws.specHash)
      problems.push(`I1: container ${c.Names[0]} has a stale spec hash`);
  }
  for (const ws of live.values()) {
    if (ws.desiredState !== 'running') continue;
    const mine = containers.filter(
      (c) => c.Labels['berth.workspace'] === ws.id && c.Labels['berth.role'] === 'container',
    );
    if (mine.length !== 1) problems.push(`I2: workspace ${ws.name} has ${mine.length} containers`);
    else if (mine[0]!.State !== 'running' || ws.status !== 'running')
      problems.push(`I2: workspace ${ws.name} is ${ws.status}, its container ${mine[0]!.State}`);
  }
  for (const o of [
    ...volumes.map((v) => ({ name: v.Name, labels: v.Labels })),
    ...networks.map((n) => ({ name: n.Name, labels: n.Labels })),
  ]) {
    const id = o.labels?.['berth.workspace'];
    if (!id || !live.has(id)) problems.push(`P1: ${o.name} belongs to no live workspace`);
  }
  return problems;
}

async function withEnv(fn: (env: Env, servers: Serve[]) => Promise<void>): Promise<void> {
  const env = makeEnv();
  const servers: Serve[] = [];
  try {
    await fn(env, servers);
  } finally {
    for (const s of servers) await stop(s);
    for (const child of [...children]) {
      const done = exited(child);
      child.kill('SIGKILL');
      await done;
    }
    await removeLabeled(env.runId);
    rmSync(env.dataDir, { recursive: true, force: true });
  }
}

describe('F1: the daemon is SIGKILLed at each step of a create', () => {
  for (const step of [
    'create.after-insert',
    'create.after-volumes',
    'create.after-container',
    'create.after-start',
  ]) {
    it(`${step}: a restart converges and a retry with the same Idempotency-Key returns the same workspace`, async () => {
      await withEnv(async (env, servers) => {
        const first = await serve(env, step);
        servers.push(first);
        const key = `key-${randomUUID()}`;
        const attempt = await call(
          first,
          env,
          'POST',
          '/v1/workspaces',
          { name: 'f1', ports: [3000] },
          { 'idempotency-key': key },
        ).catch((err: unknown) => err);
        expect(attempt).toBeInstanceOf(Error); // the connection died with the process
        expect(await exited(first.child)).toBe('SIGKILL');
        expect(first.output()).toContain(`failpoint ${step} reached`);

        const second = await serve(env);
        servers.push(second);
        const retry = await call<Workspace>(
          second,
          env,
          'POST',
          '/v1/workspaces',
          { name: 'f1', ports: [3000] },
          { 'idempotency-key': key },
        );
        expect([200, 201]).toContain(retry.status);
        const ws = await until(
          'the workspace to run',
          async () => (await call<Workspace>(second, env, 'GET', `/v1/workspaces/${retry.body.id}`)).body,
          (w) => w.status === 'running',
        );
        expect(ws.name).toBe('f1');
        const list = await call<Page<Workspace>>(second, env, 'GET', '/v1/workspaces');
        expect(list.body.items.map((w) => w.id)).toEqual([ws.id]); // one workspace, not two
        await until(
          'I1 and I2',
          () => invariantsHold(second, env),
          (p) => p.length === 0,
        );
        // Converged and stable: the store's container is the one that runs, and stays so.
        const settled = async () => {
          const now = (await call<Workspace>(second, env, 'GET', `/v1/workspaces/${ws.id}`)).body;
          const [c] = (await objects(env.runId)).containers.filter(
            (x) => x.Labels['berth.role'] === 'container',
          );
          return { store: now.containerId, engine: c?.Id };
        };
        const stable = await until(
          'the store to name the running container',
          settled,
          (x) => x.store === x.engine,
        );
        await sleep(1500);
        expect(await settled()).toEqual(stable);
        expect(await invariantsHold(second, env)).toEqual([]);
      });
    });
  }
});

describe('F2: the daemon is SIGKILLed in the middle of a delete', () => {
  for (const step of ['delete.after-containers', 'delete.after-networks']) {
    it(`${step}: the delete resumes after a restart and leaves nothing; deleting again succeeds`, async () => {
      await withEnv(async (env, servers) => {
        const setup = await serve(env);
        servers.push(setup);
        const keep = await call<Workspace>(setup, env, 'POST', '/v1/workspaces', { name: 'bystander' });
        const doomed = await call<Workspace>(setup, env, 'POST', '/v1/workspaces', { name: 'doomed' });
        expect(doomed.body.status).toBe('running');
        await stop(setup);

        const killed = await serve(env, step);
        servers.push(killed);
        const attempt = await call(killed, env, 'DELETE', `/v1/workspaces/${doomed.body.id}`).catch(
          (e: unknown) => e,
        );
        expect(attempt).toBeInstanceOf(Error);
        expect(await exited(killed.child)).toBe('SIGKILL');
        const half = await objects(env.runId);
        expect(half.volumes.some((v) => v.Labels['berth.workspace'] === doomed.body.id)).toBe(true); // really half done

        const resumed = await serve(env);
        servers.push(resumed);
        await until(
          'the delete to finish',
          async () => (await call(resumed, env, 'GET', `/v1/workspaces/${doomed.body.id}`)).status,
          (status) => status === 404,
        );
        const left = await objects(env.runId);
        const labelsOf = [
          ...left.containers.map((c) => c.Labels),
          ...left.volumes.map((v) => v.Labels),
          ...left.networks.map((n) => n.Labels),
        ];
        expect(labelsOf.filter((l) => l?.['berth.workspace'] === doomed.body.id)).toEqual([]);
        expect((await call(resumed, env, 'DELETE', `/v1/workspaces/${doomed.body.id}`)).status).toBe(204); // P3
        expect(
          (await call<Workspace>(resumed, env, 'GET', `/v1/workspaces/${keep.body.id}`)).body.status,
        ).toBe('running');
        await until(
          'I1 and I2',
          () => invariantsHold(resumed, env),
          (p) => p.length === 0,
        );
      });
    });
  }
});

describe('F11: a second server on the same store', () => {
  it('waits while the first holds the lease and takes over after the first is SIGKILLed', async () => {
    await withEnv(async (env, servers) => {
      writeFileSync(
        join(env.dataDir, 'berth.yaml'),
        stringify({
          logLevel: 'warn',
          engine: { stopTimeoutMs: 1000, labels: { [RUN_LABEL]: env.runId } },
          reconciler: { intervalMs: 250, orphanGraceMs: 1000, leaseTtlMs: 2000 },
        }),
      );
      const first = await serve(env);
      servers.push(first);
      const ws = await call<Workspace>(first, env, 'POST', '/v1/workspaces', { name: 'leased' });
      const pending = serve(env);
      let second: Serve | undefined;
      void pending.then((s) => (second = s)).catch(() => undefined);
      await sleep(3000); // longer than the lease: the first keeps renewing it
      expect(second).toBeUndefined();
      // A standby that is told to stop while it waits stops at once, cleanly.
      const standby = spawnServe(env);
      let said = '';
      standby.stdout.on('data', (c: Buffer) => (said += c.toString()));
      standby.stderr.on('data', (c: Buffer) => (said += c.toString()));
      await until(
        'the standby to wait',
        () => Promise.resolve(said),
        (t) => t.includes('holds the reconciler lease'),
      );
      const stoppedAt = Date.now();
      standby.kill('SIGTERM');
      expect(await exited(standby)).toBe(0);
      expect(Date.now() - stoppedAt).toBeLessThan(5000);
      expect(said).toContain('stopped while waiting for the reconciler lease');
      expect(said).not.toContain('listening on');
      first.child.kill('SIGKILL');
      await exited(first.child);
      second = await pending;
      servers.push(second);
      expect(second.output()).toContain('holds the reconciler lease');
      const seen = await call<Workspace>(second, env, 'GET', `/v1/workspaces/${ws.body.id}`);
      expect(seen.body.status).toBe('running');
      await until(
        'I1 and I2',
        () => invariantsHold(second!, env),
        (p) => p.length === 0,
      );
    });
  });
});
