import type { Progress } from '@berth/protocol';
import { describe, expect, it } from 'vitest';
import { RuntimeConfigSchema } from '../config/schema.js';
import type { EngineDriver, ImageDetails, PullProgress } from '../engine/types.js';
import { createLogger, SecretRegistry } from '../log/logger.js';
import { RuntimeCatalogue } from '../runtimes/catalogue.js';
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
