import type { Page, Workspace, WorkspaceEvent } from '@berth/protocol';
import { describe, expect, it } from 'vitest';
import { WorkspaceEventSchema, WorkspaceSchema } from '../src/api/schemas.js';
import { docker, execIn, inspectContainer, reopenBerth, type TestBerth, withBerth } from './harness.js';

/** Polls a workspace until `done` holds (10 s at most). */
async function waitFor(berth: TestBerth, id: string, done: (ws: Workspace) => boolean): Promise<Workspace> {
  let ws: Workspace | undefined;
  for (let i = 0; i < 100; i++) {
    ws = (await berth.api<Workspace>('GET', `/v1/workspaces/${id}`)).body;
    if (done(ws)) return ws;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`workspace ${id} did not reach the expected state: ${JSON.stringify(ws)}`);
}

async function create(berth: TestBerth, body: Record<string, unknown> = {}, query = ''): Promise<Workspace> {
  const res = await berth.api<Workspace>('POST', `/v1/workspaces${query}`, { body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return WorkspaceSchema.parse(res.body);
}

describe('workspace lifecycle on a real engine', () => {
  it('creates a running workspace with a generated name, endpoints and labeled resources', async () => {
    await withBerth({}, async (berth) => {
      const ws = await create(berth, { ports: [3000, { port: 3001, name: 'web' }], labels: { team: 'a' } });
      expect(ws.status).toBe('running');
      expect(ws.name).toMatch(/^[a-z]+-[a-z]+(-[0-9a-z]+)?$/);
      expect(ws.id).toMatch(/^ws_[0-9a-z]{16}$/);
      expect(ws.endpoints.map((e) => e.name)).toEqual(['agent', 'port-3000', 'web']);
      for (const e of ws.endpoints) {
        expect(e.hostIp).toBe('127.0.0.1');
        expect(e.url).toBe(`http://127.0.0.1:${e.hostPort}`);
      }

      const c = await inspectContainer(ws.containerId!);
      expect(c.State.Running).toBe(true);
      expect(c.HostConfig.RestartPolicy?.Name).toBe('no');
      expect(c.Config.Labels).toMatchObject({
        'berth.managed': 'true',
        'berth.workspace': ws.id,
        'berth.spec-hash': ws.specHash,
        'berth.generation': '1',
      });
      expect(ws.specHash).toMatch(/^[0-9a-f]{64}$/);
      const published = Object.values(c.NetworkSettings.Ports).flat();
      expect(published.every((b) => b?.HostIp === '127.0.0.1')).toBe(true);

      const { volumes, networks } = await berth.leftovers();
      expect(volumes.sort()).toEqual([`berth-${ws.id}-configs`, `berth-${ws.id}-workspace`].sort());
      expect(networks).toEqual([`berth-${ws.id}`]);
      for (const v of volumes) {
        expect((await docker.getVolume(v).inspect()).Labels).toMatchObject({
          'berth.managed': 'true',
          'berth.workspace': ws.id,
          'berth.spec-hash': ws.specHash,
        });
      }
      const net = await docker.getNetwork(`berth-${ws.id}`).inspect();
      expect(net.Labels).toMatchObject({ 'berth.managed': 'true', 'berth.workspace': ws.id });

      const got = await berth.api<Workspace>('GET', `/v1/workspaces/${ws.name}`);
      expect(got.status).toBe(200);
      expect(got.body.id).toBe(ws.id);
    });
  });

  it('stops, starts and restarts, keeping the workspace volume across them', async () => {
    await withBerth({}, async (berth) => {
      const ws = await create(berth);
      expect((await execIn(ws.containerId!, ['sh', '-c', 'echo kept > /workspace/note'])).exitCode).toBe(0);

      const stopped = await berth.api<Workspace>('POST', `/v1/workspaces/${ws.id}/stop`);
      expect(stopped.body.status).toBe('stopped');
      expect(stopped.body.endpoints).toEqual([]);
      expect((await inspectContainer(ws.containerId!)).State.Running).toBe(false);

      const started = await berth.api<Workspace>('POST', `/v1/workspaces/${ws.id}/start`);
      expect(started.body.status).toBe('running');
      expect((await execIn(started.body.containerId!, ['cat', '/workspace/note'])).stdout).toBe('kept\n');

      const before = (await inspectContainer(started.body.containerId!)).State.StartedAt;
      const restarted = await berth.api<Workspace>('POST', `/v1/workspaces/${ws.id}/restart`);
      expect(restarted.body.status).toBe('running');
      const after = (await inspectContainer(restarted.body.containerId!)).State.StartedAt;
      expect(after).not.toBe(before);

      const events = await berth.api<Page<WorkspaceEvent>>('GET', `/v1/workspaces/${ws.id}/events`);
      const statuses = events.body.items.map((e) => WorkspaceEventSchema.parse(e).status);
      expect(statuses).toEqual([
        'provisioning',
        'starting',
        'running',
        'stopping',
        'stopped',
        'starting',
        'running',
        'stopping',
        'stopped',
        'starting',
        'running',
      ]);
    });
  });

  it('lists with status and label filters and cursor pagination', async () => {
    await withBerth({}, async (berth) => {
      const a = await create(berth, { name: 'list-a', labels: { team: 'x' } });
      const b = await create(berth, { name: 'list-b', labels: { team: 'y' } });
      const c = await create(berth, { name: 'list-c', labels: { team: 'x', tier: 'gold' } });
      await berth.api('POST', `/v1/workspaces/${b.id}/stop`);

      const all = await berth.api<Page<Workspace>>('GET', '/v1/workspaces');
      expect(all.body.items.map((w) => w.name)).toEqual(['list-c', 'list-b', 'list-a']);

      const x = await berth.api<Page<Workspace>>('GET', '/v1/workspaces?label=team=x');
      expect(x.body.items.map((w) => w.id).sort()).toEqual([a.id, c.id].sort());
      const gold = await berth.api<Page<Workspace>>('GET', '/v1/workspaces?label=team=x&label=tier=gold');
      expect(gold.body.items.map((w) => w.id)).toEqual([c.id]);
      const stopped = await berth.api<Page<Workspace>>('GET', '/v1/workspaces?status=stopped');
      expect(stopped.body.items.map((w) => w.id)).toEqual([b.id]);

      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: { body: Page<Workspace> } = await berth.api<Page<Workspace>>(
          'GET',
          `/v1/workspaces?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        );
        seen.push(...page.body.items.map((w) => w.name));
        cursor = page.body.nextCursor;
      } while (cursor);
      expect(seen).toEqual(['list-c', 'list-b', 'list-a']);

      const bad = await berth.api('GET', '/v1/workspaces?status=sleeping');
      expect(bad.status).toBe(400);
      expect(bad.body).toMatchObject({ code: 'validation_failed' });
    });
  });

  it('refuses a taken name with 409 and frees it once deleted', async () => {
    await withBerth({}, async (berth) => {
      const ws = await create(berth, { name: 'only-one' });
      const dup = await berth.api('POST', '/v1/workspaces', { body: { name: 'only-one' } });
      expect(dup.status).toBe(409);
      expect(dup.body).toMatchObject({ code: 'name_conflict' });
      expect((await berth.api('DELETE', `/v1/workspaces/${ws.id}`)).status).toBe(204);
      await create(berth, { name: 'only-one' });
    });
  });

  it('fails with image_not_found and the fix when an image can be neither found nor pulled', async () => {
    await withBerth({}, async (berth) => {
      const res = await berth.api<Workspace>('POST', '/v1/workspaces', {
        body: { image: 'registry.invalid/berth/absent:1' },
      });
      expect(res.status).toBe(201);
      expect(res.body.status).toBe('failed');
      expect(res.body.error?.code).toBe('image_not_found');
      expect(res.body.error?.message).toContain('registry.invalid/berth/absent:1');
      expect(res.body.error?.message).toMatch(/docker pull registry\.invalid\/berth\/absent:1/);
      const { containers } = await berth.leftovers();
      expect(containers).toEqual([]);
    });
  });

  it('fails with container_exited, exit code and last output when the process dies, at start or later (policy never)', async () => {
    await withBerth(
      {
        config: {
          runtimes: {
            // The runtime's default restart policy: `never` (restarts are tested in reconciler.test.ts).
            dies: {
              image: 'berth-shell:0.1.0',
              command: ['sh', '-c', 'echo goodbye-from-agent; exit 3'],
              restartPolicy: 'never',
            },
            'dies-later': {
              image: 'berth-shell:0.1.0',
              command: ['sh', '-c', 'sleep 1; echo late-goodbye; exit 4'],
              restartPolicy: 'never',
            },
          },
        },
      },
      async (berth) => {
        for (const [runtime, code, output] of [
          ['dies', 3, 'goodbye-from-agent'],
          ['dies-later', 4, 'late-goodbye'],
        ] as const) {
          const res = await berth.api<Workspace>('POST', '/v1/workspaces', { body: { runtime } });
          expect(res.status).toBe(201);
          const ws = await waitFor(berth, res.body.id, (w) => w.status === 'failed');
          expect(ws.error?.code).toBe('container_exited');
          expect(ws.error?.message).toContain(`code ${code}`);
          expect(ws.error?.message).toContain(output);
          expect(ws.endpoints).toEqual([]);
        }
      },
    );
  });

  it('does not call a stop Berth asked for a failure', async () => {
    await withBerth({}, async (berth) => {
      const ws = await create(berth);
      await berth.api('POST', `/v1/workspaces/${ws.id}/stop`);
      await new Promise((r) => setTimeout(r, 500)); // time for the engine's die event to arrive
      const after = await berth.api<Workspace>('GET', `/v1/workspaces/${ws.id}`);
      expect(after.body.status).toBe('stopped');
      expect(after.body.error).toBeNull();
    });
  });

  it('survives a daemon restart: the store keeps the workspace and its container keeps running', async () => {
    await withBerth({}, async (berth) => {
      const ws = await create(berth, { name: 'persistent' });
      await berth.daemon.close();
      const again = await reopenBerth(berth);
      try {
        const res = await fetch(`${again.url}/v1/workspaces/persistent`, {
          headers: { authorization: `Bearer ${berth.token}` },
        });
        const body = (await res.json()) as Workspace;
        expect(body.id).toBe(ws.id);
        expect(body.status).toBe('running');
        expect((await inspectContainer(ws.containerId!)).State.Running).toBe(true);
      } finally {
        await again.close();
      }
    });
  });
});

describe('delete', () => {
  const statusesToDeleteFrom = ['running', 'stopped', 'failed', 'provisioning', 'deleting'] as const;

  for (const from of statusesToDeleteFrom) {
    it(`from ${from} leaves no labeled container, volume or network`, async () => {
      await withBerth({}, async (berth) => {
        let ws: Workspace;
        if (from === 'failed') {
          ws = (
            await berth.api<Workspace>('POST', '/v1/workspaces', {
              body: { image: 'registry.invalid/none:1' },
            })
          ).body;
          expect(ws.status).toBe('failed');
        } else if (from === 'provisioning') {
          ws = (await berth.api<Workspace>('POST', '/v1/workspaces?wait=false', { body: {} })).body;
          expect(ws.status).toBe('provisioning');
        } else {
          ws = await create(berth);
          if (from === 'stopped') await berth.api('POST', `/v1/workspaces/${ws.id}/stop`);
        }
        if (from === 'deleting') {
          const pending = await berth.api<Workspace>('DELETE', `/v1/workspaces/${ws.id}?wait=false`);
          expect(pending.status).toBe(202);
          expect(pending.body.status).toBe('deleting');
        }
        const res = await berth.api('DELETE', `/v1/workspaces/${ws.id}`);
        expect(res.status, JSON.stringify(res.body)).toBe(204);
        expect(await berth.leftovers()).toEqual({ containers: [], volumes: [], networks: [] });
        expect((await berth.api('GET', `/v1/workspaces/${ws.id}`)).status).toBe(404);
        // Idempotent: deleting again, or something never created, is success (P3).
        expect((await berth.api('DELETE', `/v1/workspaces/${ws.id}`)).status).toBe(204);
        expect((await berth.api('DELETE', '/v1/workspaces/ws_0000000000000000')).status).toBe(204);
      });
    });
  }

  it("leaves every other workspace's container, volumes and networks alone", async () => {
    await withBerth({}, async (berth) => {
      const doomed = await create(berth);
      const neighbour = await create(berth);
      // Stopped: nothing holds its volumes, so only Berth's own filtering can keep them.
      await berth.api('POST', `/v1/workspaces/${neighbour.id}/stop`);
      const owned = async (workspaceId: string) => {
        const filters = JSON.stringify({ label: [`berth.workspace=${workspaceId}`] });
        const keep = (labels: Record<string, string> | null | undefined) =>
          labels?.['berth.workspace'] === workspaceId;
        const volumes = ((await docker.listVolumes({ filters })).Volumes ?? []).filter((v) => keep(v.Labels));
        const networks = (await docker.listNetworks({ filters })).filter((n) => keep(n.Labels));
        const containers = (await docker.listContainers({ all: true, filters })).filter((c) =>
          keep(c.Labels),
        );
        return {
          volumes: volumes.map((v) => v.Name).sort(),
          networks: networks.map((n) => n.Name).sort(),
          containers: containers.map((c) => c.Id).sort(),
        };
      };
      const before = await owned(neighbour.id);
      expect(before.volumes.length).toBeGreaterThan(0);
      expect(before.containers).toHaveLength(1);
      expect((await berth.api('DELETE', `/v1/workspaces/${doomed.id}`)).status).toBe(204);
      expect(await owned(doomed.id)).toEqual({ volumes: [], networks: [], containers: [] });
      expect(await owned(neighbour.id)).toEqual(before);
      const started = await berth.api<Workspace>('POST', `/v1/workspaces/${neighbour.id}/start`);
      expect(started.body.status).toBe('running');
    });
  });

  it('refuses to start or stop a workspace that is being deleted', async () => {
    await withBerth({}, async (berth) => {
      const ws = await create(berth);
      await berth.api('DELETE', `/v1/workspaces/${ws.id}?wait=false`);
      const start = await berth.api('POST', `/v1/workspaces/${ws.id}/start`);
      expect([404, 409]).toContain(start.status);
      if (start.status === 409) expect(start.body).toMatchObject({ code: 'invalid_state' });
      await berth.api('DELETE', `/v1/workspaces/${ws.id}`);
      expect(await berth.leftovers()).toEqual({ containers: [], volumes: [], networks: [] });
    });
  });
});

describe('idempotent create (P2)', () => {
  it('gives one workspace and one container for 10 parallel requests with one key', async () => {
    await withBerth({}, async (berth) => {
      const body = { labels: { purpose: 'idempotency' } };
      const results = await Promise.all(
        Array.from({ length: 10 }, () =>
          berth.api<Workspace>('POST', '/v1/workspaces', {
            body,
            headers: { 'idempotency-key': 'key-parallel-1' },
          }),
        ),
      );
      const ids = new Set(results.map((r) => r.body.id));
      expect(ids.size).toBe(1);
      expect(results.filter((r) => r.status === 201)).toHaveLength(1);
      expect(results.filter((r) => r.status === 200)).toHaveLength(9);
      expect(results.filter((r) => r.headers.get('idempotent-replayed') === 'true')).toHaveLength(9);
      expect(results.every((r) => r.body.status === 'running')).toBe(true);
      const { containers } = await berth.leftovers();
      expect(containers).toHaveLength(1);
      const list = await berth.api<Page<Workspace>>('GET', '/v1/workspaces');
      expect(list.body.items).toHaveLength(1);
    });
  });

  it('rejects the same key with another body (422) and changes nothing', async () => {
    await withBerth({}, async (berth) => {
      const first = await berth.api<Workspace>('POST', '/v1/workspaces', {
        body: { name: 'idem-a' },
        headers: { 'idempotency-key': 'key-2' },
      });
      expect(first.status).toBe(201);
      const second = await berth.api('POST', '/v1/workspaces', {
        body: { name: 'idem-b' },
        headers: { 'idempotency-key': 'key-2' },
      });
      expect(second.status).toBe(422);
      expect(second.body).toMatchObject({ code: 'idempotency_key_reused' });
      const list = await berth.api<Page<Workspace>>('GET', '/v1/workspaces');
      expect(list.body.items.map((w) => w.name)).toEqual(['idem-a']);
      expect((await berth.leftovers()).containers).toHaveLength(1);

      for (const key of ['k'.repeat(10_000), 'k'.repeat(256), 'has space', 'caf\u00e9']) {
        const bad = await berth.api('POST', '/v1/workspaces', {
          body: {},
          headers: { 'idempotency-key': key },
        });
        expect(bad.status, key.slice(0, 20)).toBe(400);
        expect(bad.body).toMatchObject({ code: 'invalid_idempotency_key' });
      }
      expect((await berth.leftovers()).containers).toHaveLength(1);
    });
  });
});
