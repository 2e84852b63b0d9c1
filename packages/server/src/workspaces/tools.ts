import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import tar from 'tar-stream';
import { AppError } from '../errors.js';
import { LABELS } from '../engine/labels.js';
import type { EngineDriver } from '../engine/types.js';
import type { ImageService } from '../images/image-service.js';
import type { Logger } from '../log/logger.js';
import type { RuntimeCatalogue } from '../runtimes/catalogue.js';
import { BERTH_VERSION } from '../version.js';
import { helperContainerPlan } from './container-plan.js';

/** The berth-helper binary built from packages/helper (`BERTH_HELPER_BINARY` overrides). */
export function helperBinaryPath(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.BERTH_HELPER_BINARY) return existsSync(env.BERTH_HELPER_BINARY) ? env.BERTH_HELPER_BINARY : null;
  try {
    const pkg = createRequire(import.meta.url).resolve('@berth/helper/package.json');
    const binary = join(dirname(pkg), 'dist', 'berth-helper');
    return existsSync(binary) ? binary : null;
  } catch {
    return null;
  }
}

/**
 * A named volume holding berth-helper, shared read-only by every workspace (as seed 004 mounts its
 * worker binary). Named after the binary's hash, so an upgrade gets a fresh volume. It is filled
 * through a never-started container of Berth's own image, so it works on remote engines too.
 */
export class ToolsVolume {
  private ready: Promise<string> | undefined;
  private readonly log: Logger;

  constructor(
    private readonly engine: EngineDriver,
    private readonly images: ImageService,
    private readonly catalogue: RuntimeCatalogue,
    private readonly extraLabels: Record<string, string>,
    logger: Logger,
    private readonly binary: string | null = helperBinaryPath(),
  ) {
    this.log = logger.child({ component: 'tools' });
  }

  /** The name the current helper's volume has (without touching the engine); null without a helper. */
  expectedName(): string | null {
    if (!this.binary) return null;
    try {
      return toolsVolumeName(readFileSync(this.binary));
    } catch {
      return null;
    }
  }

  /** The volume name, creating and filling the volume the first time. */
  ensure(): Promise<string> {
    this.ready ??= this.create().catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  private async create(): Promise<string> {
    if (!this.binary) {
      throw new AppError(
        'engine_error',
        'the berth-helper binary is missing; build it with `npm run build` (needs gcc) or set BERTH_HELPER_BINARY',
      );
    }
    const content = readFileSync(this.binary);
    const name = toolsVolumeName(content);
    const existing = await this.engine.volumes.inspect(name);
    if (existing && existing.labels[LABELS.role] === 'tools' && (await this.holdsHelper(name))) return name;
    if (!existing) {
      // Shared by every workspace and every Berth on this engine, so no per-daemon labels.
      await this.engine.volumes.create(name, {
        [LABELS.managed]: 'true',
        [LABELS.role]: 'tools',
        [LABELS.version]: BERTH_VERSION,
      });
    }
    await this.withScratch(name, async (id) => {
      const pack = tar.pack();
      pack.entry({ name: 'bin/', type: 'directory', mode: 0o755, uid: 0, gid: 0 });
      pack.entry({ name: 'bin/berth-helper', mode: 0o755, uid: 0, gid: 0 }, content);
      pack.finalize();
      const chunks: Buffer[] = [];
      for await (const chunk of pack) chunks.push(chunk as Buffer);
      await this.engine.containers.putArchive(id, '/t', Buffer.concat(chunks));
    });
    this.log.info({ volume: name }, 'tools volume ready');
    return name;
  }

  private holdsHelper(name: string): Promise<boolean> {
    return this.withScratch(name, (id) => this.engine.containers.pathExists(id, '/t/bin/berth-helper'));
  }

  /** A created, never-started container of Berth's image with the volume at /t. */
  private async withScratch<T>(volume: string, fn: (containerId: string) => Promise<T>): Promise<T> {
    await this.images.ensure(this.catalogue.shellImage, this.catalogue.get('shell'), () => {});
    const plan = helperContainerPlan({
      name: `berth-tools-scratch-${randomBytes(4).toString('hex')}`,
      image: this.catalogue.shellImage,
      user: '0:0',
      cmd: ['true'],
      mounts: [{ type: 'volume', source: volume, target: '/t', readOnly: false }],
      labels: { ...this.extraLabels, [LABELS.managed]: 'true', [LABELS.role]: 'helper' },
    });
    const id = await this.engine.containers.create(plan);
    try {
      return await fn(id);
    } finally {
      await this.engine.containers.remove(id);
    }
  }
}

/** Tools volumes are named by the helper binary's hash: a new helper gets a new volume. */
export const toolsVolumeName = (content: Buffer): string =>
  `berth-tools-${createHash('sha256').update(content).digest('hex').slice(0, 16)}`;
