import type { ImageInfo, Progress } from '@berth/protocol';
import { AppError, errorMessage } from '../errors.js';
import { LABELS } from '../engine/labels.js';
import type { EngineDriver, ImageDetails } from '../engine/types.js';
import type { Logger } from '../log/logger.js';
import type { Runtime, RuntimeCatalogue } from '../runtimes/catalogue.js';
import { BERTH_VERSION } from '../version.js';
import { findStaticBusybox } from './busybox.js';
import { SHELL_RECIPE_HASH, shellBuildContext } from './shell-image.js';

/** Image label saying /configs and /workspace already belong to the workspace user. */
export const VOLUMES_PREPARED_LABEL = 'berth.volumes-prepared';

export type ProgressSink = (p: Progress) => void;

/**
 * Makes images present: inspects, then builds Berth's own image or pulls a registry image, once
 * per image at a time however many workspaces ask (single flight). Progress goes to the caller.
 */
export class ImageService {
  private readonly inflight = new Map<string, Promise<ImageDetails>>();
  /** What each build or pull under way reported last (`GET /v1/images` shows it). */
  private readonly progress = new Map<string, Progress>();
  private readonly log: Logger;

  constructor(
    private readonly engine: EngineDriver,
    private readonly catalogue: RuntimeCatalogue,
    logger: Logger,
  ) {
    this.log = logger.child({ component: 'images' });
  }

  /** The image, present; builds or pulls it when missing. Throws image_not_found with the fix. */
  async ensure(
    image: string,
    runtime: Runtime,
    onProgress: ProgressSink,
    signal?: AbortSignal,
  ): Promise<ImageDetails> {
    const present = await this.engine.images.inspect(image);
    if (present && !this.isStale(image, present)) return present;
    return this.singleFlight(image, onProgress, (report) =>
      image === this.catalogue.shellImage
        ? this.buildShell(report)
        : this.pull(image, runtime, report, signal),
    );
  }

  /** Builds a runtime's image when Berth has a recipe for it (today: the `shell` runtime). */
  async build(runtimeName: string, onProgress: ProgressSink = () => {}): Promise<ImageInfo> {
    const runtime = this.catalogue.get(runtimeName);
    if (runtime.image !== this.catalogue.shellImage) {
      throw new AppError(
        'validation_failed',
        `Berth has no build recipe for runtime "${runtime.name}" (image ${runtime.image}); it is pulled when missing`,
      );
    }
    await this.singleFlight(runtime.image, onProgress, (report) => this.buildShell(report));
    return this.info(runtime);
  }

  /**
   * One build or pull per image at a time, however many callers ask. Its progress goes to the
   * first caller and is kept for `list()` until it ends.
   */
  private singleFlight(
    image: string,
    onProgress: ProgressSink,
    make: (report: ProgressSink) => Promise<ImageDetails>,
  ): Promise<ImageDetails> {
    const running = this.inflight.get(image);
    if (running) return running;
    const report: ProgressSink = (p) => {
      this.progress.set(image, p);
      onProgress(p);
    };
    const job = make(report).finally(() => {
      this.inflight.delete(image);
      this.progress.delete(image);
    });
    this.inflight.set(image, job);
    return job;
  }

  /** Berth's own image is rebuilt when its recipe changed. */
  private isStale(image: string, details: ImageDetails): boolean {
    return image === this.catalogue.shellImage && details.labels['berth.recipe'] !== SHELL_RECIPE_HASH;
  }

  private async pull(image: string, runtime: Runtime, onProgress: ProgressSink, signal?: AbortSignal) {
    try {
      onProgress({ phase: 'image', message: `pulling ${image}` });
      await this.engine.images.pull(
        image,
        (p) =>
          onProgress({
            phase: 'image',
            message: `pulling ${image}: ${p.message}`,
            current: p.current,
            total: p.total,
            unit: 'bytes',
          }),
        signal,
      );
    } catch (err) {
      if (err instanceof AppError && err.code === 'engine_unavailable') throw err;
      throw new AppError(
        'image_not_found',
        `image ${image} (runtime "${runtime.name}") is not present and could not be pulled (${errorMessage(err)}); pull or load it on the engine host (docker pull ${image}, or docker load -i <file>) and start the workspace again`,
        { cause: err },
      );
    }
    const details = await this.engine.images.inspect(image);
    if (!details) throw new AppError('image_not_found', `image ${image} is still missing after pulling it`);
    return details;
  }

  /** Builds Berth's `shell` image from a static busybox on this host (offline). */
  private async buildShell(onProgress: ProgressSink): Promise<ImageDetails> {
    const tag = this.catalogue.shellImage;
    const busybox = findStaticBusybox();
    if (!busybox) {
      throw new AppError(
        'image_not_found',
        `image ${tag} is missing and cannot be built: no static busybox on the Berth host; install it (apt-get install busybox-static, or run scripts/setup.sh) or set BERTH_BUSYBOX, then run: berth images build shell`,
      );
    }
    this.log.info({ image: tag, busybox }, 'building image');
    onProgress({ phase: 'image', message: `building ${tag}` });
    try {
      await this.engine.images.build(
        shellBuildContext(busybox),
        {
          tag,
          labels: {
            [LABELS.managed]: 'true',
            [LABELS.role]: 'image',
            [LABELS.version]: BERTH_VERSION,
            'berth.recipe': SHELL_RECIPE_HASH,
            [VOLUMES_PREPARED_LABEL]: 'true',
          },
        },
        (p) =>
          onProgress({
            phase: 'image',
            message: `building ${tag}: ${p.message}`,
            current: p.step,
            total: p.totalSteps,
            unit: 'steps',
          }),
      );
    } catch (err) {
      if (err instanceof AppError && err.code === 'engine_unavailable') throw err;
      throw new AppError(
        'image_build_failed',
        `building ${tag} failed: ${errorMessage(err)}; retry with: berth images build shell`,
        {
          cause: err,
        },
      );
    }
    const details = await this.engine.images.inspect(tag);
    if (!details) throw new AppError('image_build_failed', `${tag} is missing right after its build`);
    return details;
  }

  async info(runtime: Runtime): Promise<ImageInfo> {
    const details = await this.engine.images.inspect(runtime.image);
    return {
      runtime: runtime.name,
      image: runtime.image,
      present: details !== null,
      id: details?.id ?? null,
      sizeBytes: details?.sizeBytes ?? null,
      source: runtime.image === this.catalogue.shellImage ? 'build' : 'pull',
      progress: this.progress.get(runtime.image) ?? null,
    };
  }

  async list(): Promise<ImageInfo[]> {
    return Promise.all(this.catalogue.list().map((rt) => this.info(rt)));
  }
}
