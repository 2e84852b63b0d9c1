import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentAck, Workspace, WorkspaceEvent } from '@berth/protocol';
import { describe, expect, it } from 'vitest';
import {
  docker,
  execIn,
  inspectContainer,
  reopenBerth,
  RUN_LABEL,
  until,
  withBerth,
  type TestBerth,
} from './harness.js';

const IMAGE = 'berth-shell:0.1.0';
const AGENT = '/.berth/bin/berth-helper';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const getWs = async (berth: TestBerth, id: string) =>
  (await berth.api<Workspace>('GET', `/v1/workspaces/${id}`)).body;

const waitWs = (berth: TestBerth, id: string, done: (ws: Workspace) => boolean, timeoutMs?: number) =>
  until(`workspace ${id}`, () => getWs(berth, id), done, timeoutMs);

async function events(berth: TestBerth, id: string): Promise<WorkspaceEvent[]> {
  const res = await berth.api<{ items: WorkspaceEvent[] }>('GET', `/v1/workspaces/${id}/events?limit=500`);
  return res.body.items;
}

async function create(berth: TestBerth, body: Record<string, unknown>, wait = true): Promise<Workspace> {
  const res = await berth.api<Workspace>('POST', `/v1/workspaces${wait ? '' : '?wait=false'}`, { body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

/** Fast reconciler settings for tests: scans every 300 ms, orphans reaped after 1 s. */
const FAST = {
  reconciler: { intervalMs: 300, orphanGraceMs: 1000, backoffBaseMs: 100, backoffMaxMs: 1000 },
  restarts: { maxFailures: 3, windowMs: 60_000, backoffBaseMs: 200, backoffMaxMs: 1000 },
};

describe('restart policies and crash loops (F6, F7)', () => {
  it('restarts a crashing process with backoff, then fails it with crash_loop and stops restarting', async () => {
    await withBerth(
      {
        config: {
          ...FAST,
          runtimes: {
            crashy: { image: IMAGE, command: ['sh', '-c', 'echo crash-output-$$; sleep 0.3; exit 3'] },
          },
        },
      },
      async (berth) => {
        const ws = await create(berth, { runtime: 'crashy' });
        const failed = await waitWs(berth, ws.id, (w) => w.status === 'failed');
        expect(failed.error?.code).toBe('crash_loop');
        expect(failed.error?.message).toContain('exited with code 3');
        expect(failed.error?.message).toMatch(/3 failures within 60 s/);
        expect(failed.error?.message).toContain('crash-output-');
        expect(failed.restarts).toMatchObject({
          count: 2,
          recentFailures: 3,
          lastExitCode: 3,
          nextAttemptAt: null,
        });
        expect(failed.restartPolicy).toBe('on-failure');

        const restarting = (await events(berth, ws.id)).filter((e) => e.type === 'workspace.restarting');
        expect(restarting.map((e) => e.data?.delayMs)).toEqual([200, 400]);
        expect(restarting.map((e) => e.data?.exitCode)).toEqual([3, 3]);

        // No container keeps restarting: it stays exited.
        const c1 = await inspectContainer(failed.containerId!);
        await sleep(1500);
        const c2 = await inspectContainer(failed.containerId!);
        expect(c2.State.Running).toBe(false);
        expect(c2.State.StartedAt).toBe(c1.State.StartedAt);
        expect((await getWs(berth, ws.id)).status).toBe('failed');

        // A user's start forgets the window and tries again.
        const started = await berth.api<Workspace>('POST', `/v1/workspaces/${ws.id}/start?wait=false`);
        expect(started.status).toBe(200);
        await until(
          'a fresh restart',
          () => events(berth, ws.id),
          (evs) => evs.filter((e) => e.type === 'workspace.restarting').length >= 3,
        );
      },
    );
  });

  it('on-failure: a process killed from outside is restarted; a clean exit stops the workspace', async () => {
    await withBerth({ config: FAST }, async (berth) => {
      const ws = await create(berth, {});
      await docker.getContainer(ws.containerId!).kill({ signal: 'SIGKILL' });
      const back = await waitWs(berth, ws.id, (w) => w.status === 'running' && w.restarts.count === 1);
      expect(back.restarts.lastExitCode).toBe(137);
      expect((await inspectContainer(back.containerId!)).State.Running).toBe(true);
      const types = (await events(berth, ws.id)).map((e) => e.type);
      expect(types.slice(types.indexOf('workspace.restarting'))).toEqual([
        'workspace.restarting',
        'workspace.restarted',
        'workspace.running',
      ]);
    });
    await withBerth(
      {
        config: {
          ...FAST,
          runtimes: { oneshot: { image: IMAGE, command: ['sh', '-c', 'sleep 0.5; exit 0'] } },
        },
      },
      async (berth) => {
        const ws = await create(berth, { runtime: 'oneshot' });
        const done = await waitWs(berth, ws.id, (w) => w.status === 'stopped');
        expect(done.desiredState).toBe('stopped');
        expect(done.error).toBeNull();
        const exited = (await events(berth, ws.id)).find((e) => e.type === 'workspace.exited');
        expect(exited?.status).toBe('stopped');
        expect(exited?.message).toContain('exited with code 0');
      },
    );
  });

  it('always: restarts a clean exit too; never: an OOM kill fails the workspace with the reason', async () => {
    await withBerth(
      {
        config: {
          ...FAST,
          runtimes: {
            oneshot: { image: IMAGE, command: ['sh', '-c', 'sleep 0.5; exit 0'] },
            hog: {
              image: IMAGE,
              command: ['sh', '-c', 'sleep 0.3; x=$(head -c 200000000 /dev/zero | tr "\\0" a)'],
            },
          },
        },
      },
      async (berth) => {
        const always = await create(berth, { runtime: 'oneshot', restartPolicy: 'always' });
        const restarted = await waitWs(berth, always.id, (w) => w.restarts.count >= 1);
        expect(restarted.restarts.lastExitCode).toBe(0);
        expect(restarted.desiredState).toBe('running');

        const hog = await create(berth, {
          runtime: 'hog',
          restartPolicy: 'never',
          resources: { memoryMb: 32 },
        });
        const failed = await waitWs(berth, hog.id, (w) => w.status === 'failed');
        expect(failed.error?.code).toBe('container_exited');
        expect(failed.error?.message).toContain('code 137');
        const ev = (await events(berth, hog.id)).find((e) => e.type === 'workspace.failed');
        const system = await berth.api<{ engine: { kind: string } }>('GET', '/v1/system');
        if (system.body.engine.kind === 'docker') {
          expect(failed.error?.message).toContain('out of memory');
          expect(ev?.data).toMatchObject({ oomKilled: true, exit: 'oom' });
        } else {
          // Podman 4.3 does not report OOMKilled in inspect: the kill is classified as from outside.
          expect(ev?.data).toMatchObject({ exitCode: 137 });
        }
      },
    );
  });
});

describe('drift and missing containers (seed 004)', () => {
  /**
   * Replaces the workspace's container with one of the same name made outside Berth (while Berth
   * is down, so the swap is not seen half-done): same image, user, command and volumes, with the
   * env and labels given.
   */
  async function swap(
    ws: Workspace,
    change: { env?: (env: string[]) => string[]; labels?: Record<string, string> },
  ): Promise<string> {
    const current = await inspectContainer(`berth-${ws.id}`);
    await docker.getContainer(current.Id).remove({ force: true });
    const impostor = await docker.createContainer({
      name: `berth-${ws.id}`,
      Image: current.Config.Image,
      User: current.Config.User,
      Cmd: current.Config.Cmd,
      Env: change.env ? change.env(current.Config.Env) : current.Config.Env,
      Labels: { ...current.Config.Labels, ...change.labels },
      HostConfig: {
        Binds: [`berth-${ws.id}-workspace:/workspace`, `berth-${ws.id}-configs:/configs`],
        PortBindings: { '8000/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] },
        NetworkMode: `berth-${ws.id}`,
      },
    });
    await impostor.start();
    return impostor.id;
  }

  const eventsVia = async (again: Awaited<ReturnType<typeof reopenBerth>>, id: string) =>
    (await again.api<{ items: WorkspaceEvent[] }>(`/v1/workspaces/${id}/events?limit=500`)).items;

  it('recreates a container replaced behind its back, keeps the volumes, and says what drifted', async () => {
    await withBerth({ config: FAST }, async (berth) => {
      const ws = await create(berth, { env: { MODE: 'a' } });
      expect((await execIn(ws.containerId!, ['sh', '-c', 'echo kept > /workspace/file'])).exitCode).toBe(0);
      await berth.daemon.close();
      const impostor = await swap(ws, {
        env: (env) => [...env.filter((e) => !e.startsWith('MODE=')), 'MODE=b', 'INJECTED=1'],
      });
      const again = await reopenBerth(berth);
      try {
        const evs = await until(
          'a drift event',
          () => eventsVia(again, ws.id),
          (items) => items.some((e) => e.type === 'workspace.drift'),
        );
        const ev = evs.find((e) => e.type === 'workspace.drift')!;
        expect(ev.message).toContain('env: changed MODE; unexpected INJECTED');
        expect(JSON.stringify(ev)).not.toContain('MODE=b');
        const healed = await until(
          'the recreated container',
          () => again.api<Workspace>(`/v1/workspaces/${ws.id}`),
          // Neither the impostor nor the container the store knew from before the swap.
          (w) => w.status === 'running' && ![impostor, ws.containerId].includes(w.containerId),
        );
        const fresh = await inspectContainer(healed.containerId!);
        expect(fresh.Config.Env).toContain('MODE=a');
        expect(fresh.Config.Env.some((e) => e.startsWith('INJECTED='))).toBe(false);
        expect((await execIn(healed.containerId!, ['cat', '/workspace/file'])).stdout).toBe('kept\n');
        await expect(docker.getContainer(impostor).inspect()).rejects.toMatchObject({ statusCode: 404 });
        // Converged: the next scans find no drift again.
        await sleep(1000);
        expect((await eventsVia(again, ws.id)).filter((e) => e.type === 'workspace.drift')).toHaveLength(1);
      } finally {
        await again.close();
      }
    });
  });

  it('recreates a container that was removed, and one whose spec-hash label is stale', async () => {
    await withBerth({ config: FAST }, async (berth) => {
      const ws = await create(berth, {});
      await docker.getContainer(ws.containerId!).remove({ force: true });
      const recreated = await waitWs(
        berth,
        ws.id,
        (w) => w.status === 'running' && w.containerId !== ws.containerId,
      );
      // Which pass notices first decides the path: the engine's die event (a kill from outside,
      // restarted per policy into a new container) or a scan (the container is missing).
      const types = (await events(berth, ws.id)).map((e) => e.type);
      expect(types.includes('workspace.container_missing') || types.includes('workspace.restarting')).toBe(
        true,
      );
      expect(types.slice(1), types.join(',')).toContain('workspace.provisioning'); // a new container
      expect((await inspectContainer(recreated.containerId!)).State.Running).toBe(true);

      // While Berth is down, its container is swapped for one labeled with another spec hash (as
      // if made from an older spec); the start-up scan must notice and recreate it.
      await berth.daemon.close();
      const stale = await swap(ws, { labels: { 'berth.spec-hash': 'f'.repeat(64) } });
      const again = await reopenBerth(berth);
      try {
        await until(
          'a spec-hash drift event',
          () => eventsVia(again, ws.id),
          (items) => items.some((e) => e.type === 'workspace.drift' && e.message.includes('spec-hash')),
        );
        const healed = await until(
          'the recreated container',
          () => again.api<Workspace>(`/v1/workspaces/${ws.id}`),
          (w) => w.status === 'running' && ![stale, recreated.containerId].includes(w.containerId),
        );
        expect((await inspectContainer(healed.containerId!)).Config.Labels['berth.spec-hash']).toBe(
          ws.specHash,
        );
      } finally {
        await again.close();
      }
    });
  });
});

describe('orphans (P1, P4, F17)', () => {
  it("reaps labeled objects no live workspace owns after the grace period, and never unlabeled or another store's", async () => {
    // A grace period long enough that "not yet" holds on a loaded machine (image builds run beside).
    const config = { ...FAST, reconciler: { ...FAST.reconciler, orphanGraceMs: 3000 } };
    await withBerth({ config }, async (berth) => {
      const storeId = berth.daemon.storeId;
      const ghost = 'ws_ghost0000000000';
      const labels = (store: string) => ({
        'berth.managed': 'true',
        'berth.workspace': ghost,
        'berth.store': store,
        [RUN_LABEL]: berth.runId,
      });
      const mine = `berth-orphan-${berth.runId}`;
      await docker.createVolume({ Name: `${mine}-v`, Labels: labels(storeId) });
      await docker.createNetwork({ Name: `${mine}-n`, Labels: labels(storeId) });
      const c = await docker.createContainer({
        name: `${mine}-c`,
        Image: IMAGE,
        Cmd: ['sleep', '600'],
        Labels: labels(storeId),
      });
      await c.start();
      // Not ours: another store's, and an unlabeled look-alike.
      await docker.createVolume({ Name: `${mine}-other`, Labels: labels('st_someoneelse') });
      await docker.createVolume({ Name: `${mine}-unlabeled`, Labels: { [RUN_LABEL]: berth.runId } });
      // A tools volume of an older helper (shared by every Berth, so no store label).
      const oldTools = `berth-tools-${berth.runId
        .replace(/[^0-9a-f]/g, '')
        .padEnd(16, '0')
        .slice(0, 16)}`;
      await docker.createVolume({
        Name: oldTools,
        Labels: { 'berth.managed': 'true', 'berth.role': 'tools', [RUN_LABEL]: berth.runId },
      });
      // Not before the grace period (checked before anything slow runs)...
      await sleep(500);
      expect((await docker.getVolume(`${mine}-v`).inspect()).Name).toBe(`${mine}-v`);
      // A live workspace, whose objects must stay.
      const live = await create(berth, {});
      // ...but soon after it.
      await until(
        'orphans to be reaped',
        async () => (await berth.leftovers()).volumes,
        (vols) => !vols.includes(`${mine}-v`) && !vols.includes(oldTools),
      );
      const left = await berth.leftovers();
      expect(left.networks).not.toContain(`${mine}-n`);
      await expect(docker.getContainer(c.id).inspect()).rejects.toMatchObject({ statusCode: 404 });
      expect(left.volumes).toEqual(expect.arrayContaining([`${mine}-other`, `${mine}-unlabeled`]));
      expect(left.volumes).toContain(`berth-${live.id}-configs`);
      expect(left.networks).toContain(`berth-${live.id}`);
      expect((await getWs(berth, live.id)).status).toBe('running');
      expect(berth.log()).toContain('removed an orphaned object');
    });
  });
});

describe('config volume validation (seed 000 ValidateConfigSource)', () => {
  it('writes wiped /configs files again from the spec before a start', async () => {
    await withBerth(
      { config: { ...FAST, runtimes: { needs: { image: IMAGE, requiredFiles: ['config.yaml'] } } } },
      async (berth) => {
        const ws = await create(berth, {
          runtime: 'needs',
          files: { 'config.yaml': 'model: x\n', 'extra/a.txt': 'a' },
        });
        expect(ws.status).toBe('running');
        await execIn(ws.containerId!, ['sh', '-c', 'rm -rf /configs/* /configs/.[!.]*'], {
          user: '1000:1000',
        });
        const restarted = await berth.api<Workspace>('POST', `/v1/workspaces/${ws.id}/restart`);
        expect(restarted.body.status).toBe('running');
        const ev = (await events(berth, ws.id)).find((e) => e.type === 'workspace.configs_restored');
        expect(ev?.data).toEqual({ files: ['config.yaml', 'extra/a.txt'] });
        expect((await execIn(restarted.body.containerId!, ['cat', '/configs/config.yaml'])).stdout).toBe(
          'model: x\n',
        );
      },
    );
  });
});

describe('agent contract', () => {
  const agentRuntime = (args: string[], extra: Record<string, unknown> = {}) => ({
    image: IMAGE,
    agent: true,
    provisionTimeoutMs: 8000,
    command: ['sh', '-c', `echo agent-booting; exec ${AGENT} agent ${args.join(' ')}`],
    ...extra,
  });

  it('stays starting until the agent registers over the socket; the token is only in /configs and its hash in the store', async () => {
    await withBerth(
      { config: { ...FAST, agents: { heartbeatIntervalMs: 300 }, runtimes: { agenty: agentRuntime([]) } } },
      async (berth) => {
        const ws = await create(berth, { runtime: 'agenty' });
        expect(ws.status).toBe('running'); // create waits for the registration
        expect(ws.agent?.status).toBe('ok');
        expect(ws.agent?.agent).toContain('berth-helper');
        const evs = await events(berth, ws.id);
        const running = evs.find((e) => e.type === 'workspace.running');
        expect(running?.message).toBe('the agent registered');
        expect(evs.findIndex((e) => e.type === 'workspace.starting')).toBeLessThan(evs.indexOf(running!));

        // The token: a 0400 file of the workspace user, never in env, labels or the store.
        const stat = await execIn(ws.containerId!, ['stat', '-c', '%a %u:%g', '/configs/.berth-agent-token']);
        expect(stat.stdout.trim()).toBe('400 1000:1000');
        const token = (
          await execIn(ws.containerId!, ['cat', '/configs/.berth-agent-token'], { user: '1000:1000' })
        ).stdout;
        expect(token).toMatch(/^bat_[A-Za-z0-9_-]{32}$/);
        const inspect = JSON.stringify(await inspectContainer(ws.containerId!));
        expect(inspect).not.toContain(token);
        expect(inspect).toContain('BERTH_AGENT_SOCKET=/run/berth/agent.sock');
        const db = Buffer.concat(
          ['berth.db', 'berth.db-wal'].map((f) => {
            try {
              return readFileSync(join(berth.dataDir, f));
            } catch {
              return Buffer.alloc(0);
            }
          }),
        );
        expect(db.includes(Buffer.from(token))).toBe(false);
        expect(db.includes(Buffer.from(createHash('sha256').update(token).digest('hex')))).toBe(true);
        expect(berth.log()).not.toContain(token);

        // Heartbeats keep coming.
        const first = (await getWs(berth, ws.id)).agent!.lastHeartbeatAt!;
        await until(
          'another heartbeat',
          () => getWs(berth, ws.id),
          (w) => w.agent!.lastHeartbeatAt! > first,
        );

        // The API route works with the token, only for its own workspace; a wrong token is 401.
        const hb = await berth.api<AgentAck>('POST', '/v1/agent/heartbeat', {
          token,
          body: { status: 'error', task: 'compiling', error: 'disk almost full' },
        });
        expect(hb.status).toBe(200);
        expect(hb.body).toMatchObject({ workspaceId: ws.id, status: 'running', heartbeatIntervalMs: 300 });
        expect((await events(berth, ws.id)).map((e) => e.type)).toContain('workspace.agent_error');
        expect(
          (await berth.api('POST', '/v1/agent/heartbeat', { token: 'bat_wrong', body: {} })).status,
        ).toBe(401);
        expect((await berth.api('POST', '/v1/agent/heartbeat', { body: {} })).status).toBe(401); // admin token is not an agent token
        expect((await berth.api('POST', '/v1/agent/register', { token, body: { bogus: 1 } })).status).toBe(
          400,
        );

        // A stopped workspace ignores its agent: 409, and it stays stopped.
        await berth.api('POST', `/v1/workspaces/${ws.id}/stop`);
        const late = await berth.api<{ code: string }>('POST', '/v1/agent/register', { token, body: {} });
        expect(late.status).toBe(409);
        expect(late.body.code).toBe('invalid_state');
        expect((await getWs(berth, ws.id)).status).toBe('stopped');
        // A deleted one does not know the token any more.
        await berth.api('DELETE', `/v1/workspaces/${ws.id}`);
        expect((await berth.api('POST', '/v1/agent/heartbeat', { token, body: {} })).status).toBe(401);
      },
    );
  });

  it('registers from tier 1 too: no network, only the agent socket (gVisor where Docker has it)', async () => {
    await withBerth({ config: { ...FAST, runtimes: { agenty: agentRuntime([]) } } }, async (berth) => {
      const ws = await create(berth, { runtime: 'agenty', tier: 1 });
      expect(ws.status, JSON.stringify(ws.error)).toBe('running');
      expect(ws.agent?.status).toBe('ok');
      const c = await inspectContainer(ws.containerId!);
      expect(c.HostConfig.NetworkMode).toBe('none');
    });
  });

  it('fails with provision_timeout and the last log lines when the agent never registers', async () => {
    await withBerth(
      {
        config: {
          ...FAST,
          runtimes: { silent: agentRuntime(['--no-register'], { provisionTimeoutMs: 2000 }) },
        },
      },
      async (berth) => {
        const started = Date.now();
        const ws = await create(berth, { runtime: 'silent' });
        expect(ws.status).toBe('failed');
        expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
        expect(ws.error?.code).toBe('provision_timeout');
        expect(ws.error?.message).toContain('agent-booting');
        expect((await inspectContainer(ws.containerId!)).State.Running).toBe(false);
      },
    );
  });

  it('marks a silent agent unresponsive; policy never leaves it so, on-failure restarts it', async () => {
    await withBerth(
      {
        config: {
          ...FAST,
          agents: { heartbeatIntervalMs: 200, heartbeatTimeoutMs: 1000 },
          runtimes: { flaky: agentRuntime(['--interval-ms', '200', '--heartbeats', '2']) },
        },
      },
      async (berth) => {
        const never = await create(berth, { runtime: 'flaky', restartPolicy: 'never' });
        expect(never.status).toBe('running');
        const silent = await waitWs(berth, never.id, (w) => w.status === 'unresponsive');
        expect(silent.restarts.count).toBe(0);
        expect((await inspectContainer(silent.containerId!)).State.Running).toBe(true);
        // A heartbeat brings it back.
        const token = (
          await execIn(silent.containerId!, ['cat', '/configs/.berth-agent-token'], { user: '1000:1000' })
        ).stdout;
        const hb = await berth.api<AgentAck>('POST', '/v1/agent/heartbeat', { token, body: {} });
        expect(hb.body.status).toBe('running');
        expect((await events(berth, never.id)).map((e) => e.type)).toContain('workspace.agent_recovered');

        const restarts = await create(berth, { runtime: 'flaky' });
        const back = await waitWs(berth, restarts.id, (w) => w.restarts.count >= 1 && w.status === 'running');
        expect(back.containerId).toBe(restarts.containerId); // same container, started again
        const types = (await events(berth, restarts.id)).map((e) => e.type);
        expect(types).toEqual(expect.arrayContaining(['workspace.unresponsive', 'workspace.restarting']));
      },
    );
  });
});

describe('single writer (P6, F11)', () => {
  it('a second server on the same store waits for the lease and takes over when the first stops', async () => {
    await withBerth(
      { config: { ...FAST, reconciler: { ...FAST.reconciler, leaseTtlMs: 1000 } } },
      async (berth) => {
        const { runDaemon } = await import('../src/index.js');
        const printed: string[] = [];
        let second: Awaited<ReturnType<typeof runDaemon>> | undefined;
        const starting = runDaemon({
          port: 0,
          dataDir: berth.dataDir,
          env: { ...process.env, BERTH_ADMIN_TOKEN: berth.token },
          print: (line) => printed.push(line),
          logDestination: { write: () => true } as unknown as NodeJS.WritableStream,
        }).then((d) => (second = d));
        try {
          await until(
            'the waiting message',
            () => Promise.resolve(printed.join('\n')),
            (t) => t.includes('holds the reconciler lease'),
          );
          await sleep(1500); // longer than the lease TTL: the first server keeps renewing it
          expect(second).toBeUndefined();
          await berth.daemon.close();
          await starting;
          expect(second?.url).toMatch(/^http:/);
          expect(second?.storeId).toBe(berth.daemon.storeId);
        } finally {
          await starting.catch(() => undefined);
          await second?.close();
        }
      },
    );
  });
});
