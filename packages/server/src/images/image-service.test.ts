import type { Progress } from '@berth/protocol';
import { describe, expect, it } from 'vitest';
import { RuntimeConfigSchema } from '../config/schema.js';
import type { EngineDriver, ImageDetails, PullProgress } from '../engine/types.js';
import { createLogger, SecretRegistry } from '../log/logger.js';
import { RuntimeCatalogue } from '../runtimes/catalogue.js';
import { BERTH_VERSION as V } from '../version.js';
import { ImageService } from './image-service.js';

const IMAGE = 'registry.example/agent:1';
const DETAILS: ImageDetails = {
  id: 'sha256:abc',
  sizeBytes: 1234,
  labels: {},
  repoDigests: [],
  env: [],
  entrypoint: null,
  cmd: null,
};

/** An engine whose pull reports what the test says and ends when it says. */
function fakeEngine() {
  let present = false;
  let report: (p: PullProgress) => void = () => undefined;
  let finish: () => void = () => undefined;
  const engine = {
    images: {
      inspect: (ref: string) => Promise.resolve(ref === IMAGE && present ? DETAILS : null),
      pull: (_ref: string, onProgress: (p: PullProgress) => void) => {
        report = onProgress;
        return new Promise<void>((resolve) => {
          finish = () => {
            present = true;
            resolve();
          };
        });
      },
    },
  } as unknown as EngineDriver;
  return { engine, report: (p: PullProgress) => report(p), finish: () => finish() };
}

describe('image service', () => {
  it('lists the progress of a pull under way, and none once it ended', async () => {
    const fake = fakeEngine();
    const catalogue = new RuntimeCatalogue({
      shellImage: 'berth-shell:test',
      runtimes: { agent: RuntimeConfigSchema.parse({ image: IMAGE }) },
    });
    const logger = createLogger({ level: 'silent', secrets: new SecretRegistry() });
    const images = new ImageService(fake.engine, catalogue, logger);
    const agent = (): Promise<unknown> =>
      images.list().then((items) => items.find((i) => i.runtime === 'agent'));

    expect(await agent()).toMatchObject({ present: false, progress: null, source: 'pull' });
    const seen: Progress[] = [];
    const pulling = images.ensure(IMAGE, catalogue.get('agent'), (p) => seen.push(p));
    await new Promise((r) => setTimeout(r, 0));
    expect(await agent()).toMatchObject({ progress: { phase: 'image', message: `pulling ${IMAGE}` } });
    fake.report({ current: 10, total: 40, message: 'Downloading' });
    expect(await agent()).toMatchObject({
      present: false,
      progress: { current: 10, total: 40, unit: 'bytes', message: `pulling ${IMAGE}: Downloading` },
    });
    fake.finish();
    expect(await pulling).toBe(DETAILS);
    expect(await agent()).toMatchObject({ present: true, progress: null, sizeBytes: 1234 });
    expect(seen.map((p) => p.current)).toEqual([undefined, 10]);
  });
});

/** An engine that records builds and answers inspects from what it holds; pulls fail (no registry). */
function buildEngine(initial: Record<string, ImageDetails> = {}) {
  const images = new Map(Object.entries(initial));
  const builds: { tag: string; buildArgs: Record<string, string>; labels: Record<string, string> }[] = [];
  let n = 0;
  const engine = {
    images: {
      inspect: (ref: string) => Promise.resolve(images.get(ref) ?? null),
      pull: (ref: string) => Promise.reject(new Error(`pull ${ref}: no registry`)),
      build: (
        _context: unknown,
        options: { tag: string; labels: Record<string, string>; buildArgs?: Record<string, string> },
        onProgress: (p: { step: number; totalSteps: number; message: string }) => void,
      ) => {
        onProgress({ step: 1, totalSteps: 2, message: 'FROM x' });
        builds.push({ tag: options.tag, buildArgs: options.buildArgs ?? {}, labels: options.labels });
        images.set(options.tag, { ...DETAILS, id: `sha256:built${++n}`, labels: options.labels });
        return Promise.resolve();
      },
    },
  } as unknown as EngineDriver;
  return { engine, builds, images };
}

describe('recipe images', () => {
  const logger = createLogger({ level: 'silent', secrets: new SecretRegistry() });
  const debian: ImageDetails = { ...DETAILS, id: 'sha256:debian', repoDigests: ['debian@sha256:d1'] };
  const settings = { baseImage: 'debian:test', extraCaCertificates: [] as string[] };

  it('fails a create of a missing recipe image with the command, and builds it when asked, base first', async () => {
    const fake = buildEngine({ 'debian:test': debian });
    const catalogue = new RuntimeCatalogue({ shellImage: 'berth-shell:test', runtimes: {} });
    const images = new ImageService(fake.engine, catalogue, logger, settings);
    const codex = catalogue.get('codex');

    await expect(images.ensure(codex.image, codex, () => {})).rejects.toMatchObject({
      code: 'image_not_found',
      message: expect.stringContaining('berth images build codex') as unknown,
    });
    expect(fake.builds).toEqual([]);

    const seen: Progress[] = [];
    const details = await images.ensure(codex.image, codex, (p) => seen.push(p), undefined, { build: true });
    expect(fake.builds.map((b) => b.tag)).toEqual([`berth-base:${V}`, `berth-node:${V}`, `berth-codex:${V}`]);
    // Each layer FROM its parent's id; the Debian root pinned by its registry digest.
    expect(fake.builds.map((b) => b.buildArgs.BASE_IMAGE)).toEqual([
      'sha256:debian',
      'sha256:built1',
      'sha256:built2',
    ]);
    expect(fake.builds[2]!.buildArgs.NPM_REGISTRY).toBe('https://registry.npmjs.org');
    expect(details.labels).toMatchObject({
      'berth.image-recipe': 'codex',
      'berth.parent': `berth-node:${V}`,
      'berth.base-image': 'debian:test',
      'berth.base-digest': 'debian@sha256:d1',
    });
    expect(seen.some((p) => p.message.includes(`berth-node:${V} (image 2 of 3)`))).toBe(true);

    // Current layers are reused: gemini builds only its own.
    await images.build('gemini');
    expect(fake.builds.map((b) => b.tag).slice(3)).toEqual([`berth-gemini:${V}`]);
    expect(await images.info(catalogue.get('gemini'))).toMatchObject({ upToDate: true, present: true });
    expect(await images.info(catalogue.get('langgraph'))).toMatchObject({ upToDate: null, present: false });
  });

  it('sees a changed recipe as not current, and rebuilds from the first changed layer', async () => {
    const fake = buildEngine({ 'debian:test': debian });
    const catalogue = new RuntimeCatalogue({ shellImage: 'berth-shell:test', runtimes: {} });
    await new ImageService(fake.engine, catalogue, logger, settings).build('node');
    // Another npm registry changes node's build args, so node is stale; base is not.
    const moved = new ImageService(fake.engine, catalogue, logger, {
      ...settings,
      npmRegistry: 'https://npm.example.internal',
    });
    expect(await moved.info(catalogue.get('node'))).toMatchObject({ upToDate: false });
    expect(await moved.info(catalogue.get('debian'))).toMatchObject({ upToDate: true });
    await moved.build('node');
    expect(fake.builds.map((b) => b.tag)).toEqual([`berth-base:${V}`, `berth-node:${V}`, `berth-node:${V}`]);
  });

  it('names the way out when the base can only come from a registry that does not answer', async () => {
    const fake = buildEngine();
    const catalogue = new RuntimeCatalogue({ shellImage: 'berth-shell:test', runtimes: {} });
    const images = new ImageService(fake.engine, catalogue, logger, { ...settings, baseSource: 'pull' });
    await expect(images.build('debian')).rejects.toMatchObject({
      code: 'image_build_failed',
      message: expect.stringContaining('set images.baseSource to auto or debootstrap') as unknown,
    });
    expect(fake.builds).toEqual([]);
  });

  it('uses its own tag prefix, and a config runtime naming a recipe image builds it', async () => {
    const fake = buildEngine({ 'debian:test': debian });
    const catalogue = new RuntimeCatalogue({
      shellImage: 'berth-shell:test',
      images: { repository: 'acme' },
      runtimes: {
        coder: RuntimeConfigSchema.parse({ image: `acme-claude-code:${V}`, recipe: 'claude-code' }),
      },
    });
    expect(catalogue.get('claude-code').image).toBe(`acme-claude-code:${V}`);
    expect(
      () =>
        new RuntimeCatalogue({
          shellImage: 'berth-shell:test',
          runtimes: { odd: RuntimeConfigSchema.parse({ image: 'x:1', recipe: 'nope' }) },
        }),
    ).toThrow(/runtimes\.odd\.recipe: Berth has no recipe "nope"/);
    expect(catalogue.recipeOf(catalogue.get('coder'))).toBe('claude-code');
    await new ImageService(fake.engine, catalogue, logger, settings).build('coder');
    expect(fake.builds.map((b) => b.tag)).toEqual([
      `acme-base:${V}`,
      `acme-node:${V}`,
      `acme-claude-code:${V}`,
    ]);
  });
});
