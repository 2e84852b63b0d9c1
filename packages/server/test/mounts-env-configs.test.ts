import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Workspace } from '@berth/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { docker, execIn, inspectContainer, reopenBerth, type TestBerth, withBerth } from './harness.js';

let hostDir: string;
beforeAll(() => {
  hostDir = mkdtempSync(join(tmpdir(), 'berth-hostdir-'));
  chmodSync(hostDir, 0o755); // readable by the workspace user, as a shared project directory would be
  writeFileSync(join(hostDir, 'readme.txt'), 'from the host\n');
});
afterAll(() => rmSync(hostDir, { recursive: true, force: true }));

async function running(berth: TestBerth, body: Record<string, unknown>): Promise<Workspace> {
  const res = await berth.api<Workspace>('POST', '/v1/workspaces', { body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  expect(res.body.status, JSON.stringify(res.body.error)).toBe('running');
  return res.body;
}

const sh = (ws: Workspace, cmd: string) => execIn(ws.containerId!, ['sh', '-c', cmd]);

describe('/workspace mount matrix (seed 000 #65)', () => {
  it('access none: an isolated named volume, writable by the workspace user', async () => {
    await withBerth({}, async (berth) => {
      const ws = await running(berth, {});
      const mount = (await inspectContainer(ws.containerId!)).Mounts.find(
        (m) => m.Destination === '/workspace',
      );
      expect(mount).toMatchObject({ Type: 'volume', Name: `berth-${ws.id}-workspace`, RW: true });
      expect((await sh(ws, 'echo x > /workspace/f && cat /workspace/f')).stdout).toBe('x\n');
    });
  });

  it('read_only: the host directory, mounted :ro', async () => {
    await withBerth({}, async (berth) => {
      const ws = await running(berth, { workspace: { access: 'read_only', hostPath: hostDir } });
      const mount = (await inspectContainer(ws.containerId!)).Mounts.find(
        (m) => m.Destination === '/workspace',
      );
      expect(mount).toMatchObject({ Type: 'bind', Source: hostDir, RW: false });
      expect((await sh(ws, 'cat /workspace/readme.txt')).stdout).toBe('from the host\n');
      expect((await sh(ws, 'touch /workspace/new')).exitCode).not.toBe(0);
      expect(await berth.leftovers().then((l) => l.volumes.filter((v) => v.endsWith('-workspace')))).toEqual(
        [],
      );
    });
  });

  it('read_write: the host directory, writable, changes visible on the host', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-rw-'));
    try {
      // The workspace runs as uid 1000: give it the directory, as a user would for their project.
      await import('node:fs').then((fs) => fs.chownSync(dir, 1000, 1000));
      await withBerth({}, async (berth) => {
        const ws = await running(berth, { workspace: { access: 'read_write', hostPath: dir } });
        expect((await sh(ws, 'echo written-inside > /workspace/out.txt')).exitCode).toBe(0);
        expect(readFileSync(join(dir, 'out.txt'), 'utf8')).toBe('written-inside\n');
      });
      // Deleting the workspace never deletes the host directory.
      expect(readFileSync(join(dir, 'out.txt'), 'utf8')).toBe('written-inside\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects access without a path, relative paths, .., system directories, symlinks and the data dir (400)', async () => {
    const link = join(tmpdir(), `berth-link-${process.pid}`);
    symlinkSync(hostDir, link);
    try {
      await withBerth({}, async (berth) => {
        const cases: [Record<string, unknown>, string][] = [
          [{ access: 'read_only' }, 'validation_failed'],
          [{ access: 'read_write' }, 'validation_failed'],
          [{ access: 'none', hostPath: hostDir }, 'validation_failed'],
          [{ access: 'read_only', hostPath: 'relative/dir' }, 'invalid_host_path'],
          [{ access: 'read_only', hostPath: `${hostDir}/../..` }, 'invalid_host_path'],
          [{ access: 'read_only', hostPath: '/' }, 'invalid_host_path'],
          [{ access: 'read_only', hostPath: '/etc' }, 'invalid_host_path'],
          [{ access: 'read_write', hostPath: '/proc' }, 'invalid_host_path'],
          [{ access: 'read_write', hostPath: '/var/run/docker.sock' }, 'invalid_host_path'],
          [{ access: 'read_write', hostPath: '/var/lib/docker/volumes' }, 'invalid_host_path'],
          [{ access: 'read_only', hostPath: '/usr/lib' }, 'invalid_host_path'],
          [{ access: 'read_only', hostPath: '/root' }, 'invalid_host_path'],
          [{ access: 'read_only', hostPath: link }, 'invalid_host_path'],
          [{ access: 'read_only', hostPath: join(hostDir, 'readme.txt') }, 'invalid_host_path'],
          [{ access: 'read_only', hostPath: join(hostDir, 'absent') }, 'invalid_host_path'],
          [{ access: 'read_only', hostPath: berth.dataDir }, 'invalid_host_path'],
          [{ access: 'read_only', hostPath: `${hostDir}\u0000x` }, 'invalid_host_path'],
          [{ access: 'write' }, 'validation_failed'],
        ];
        for (const [workspace, code] of cases) {
          const res = await berth.api('POST', '/v1/workspaces', { body: { workspace } });
          expect(res.status, JSON.stringify(workspace)).toBe(400);
          expect(res.body, JSON.stringify(workspace)).toMatchObject({ code });
        }
        expect(await berth.leftovers()).toEqual({ containers: [], volumes: [], networks: [] });
        expect((await berth.api<{ items: unknown[] }>('GET', '/v1/workspaces')).body.items).toEqual([]);
      });
    } finally {
      rmSync(link, { force: true });
    }
  });

  it('honours hostPaths.allowedRoots', async () => {
    await withBerth({ config: { hostPaths: { allowedRoots: ['/srv/projects'] } } }, async (berth) => {
      const res = await berth.api('POST', '/v1/workspaces', {
        body: { workspace: { access: 'read_only', hostPath: hostDir } },
      });
      expect(res.status).toBe(400);
      expect((res.body as { message: string }).message).toMatch(/allowed roots/);
    });
  });
});

describe('env contract (seed 000) and filtering (seed 003)', () => {
  it('injects the platform contract plus user env, and the contract always wins', async () => {
    await withBerth({ config: { platformUrl: 'http://berth.example:7420' } }, async (berth) => {
      const ws = await running(berth, { tier: 2, env: { MY_SETTING: 'a b=c', EMPTY: '' } });
      const env = (await execIn(ws.containerId!, ['env'])).stdout;
      expect(env).toContain(`WORKSPACE_ID=${ws.id}\n`);
      expect(env).toContain(`WORKSPACE_NAME=${ws.name}\n`);
      expect(env).toContain('WORKSPACE_CONFIG_PATH=/configs\n');
      expect(env).toContain('WORKSPACE_DIR=/workspace\n');
      expect(env).toContain('PLATFORM_URL=http://berth.example:7420\n');
      expect(env).toContain('TIER=2\n');
      expect(env).toContain('MY_SETTING=a b=c\n');
      expect(env).toContain('EMPTY=\n');
    });
  });

  it('refuses reserved and security-sensitive keys with 400 reserved_env_key, changing nothing', async () => {
    await withBerth({}, async (berth) => {
      for (const key of [
        'WORKSPACE_ID',
        'PLATFORM_URL',
        'TIER',
        'LD_PRELOAD',
        'HTTP_PROXY',
        'https_proxy',
        'NO_PROXY',
        'SSL_CERT_FILE',
        'NODE_EXTRA_CA_CERTS',
        'BERTH_ANYTHING',
      ]) {
        const res = await berth.api('POST', '/v1/workspaces', { body: { env: { [key]: 'x' } } });
        expect(res.status, key).toBe(400);
        expect(res.body, key).toMatchObject({ code: 'reserved_env_key' });
      }
      for (const env of [
        { 'A=B': 'x' },
        { '1ABC': 'x' },
        { OK: 'nul\u0000inside' },
        { OK: 'x'.repeat(40_000) },
      ]) {
        const res = await berth.api('POST', '/v1/workspaces', { body: { env } });
        expect(res.status).toBe(400);
        expect(res.body).toMatchObject({ code: 'validation_failed' });
      }
      expect(await berth.leftovers()).toEqual({ containers: [], volumes: [], networks: [] });
    });
  });

  it('passes host env through only by allow globs, with deny winning', async () => {
    await withBerth(
      {
        config: { env: { passthroughAllow: ['BERTHTEST_*', 'LANG'], passthroughDeny: ['*SECRET*'] } },
        env: {
          BERTHTEST_COLOR: 'blue',
          BERTHTEST_SECRET_KEY: 'nope',
          LANG: 'C.UTF-8',
          OTHER_HOST_VAR: 'nope',
        },
      },
      async (berth) => {
        const ws = await running(berth, {});
        const env = (await execIn(ws.containerId!, ['env'])).stdout;
        expect(env).toContain('BERTHTEST_COLOR=blue\n');
        expect(env).toContain('LANG=C.UTF-8\n');
        expect(env).not.toContain('BERTHTEST_SECRET_KEY');
        expect(env).not.toContain('OTHER_HOST_VAR');
      },
    );
  });
});

describe('/configs', () => {
  it('holds files and template contents before start: readable by the very first process', async () => {
    await withBerth(
      {
        config: {
          runtimes: {
            agent: {
              image: 'berth-shell:0.1.0',
              requiredFiles: ['config.yaml'],
              // The container's first process reads its config and reports it, then idles.
              command: ['sh', '-c', 'echo "first-read: $(cat /configs/config.yaml)"; exec sleep infinity'],
            },
          },
        },
      },
      async (berth) => {
        const tpl = join(berth.dataDir, 'templates', 'base');
        mkdirSync(join(tpl, 'sub'), { recursive: true });
        writeFileSync(join(tpl, 'sub', 'from-template.txt'), 'template file\n');
        writeFileSync(join(tpl, 'config.yaml'), 'model: from-template\n');

        const ws = await running(berth, {
          runtime: 'agent',
          template: 'base',
          files: {
            'config.yaml': 'model: overridden-by-files\n',
            'keys/k.bin': {
              content: Buffer.from([0, 1, 2, 255]).toString('base64'),
              encoding: 'base64',
              mode: 0o600,
            },
          },
        });
        expect(ws.files).toEqual(['config.yaml', 'keys/k.bin', 'sub/from-template.txt']);
        // The first process prints what it read; give it a moment to write its output.
        let logs = '';
        for (let i = 0; i < 50 && !logs.includes('first-read:'); i++) {
          if (i > 0) await new Promise((r) => setTimeout(r, 100));
          logs = (await docker.getContainer(ws.containerId!).logs({ stdout: true, stderr: true })).toString();
        }
        expect(logs).toContain('first-read: model: overridden-by-files');
        expect((await sh(ws, 'cat /configs/sub/from-template.txt')).stdout).toBe('template file\n');
        expect((await sh(ws, 'od -An -tx1 /configs/keys/k.bin')).stdout.trim()).toBe('00 01 02 ff');
        expect((await sh(ws, 'stat -c "%a %u" /configs/keys/k.bin /configs/config.yaml')).stdout).toBe(
          '600 1000\n644 1000\n',
        );
      },
    );
  });

  it('refuses a runtime that requires config.yaml when nothing supplies it (422 config_missing), creating nothing', async () => {
    await withBerth(
      { config: { runtimes: { needs: { image: 'berth-shell:0.1.0', requiredFiles: ['config.yaml'] } } } },
      async (berth) => {
        const res = await berth.api('POST', '/v1/workspaces', {
          body: { runtime: 'needs', files: { 'other.yaml': 'x' } },
        });
        expect(res.status).toBe(422);
        expect(res.body).toMatchObject({ code: 'config_missing', details: { missing: ['config.yaml'] } });
        expect(await berth.leftovers()).toEqual({ containers: [], volumes: [], networks: [] });
      },
    );
  });

  it('fails to start with config_missing when a required file has no copy in the spec, instead of crash-looping', async () => {
    // (A wiped file the spec has is written again: reconciler.test.ts. Here the operator made the
    // runtime require a file after the workspace was created, so nothing can supply it.)
    await withBerth(
      { config: { runtimes: { needs: { image: 'berth-shell:0.1.0', requiredFiles: ['config.yaml'] } } } },
      async (berth) => {
        const ws = await running(berth, { runtime: 'needs', files: { 'config.yaml': 'a: 1\n' } });
        await berth.api('POST', `/v1/workspaces/${ws.id}/stop`);
        await berth.daemon.close();
        const file = join(berth.dataDir, 'berth.yaml');
        const config = parse(readFileSync(file, 'utf8')) as {
          runtimes: { needs: { requiredFiles: string[] } };
        };
        config.runtimes.needs.requiredFiles.push('extra.yaml');
        writeFileSync(file, stringify(config));
        const again = await reopenBerth(berth);
        try {
          const res = await fetch(`${again.url}/v1/workspaces/${ws.id}/start`, {
            method: 'POST',
            headers: { authorization: `Bearer ${berth.token}` },
          });
          const started = (await res.json()) as Workspace;
          expect(started.status).toBe('failed');
          expect(started.error?.code).toBe('config_missing');
          expect(started.error?.message).toContain('extra.yaml');
          expect((await inspectContainer(ws.containerId!)).State.Running).toBe(false);
        } finally {
          await again.close();
        }
      },
    );
  });

  it('refuses unknown templates and unsafe file paths', async () => {
    await withBerth({}, async (berth) => {
      const missing = await berth.api('POST', '/v1/workspaces', { body: { template: 'nope' } });
      expect(missing.status).toBe(400);
      expect(missing.body).toMatchObject({ code: 'template_not_found' });
      for (const path of [
        '../escape',
        '/abs',
        'a/../../b',
        'a//b',
        'x\u0000y',
        './x',
        'a/./b',
        'a'.repeat(300),
      ]) {
        const res = await berth.api('POST', '/v1/workspaces', { body: { files: { [path]: 'x' } } });
        expect(res.status, path).toBe(400);
        expect(res.body, path).toMatchObject({ code: 'validation_failed' });
      }
      const setuid = await berth.api('POST', '/v1/workspaces', {
        body: { files: { f: { content: 'x', mode: 0o4755 } } },
      });
      expect(setuid.status).toBe(400);
      expect(await berth.leftovers()).toEqual({ containers: [], volumes: [], networks: [] });
    });
  });
});
