import { describe, expect, it } from 'vitest';
import { mountsUnder, sourcesList } from './debian-rootfs.js';
import { declaredArgs, findRecipesDir, readRecipe, recipeChain, recipeHash, RECIPES } from './recipes.js';

describe('image recipes', () => {
  it('stack from base, and every recipe has its Dockerfile in images/', () => {
    expect(recipeChain('claude-code').map((r) => r.name)).toEqual(['base', 'node', 'claude-code']);
    expect(recipeChain('base').map((r) => r.name)).toEqual(['base']);
    expect(() => recipeChain('nope')).toThrow(/no image recipe "nope"/);
    const dir = findRecipesDir({});
    expect(dir).not.toBeNull();
    for (const r of RECIPES) {
      const dockerfile = readRecipe(dir!, r.name).files.get('Dockerfile')!.content.toString();
      // Each layer starts FROM what Berth passes: its parent's id (or the pinned Debian image).
      expect(dockerfile, r.name).toMatch(/^ARG BASE_IMAGE\b/m);
      expect(dockerfile, r.name).toMatch(/^FROM \$\{BASE_IMAGE\}$/m);
      // The workspace user, never root, is what the image runs as.
      expect(
        dockerfile
          .trimEnd()
          .split('\n')
          .filter((l) => l.startsWith('USER '))
          .at(-1) ?? 'USER 1000:1000',
      ).toBe('USER 1000:1000');
    }
  });

  it('reads the ARGs a Dockerfile declares', () => {
    expect([
      ...declaredArgs('ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n  arg NPM_REGISTRY=x\nRUN echo ARG NOT\n'),
    ]).toEqual(['BASE_IMAGE', 'NPM_REGISTRY']);
  });

  it('hashes files, args (but the parent id) and the parent hash', () => {
    const ctx = (text: string) => ({
      files: new Map([['Dockerfile', { content: Buffer.from(text), mode: 0o644 }]]),
    });
    const a = recipeHash(ctx('FROM x'), { BASE_IMAGE: 'sha256:1', NPM_REGISTRY: 'r' }, 'p');
    expect(recipeHash(ctx('FROM x'), { BASE_IMAGE: 'sha256:2', NPM_REGISTRY: 'r' }, 'p')).toBe(a);
    expect(recipeHash(ctx('FROM y'), { BASE_IMAGE: 'sha256:1', NPM_REGISTRY: 'r' }, 'p')).not.toBe(a);
    expect(recipeHash(ctx('FROM x'), { BASE_IMAGE: 'sha256:1', NPM_REGISTRY: 's' }, 'p')).not.toBe(a);
    expect(recipeHash(ctx('FROM x'), { BASE_IMAGE: 'sha256:1', NPM_REGISTRY: 'r' }, 'q')).not.toBe(a);
  });
});

describe('debootstrap helpers', () => {
  it('adds the updates and security suites to apt sources', () => {
    expect(sourcesList('http://deb.debian.org/debian', 'bookworm')).toBe(
      'deb http://deb.debian.org/debian bookworm main\n' +
        'deb http://deb.debian.org/debian bookworm-updates main\n' +
        'deb http://deb.debian.org/debian-security bookworm-security main\n',
    );
    expect(sourcesList('http://mirror.example/deb', 'bookworm')).not.toContain('security');
  });

  it('finds the mounts left under a root filesystem, deepest first, and nothing beside it', () => {
    const info = [
      '22 1 0:21 / /proc rw - proc proc rw',
      '90 1 0:50 / /data/rootfs-1/proc rw - proc proc rw',
      '91 90 0:51 / /data/rootfs-1/proc/sys/fs/binfmt_misc rw - binfmt_misc x rw',
      '92 1 0:52 / /data/rootfs-10/sys rw - sysfs sysfs rw',
    ].join('\n');
    expect(mountsUnder('/data/rootfs-1', info)).toEqual([
      '/data/rootfs-1/proc/sys/fs/binfmt_misc',
      '/data/rootfs-1/proc',
    ]);
  });
});
