import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { ImageInfo, Progress } from '@berth/protocol';
import { AppError, errorMessage } from '../errors.js';
import { LABELS } from '../engine/labels.js';
import type { EngineDriver, ImageDetails } from '../engine/types.js';
import type { Logger } from '../log/logger.js';
import type { Runtime, RuntimeCatalogue } from '../runtimes/catalogue.js';
import { BERTH_VERSION } from '../version.js';
import { KeyedMutex } from '../util/keyed-mutex.js';
import { findStaticBusybox } from './busybox.js';
import { debianTag, debootstrapImage } from './debian-rootfs.js';
import {
  type BuildContext,
  contextTar,
  declaredArgs,
  findRecipesDir,
  readRecipe,
  recipeChain,
  recipeHash,
  recipeTag,
} from './recipes.js';
import { SHELL_RECIPE_HASH, shellBuildContext } from './shell-image.js';

/** Image label saying /configs and /workspace already belong to the workspace user. */
export const VOLUMES_PREPARED_LABEL = 'berth.volumes-prepared';
/** Labels of recipe images: the recipe's hash, its name, its parent, and the Debian image at the bottom. */
export const IMAGE_LABELS = {
  recipeHash: 'berth.recipe',
  recipe: 'berth.image-recipe',
  parent: 'berth.parent',
  parentId: 'berth.parent-id',
  baseImage: 'berth.base-image',
  baseDigest: 'berth.base-digest',
} as const;

export type ProgressSink = (p: Progress) => void;

/** How recipe images are built: `config.images`, with `workDir` for debootstrap's root filesystem. */
export interface ImageBuildSettings {
  recipesDir?: string | undefined;
  baseImage: string;
  baseSource: 'auto' | 'pull' | 'debootstrap';
  debianMirror: string;
  debianSuite: string;
  extraCaCertificates?: string[] | undefined;
  npmRegistry: string;
  pipIndexUrl: string;
  buildOnCreate: boolean;
  workDir: string;
  /** Labels every image Berth builds also gets (`engine.labels`). */
  extraLabels?: Record<string, string> | undefined;
}

const DEFAULT_SETTINGS: ImageBuildSettings = {
  baseImage: 'debian:bookworm-slim',
  baseSource: 'auto',
  debianMirror: 'http://deb.debian.org/debian',
  debianSuite: 'bookworm',
  npmRegistry: 'https://registry.npmjs.org',
  pipIndexUrl: 'https://pypi.org/simple',
  buildOnCreate: false,
  workDir: '/tmp/berth-images',
};

/** The Debian image at the bottom of every recipe image, pinned by id (and digest when pulled). */
interface Root {
  ref: string;
  id: string;
  digest: string;
}

const HOST_EXTRA_CA_DIR = '/usr/local/share/ca-certificates';
const OUTPUT_TAIL_LINES = 12;

/**
 * Makes images present: inspects, then builds Berth's own images or pulls a registry image, once
 * per image at a time however many workspaces ask (single flight). Recipe images (images/<name>)
 * build their chain from the Debian base up, reusing each layer whose recipe is unchanged; one
 * recipe build runs at a time, since they share layers. Progress goes to the caller.
 */
export class ImageService {
  private readonly inflight = new Map<string, Promise<ImageDetails>>();
  /** What each build or pull under way reported last (`GET /v1/images` shows it). */
  private readonly progress = new Map<string, Progress>();
  /** Why each image's last build or pull failed, until the next one begins (`GET /v1/images`). */
  private readonly lastErrors = new Map<string, { code: string; message: string }>();
  private readonly recipeBuilds = new KeyedMutex();
  private readonly contexts = new Map<string, BuildContext>();
  private readonly settings: ImageBuildSettings;
  private readonly log: Logger;

  constructor(
    private readonly engine: EngineDriver,
    private readonly catalogue: RuntimeCatalogue,
    logger: Logger,
    settings: Partial<ImageBuildSettings> = {},
  ) {
    this.log = logger.child({ component: 'images' });
    this.settings = { ...DEFAULT_SETTINGS, ...settings };
  }

  /**
   * The image, present. Berth's shell image is built when missing or stale; a recipe image is
   * built only when `build` (the workspace asked, or images.buildOnCreate), else image_not_found
   * names the command; any other image is pulled. Throws image_not_found with the fix.
   */
  async ensure(
    image: string,
    runtime: Runtime,
    onProgress: ProgressSink,
    signal?: AbortSignal,
    options: { build?: boolean } = {},
  ): Promise<ImageDetails> {
    const recipe = this.recipeFor(image, runtime);
    const present = await this.engine.images.inspect(image);
    // Present is enough, but for Berth's small shell image, rebuilt (in a second) when its recipe changed.
    if (present && (recipe !== 'shell' || present.labels[IMAGE_LABELS.recipeHash] === SHELL_RECIPE_HASH)) {
      return present;
    }
    const asked = options.build === true || this.settings.buildOnCreate || this.inflight.has(image);
    if (recipe && recipe !== 'shell' && !asked) {
      throw new AppError(
        'image_not_found',
        `image ${image} of runtime "${runtime.name}" is not built yet; build it with: berth images build ${runtime.name} (a few minutes; or create the workspace with buildImage: true / berth create --build), then start the workspace again`,
      );
    }
    return this.singleFlight(image, onProgress, (report) =>
      this.produce(image, recipe, runtime, report, signal),
    );
  }

  /**
   * Makes a runtime's image present now: builds it when Berth has a recipe (rebuilding the layers
   * whose recipe changed), otherwise pulls it. The same code serves creates that build or pull.
   */
  async build(runtimeName: string, onProgress: ProgressSink = () => {}): Promise<ImageInfo> {
    await this.make(runtimeName, onProgress);
    return this.info(this.catalogue.get(runtimeName));
  }

  /**
   * Starts making a runtime's image and answers at once, with its progress; the outcome shows in
   * `list()` (progress gone; present, or `lastError`). For clients that cannot hold a request for
   * the minutes a build takes.
   */
  async start(runtimeName: string): Promise<ImageInfo> {
    const runtime = this.catalogue.get(runtimeName);
    this.make(runtimeName, () => {}).catch((err: unknown) =>
      this.log.warn({ runtime: runtimeName, err: errorMessage(err) }, 'image build failed'),
    );
    return this.info(runtime);
  }

  private async make(runtimeName: string, onProgress: ProgressSink): Promise<void> {
    const runtime = this.catalogue.get(runtimeName);
    const recipe = this.recipeFor(runtime.image, runtime);
    await this.singleFlight(runtime.image, onProgress, (report) =>
      this.produce(runtime.image, recipe, runtime, report),
    );
  }

  /** How Berth makes `image`: `shell` (its busybox image), a recipe of images/, or null (pulled). */
  private recipeFor(image: string, runtime: Runtime): string | null {
    if (image === this.catalogue.shellImage) return 'shell';
    return image === runtime.image ? this.catalogue.recipeOf(runtime) : null;
  }

  private produce(
    image: string,
    recipe: string | null,
    runtime: Runtime,
    report: ProgressSink,
    signal?: AbortSignal,
  ): Promise<ImageDetails> {
    if (recipe === 'shell') return this.buildShell(report);
    if (recipe) return this.buildRecipe(recipe, runtime.name, report);
    return this.pull(image, runtime, report, signal);
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
    this.lastErrors.delete(image);
    this.progress.set(image, { phase: 'image', message: `preparing ${image}` });
    const job = make(report)
      .catch((err: unknown) => {
        const error = err instanceof AppError ? err : new AppError('internal', errorMessage(err));
        this.lastErrors.set(image, { code: error.code, message: error.message });
        throw err;
      })
      .finally(() => {
        this.inflight.delete(image);
        this.progress.delete(image);
      });
    this.inflight.set(image, job);
    return job;
  }

  private async pull(image: string, runtime: Runtime, onProgress: ProgressSink, signal?: AbortSignal) {
    try {
      await this.pullQuietly(image, onProgress, signal);
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

  private async pullQuietly(image: string, onProgress: ProgressSink, signal?: AbortSignal): Promise<void> {
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
    await this.buildImage(
      'shell',
      tag,
      shellBuildContext(busybox),
      {
        [IMAGE_LABELS.recipeHash]: SHELL_RECIPE_HASH,
        [IMAGE_LABELS.recipe]: 'shell',
      },
      {},
      (step, total, message) =>
        onProgress({
          phase: 'image',
          message: `building ${tag}: ${message}`,
          current: step,
          total,
          unit: 'steps',
        }),
    );
    const details = await this.engine.images.inspect(tag);
    if (!details) throw new AppError('image_build_failed', `${tag} is missing right after its build`);
    return details;
  }

  /** One engine build with Berth's labels; a failure names the step and the build's last lines. */
  private async buildImage(
    runtimeHint: string,
    tag: string,
    context: NodeJS.ReadableStream,
    labels: Record<string, string>,
    buildArgs: Record<string, string>,
    onStep: (step: number, total: number, message: string) => void,
  ): Promise<void> {
    const tail: string[] = [];
    let lastStep = '';
    try {
      await this.engine.images.build(
        context,
        {
          tag,
          labels: {
            [LABELS.managed]: 'true',
            [LABELS.role]: 'image',
            [LABELS.version]: BERTH_VERSION,
            [VOLUMES_PREPARED_LABEL]: 'true',
            ...this.settings.extraLabels,
            ...labels,
          },
          buildArgs,
          onOutput: (line) => {
            tail.push(line.slice(0, 500));
            if (tail.length > OUTPUT_TAIL_LINES) tail.shift();
            this.log.debug({ image: tag, line }, 'build output');
          },
        },
        (p) => {
          lastStep = `step ${p.step}/${p.totalSteps} (${p.message.slice(0, 80)})`;
          onStep(p.step, p.totalSteps, p.message);
        },
      );
    } catch (err) {
      if (err instanceof AppError && err.code === 'engine_unavailable') throw err;
      const output = tail.filter((l) => !/^\s*(step \d|--->|removing intermediate)/i.test(l)).slice(-6);
      throw new AppError(
        'image_build_failed',
        `building ${tag} failed${lastStep ? ` at ${lastStep}` : ''}: ${errorMessage(err)}${
          output.length ? `; last output: ${output.join(' | ')}` : ''
        }; fix the cause and retry with: berth images build ${runtimeHint}`,
        { cause: err },
      );
    }
  }

  /**
   * Builds a recipe image and every recipe below it whose image is missing or stale, base first.
   * Recipe builds run one at a time: they share their lower layers.
   */
  private buildRecipe(name: string, runtimeName: string, onProgress: ProgressSink): Promise<ImageDetails> {
    return this.recipeBuilds.run('recipes', async () => {
      const recipesDir = this.recipesDir();
      const chain = recipeChain(name);
      const root = await this.resolveRoot(onProgress);
      let parentId = root.id;
      let parentRef = root.ref;
      let parentHash = `root:${root.digest}`;
      let details: ImageDetails | null = null;
      for (const [index, recipe] of chain.entries()) {
        const tag = recipeTag(recipe.name, this.catalogue.repository);
        const context = this.recipeContext(recipesDir, recipe.name);
        const args = this.buildArgs(context, parentId);
        const hash = recipeHash(context, args, parentHash);
        const existing = await this.engine.images.inspect(tag);
        const where = `${tag} (image ${index + 1} of ${chain.length})`;
        if (existing && existing.labels[IMAGE_LABELS.recipeHash] === hash) {
          onProgress({ phase: 'image', message: `${where} is up to date` });
          details = existing;
        } else {
          this.log.info({ image: tag, recipe: recipe.name, parent: parentRef }, 'building image');
          onProgress({ phase: 'image', message: `building ${where}` });
          await this.buildImage(
            runtimeName,
            tag,
            contextTar(context),
            {
              [IMAGE_LABELS.recipeHash]: hash,
              [IMAGE_LABELS.recipe]: recipe.name,
              [IMAGE_LABELS.parent]: parentRef,
              [IMAGE_LABELS.parentId]: parentId,
              [IMAGE_LABELS.baseImage]: root.ref,
              [IMAGE_LABELS.baseDigest]: root.digest,
            },
            args,
            (step, total, message) =>
              onProgress({
                phase: 'image',
                message: `building ${where}: ${message.slice(0, 120)}`,
                current: step,
                total,
                unit: 'steps',
              }),
          );
          details = await this.engine.images.inspect(tag);
          if (!details) throw new AppError('image_build_failed', `${tag} is missing right after its build`);
        }
        parentId = details.id;
        parentRef = tag;
        parentHash = hash;
      }
      if (!details) throw new AppError('internal', `recipe ${name} has no layers`);
      return details;
    });
  }

  private recipesDir(): string {
    const dir = this.settings.recipesDir ?? findRecipesDir();
    if (!dir) {
      throw new AppError(
        'image_build_failed',
        "Berth's image recipes (the images/ directory) were not found; set images.recipesDir or BERTH_IMAGES_DIR",
      );
    }
    return dir;
  }

  /**
   * The recipe's files; the base also gets the host's extra CA certificates under extra-ca/.
   * Builds read them afresh; `GET /v1/images`, polled during builds, reuses what was read last.
   */
  private recipeContext(recipesDir: string, name: string, fresh = true): BuildContext {
    const cached = fresh ? undefined : this.contexts.get(name);
    if (cached) return cached;
    const context = readRecipe(recipesDir, name);
    if (name === 'base') {
      for (const [file, content] of this.extraCaCertificates()) {
        context.files.set(`extra-ca/${file}`, { content, mode: 0o644 });
      }
    }
    this.contexts.set(name, context);
    return context;
  }

  private extraCaCertificates(): [string, Buffer][] {
    let paths = this.settings.extraCaCertificates;
    if (!paths) {
      paths = [];
      try {
        const walk = (dir: string): void => {
          for (const entry of readdirSync(dir, { withFileTypes: true })) {
            const abs = join(dir, entry.name);
            if (entry.isDirectory()) walk(abs);
            else if (entry.name.endsWith('.crt')) paths!.push(abs);
          }
        };
        walk(HOST_EXTRA_CA_DIR);
      } catch {
        // no extra CAs on this host
      }
    }
    const out: [string, Buffer][] = [];
    for (const path of paths.sort()) {
      const content = readFileSync(path);
      if (!content.includes('-----BEGIN CERTIFICATE-----')) {
        throw new AppError(
          'image_build_failed',
          `images.extraCaCertificates: ${path} is not a PEM certificate; list PEM files only`,
        );
      }
      out.push([`${out.length}-${basename(path).replace(/\.(crt|pem)$/, '')}.crt`, content]);
    }
    return out;
  }

  private buildArgs(context: BuildContext, parentId: string): Record<string, string> {
    const dockerfile = context.files.get('Dockerfile')?.content.toString('utf8') ?? '';
    const declared = declaredArgs(dockerfile);
    const offered: Record<string, string> = {
      BASE_IMAGE: parentId,
      NPM_REGISTRY: this.settings.npmRegistry.replace(/\/+$/, ''),
      PIP_INDEX_URL: this.settings.pipIndexUrl,
    };
    return Object.fromEntries(Object.entries(offered).filter(([k]) => declared.has(k)));
  }

  /**
   * The Debian image the base recipe starts FROM: `images.baseImage` when present or pullable,
   * else (auto, debootstrap) `berth-debian:<suite>`, made with debootstrap when missing.
   */
  private async resolveRoot(onProgress: ProgressSink): Promise<Root> {
    const { baseImage, baseSource, debianSuite, debianMirror } = this.settings;
    if (baseSource !== 'debootstrap') {
      let present = await this.engine.images.inspect(baseImage);
      if (!present) {
        try {
          await this.pullQuietly(baseImage, onProgress);
          present = await this.engine.images.inspect(baseImage);
        } catch (err) {
          if (err instanceof AppError && err.code === 'engine_unavailable') throw err;
          if (baseSource === 'pull') {
            throw new AppError(
              'image_build_failed',
              `pulling ${baseImage} failed (${errorMessage(err)}); set images.baseSource to auto or debootstrap to build offline`,
              { cause: err },
            );
          }
          this.log.info(
            { image: baseImage, err: errorMessage(err) },
            'no registry answered; using debootstrap',
          );
        }
      }
      if (present) return { ref: baseImage, id: present.id, digest: present.repoDigests[0] ?? present.id };
    }
    const { repo, tag } = debianTag(debianSuite, this.catalogue.repository);
    const ref = `${repo}:${tag}`;
    const cached = await this.engine.images.inspect(ref);
    if (cached) return { ref, id: cached.id, digest: cached.id };
    onProgress({
      phase: 'image',
      message: `making Debian ${debianSuite} with debootstrap from ${debianMirror}`,
    });
    let fetched = 0;
    const id = await debootstrapImage(
      this.engine,
      { mirror: debianMirror, suite: debianSuite, workDir: this.settings.workDir, target: { repo, tag } },
      (line) => {
        if (line.startsWith('I: Retrieving')) fetched++;
        onProgress({
          phase: 'image',
          message: `debootstrap ${debianSuite}${fetched ? ` (${fetched} packages fetched)` : ''}: ${line
            .replace(/^I: /, '')
            .slice(0, 120)}`,
        });
      },
      this.log,
    );
    return { ref, id, digest: id };
  }

  /**
   * Whether a present recipe image matches the current recipes: the hash of every recipe from the
   * base up, starting from the Debian digest the image records (null: not a recipe image, or missing).
   */
  private upToDate(runtime: Runtime, details: ImageDetails | null): boolean | null {
    const recipe = this.catalogue.recipeOf(runtime);
    if (!details || !recipe) return null;
    if (recipe === 'shell') return details.labels[IMAGE_LABELS.recipeHash] === SHELL_RECIPE_HASH;
    try {
      const recipesDir = this.recipesDir();
      let hash = `root:${details.labels[IMAGE_LABELS.baseDigest] ?? ''}`;
      for (const r of recipeChain(recipe)) {
        const context = this.recipeContext(recipesDir, r.name, false);
        hash = recipeHash(context, this.buildArgs(context, ''), hash);
      }
      return details.labels[IMAGE_LABELS.recipeHash] === hash;
    } catch {
      return null;
    }
  }

  async info(runtime: Runtime): Promise<ImageInfo> {
    const details = await this.engine.images.inspect(runtime.image);
    const recipe = this.catalogue.recipeOf(runtime);
    return {
      runtime: runtime.name,
      image: runtime.image,
      present: details !== null,
      id: details?.id ?? null,
      sizeBytes: details?.sizeBytes ?? null,
      source: recipe ? 'build' : 'pull',
      progress: this.progress.get(runtime.image) ?? null,
      digest: details ? (details.repoDigests[0] ?? details.id) : null,
      baseDigest: details?.labels[IMAGE_LABELS.baseDigest] ?? null,
      upToDate: this.upToDate(runtime, details),
      command: `berth images build ${runtime.name}`,
      lastError: this.lastErrors.get(runtime.image) ?? null,
    };
  }

  async list(): Promise<ImageInfo[]> {
    return Promise.all(this.catalogue.list().map((rt) => this.info(rt)));
  }

  /** Whether the engine has the image (for the runtime list). */
  async present(image: string): Promise<boolean> {
    return (await this.engine.images.inspect(image)) !== null;
  }
}
