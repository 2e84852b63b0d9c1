import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ImageInfo, Progress, Workspace } from '@berth/protocol';
import { describe, expect, it } from 'vitest';
import { ImageInfoSchema } from '../src/api/schemas.js';
import { BERTH_VERSION } from '../src/version.js';
import { docker, execIn, withBerth } from './harness.js';

describe("Berth's own image", () => {
  it('is built offline when missing, with visible progress, then reused', async () => {
    // A tag of this test's own, so removing and rebuilding it cannot disturb other tests.
    const tag = `berth-shell-test:${randomUUID().slice(0, 8)}`;
    try {
      await withBerth({ config: { shellImage: tag } }, async (berth) => {
        const before = (await berth.api<{ items: ImageInfo[] }>('GET', '/v1/images')).body.items.find(
          (i) => i.runtime === 'shell',
        );
        expect(before).toMatchObject({ image: tag, present: false, source: 'build' });

        const created = await berth.api<Workspace>('POST', '/v1/workspaces?wait=false', { body: {} });
        expect(created.status).toBe(201);
        const seen: Progress[] = [];
        let ws = created.body;
        for (let i = 0; i < 300 && (ws.status === 'provisioning' || ws.status === 'starting'); i++) {
          if (ws.progress) seen.push(ws.progress);
          await new Promise((r) => setTimeout(r, 20));
          ws = (await berth.api<Workspace>('GET', `/v1/workspaces/${ws.id}`)).body;
        }
        expect(ws.status, JSON.stringify(ws.error)).toBe('running');
        expect(seen.some((p) => p.phase === 'image' && p.message.includes(tag))).toBe(true);

        const image = await docker.getImage(tag).inspect();
        expect(image.Config.Labels).toMatchObject({
          'berth.managed': 'true',
          'berth.volumes-prepared': 'true',
        });
        expect(image.Config.Labels?.['berth.recipe']).toMatch(/^[0-9a-f]{16}$/);
        expect(image.Config.User).toBe('1000:1000');
        expect(
          (await execIn(ws.containerId!, ['sh', '-c', 'echo $HOME; ls -ld /workspace | cut -c1-10'])).stdout,
        ).toBe('/home/agent\ndrwxr-xr-x\n');

        const after = ImageInfoSchema.parse(
          (await berth.api<{ items: ImageInfo[] }>('GET', '/v1/images')).body.items.find(
            (i) => i.runtime === 'shell',
          ),
        );
        expect(after.present).toBe(true);
        expect(after.id).toBe(image.Id);

        const rebuilt = await berth.api<ImageInfo>('POST', '/v1/images/shell/build');
        expect(rebuilt.status).toBe(200);
        expect(rebuilt.body.present).toBe(true);

        const noRecipe = await berth.api('POST', '/v1/images/nonexistent/build');
        expect(noRecipe.status).toBe(400);
        expect(noRecipe.body).toMatchObject({ code: 'runtime_not_found' });
      });
    } finally {
      await docker
        .getImage(tag)
        .remove({ force: true })
        .catch(() => {});
    }
  });

  it('hands fresh volumes to the workspace user when the image did not prepare them', async () => {
    // An image without /configs or /workspace (built here from Berth's, minus its label): the
    // one-shot helper must chown the volume roots, or uid 1000 could not write its own workspace.
    const tag = `berth-bare-test:${randomUUID().slice(0, 8)}`;
    const { Readable } = await import('node:stream');
    const tar = (await import('tar-stream')).default;
    const pack = tar.pack();
    pack.entry(
      { name: 'Dockerfile' },
      'FROM berth-shell:0.1.0\nUSER 0:0\nRUN ["rm","-rf","/configs","/workspace"]\nLABEL berth.volumes-prepared=false\n',
    );
    pack.finalize();
    const stream = await docker.buildImage(Readable.from(pack), {
      t: tag,
    });
    await new Promise((resolve, reject) =>
      docker.modem.followProgress(stream, (err) => (err ? reject(err) : resolve(null))),
    );
    try {
      await withBerth(
        { config: { runtimes: { bare: { image: tag, command: ['sleep', 'infinity'] } } } },
        async (berth) => {
          const res = await berth.api<Workspace>('POST', '/v1/workspaces', {
            body: { runtime: 'bare', files: { 'a.txt': 'a' } },
          });
          expect(res.body.status, JSON.stringify(res.body.error)).toBe('running');
          const probe = await execIn(res.body.containerId!, [
            'sh',
            '-c',
            'touch /workspace/x && touch /configs/y && stat -c %u /workspace /configs',
          ]);
          expect(probe.exitCode, JSON.stringify(probe)).toBe(0);
          expect(probe.stdout).toBe('1000\n1000\n');
          // The helper is gone.
          expect((await berth.leftovers()).containers).toHaveLength(1);
        },
      );
    } finally {
      await docker
        .getImage(tag)
        .remove({ force: true })
        .catch(() => {});
    }
  });
});

describe('image builds that outlive a request', () => {
  it('start with wait=false, show progress in the list, and end present or with the failure kept as lastError', async () => {
    // A recipe directory of the test's own: a base layer on Berth's shell image that fails.
    const recipes = mkdtempSync(join(tmpdir(), 'berth-recipes-'));
    mkdirSync(join(recipes, 'base'));
    writeFileSync(
      join(recipes, 'base', 'Dockerfile'),
      'ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN echo about to fail; exit 3\n',
    );
    const repository = `berth-t${randomUUID().slice(0, 8)}`;
    try {
      await withBerth(
        {
          config: {
            images: {
              repository,
              recipesDir: recipes,
              baseImage: `berth-shell:${BERTH_VERSION}`,
              extraCaCertificates: [],
            },
          },
        },
        async (berth) => {
          const shell = await berth.api<ImageInfo>('POST', '/v1/images/shell/build?wait=false');
          expect(shell.status).toBe(202);
          expect(shell.body.progress?.message).toMatch(/preparing|building/);
          const settled = async (runtime: string): Promise<ImageInfo> => {
            for (let i = 0; i < 600; i++) {
              const items = (await berth.api<{ items: ImageInfo[] }>('GET', '/v1/images')).body.items;
              const item = items.find((x) => x.runtime === runtime)!;
              if (item.progress === null) return item;
              await new Promise((r) => setTimeout(r, 100));
            }
            throw new Error(`${runtime} did not settle`);
          };
          expect(await settled('shell')).toMatchObject({ present: true, lastError: null });

          const broken = await berth.api<ImageInfo>('POST', '/v1/images/debian/build?wait=false');
          expect(broken.status).toBe(202);
          const failed = await settled('debian');
          expect(failed.present).toBe(false);
          expect(failed.lastError?.code).toBe('image_build_failed');
          // The step, the build's own last words, and the way to retry.
          expect(failed.lastError?.message).toContain('at step');
          expect(failed.lastError?.message).toContain('about to fail');
          expect(failed.lastError?.message).toContain('berth images build debian');

          // Waiting callers get the same error as a 500 with its code.
          const waited = await berth.api<{ code: string }>('POST', '/v1/images/debian/build');
          expect(waited.status).toBe(500);
          expect(waited.body.code).toBe('image_build_failed');
          const bad = await berth.api<{ code: string }>('POST', '/v1/images/shell/build?wait=maybe');
          expect(bad.status).toBe(400);
          expect(bad.body.code).toBe('validation_failed');
        },
      );
    } finally {
      rmSync(recipes, { recursive: true, force: true });
    }
  });
});
