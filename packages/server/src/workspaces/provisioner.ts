import { mkdirSync } from 'node:fs';
import type { Endpoint } from '@berth/protocol';
import type { ResolvedConfig } from '../config/load.js';
import type { WorkspaceRecord } from '../domain/workspace.js';
import { AppError, errorMessage } from '../errors.js';
import { ownedBy, ownedLabels, resourceNames, workspaceFilter } from '../engine/labels.js';
import type { ContainerState, EngineDriver } from '../engine/types.js';
import { VOLUMES_PREPARED_LABEL, type ImageService, type ProgressSink } from '../images/image-service.js';
import type { Logger } from '../log/logger.js';
import type { RuntimeCatalogue } from '../runtimes/catalogue.js';
import { pickSubnet } from '../util/cidr.js';
import { sha256Hex } from '../util/canonical-json.js';
import { detectDrift, type Drift, type InspectDoc } from '../reconciler/drift.js';
import { failpoint } from '../util/failpoints.js';
import type { ConfigFile } from '../domain/workspace.js';
import { configsArchive } from './configs-archive.js';
import {
  AGENT_TOKEN_FILE,
  CONFIGS_PATH,
  HOST_DERIVED_ENV,
  helperContainerPlan,
  needsBoot,
  planWorkspace,
  type PlanContext,
  type WorkspacePlan,
} from './container-plan.js';
import type { ToolsVolume } from './tools.js';

export interface ProvisionerDeps {
  engine: EngineDriver;
  images: ImageService;
  catalogue: RuntimeCatalogue;
  config: ResolvedConfig;
  logger: Logger;
  tools: ToolsVolume;
  /** Seccomp profile for tiers 1-2 (null: the engine default), see engine/seccomp.ts. */
  seccompProfile: () => string | null;
  /** PLATFORM_URL as workspaces see it (known once the API listens). */
  platformUrl: () => string;
  passthroughEnv: Record<string, string>;
  /** Host directory holding Berth's agent socket (bind-mounted into agent workspaces). */
  agentSocketDir: string | null;
  /** Host directory of a workspace's egress gateway socket (bind-mounted when its policy is allowlist). */
  egressSocketDir: (workspaceId: string) => string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The engine-facing steps of a workspace's life. Every step is idempotent and checks ownership by
 * labels: an object Berth needs that exists without its labels is never touched (F17).
 */
export class Provisioner {
  private readonly log: Logger;
  /** Image id → the env it sets (drift checks run every scan; image content never changes). */
  private readonly imageEnvs = new Map<string, readonly string[]>();

  constructor(private readonly deps: ProvisionerDeps) {
    this.log = deps.logger.child({ component: 'provisioner' });
  }

  /** Keys of the host env every workspace gets (config passThroughEnv). */
  passthroughEnvKeys(): string[] {
    return Object.keys(this.deps.passthroughEnv);
  }

  private get engine(): EngineDriver {
    return this.deps.engine;
  }

  plan(
    ws: WorkspaceRecord,
    volumesPrepared = true,
    toolsVolume: string | null = null,
    imageCommand: PlanContext['imageCommand'] = null,
  ): WorkspacePlan {
    const runtime = this.deps.catalogue.get(ws.runtime);
    const host = this.deps.config.engine.host ?? 'unix:///var/run/docker.sock';
    return planWorkspace(ws, runtime, {
      gvisorAvailable: this.engine.info?.capabilities.gvisor ?? false,
      addedCapsEffectiveForNonRoot: this.engine.info?.capabilities.addedCapsEffectiveForNonRoot ?? false,
      seccompProfile: this.deps.seccompProfile(),
      gvisorMode: this.deps.config.tiers.gvisor,
      platformUrl: this.deps.platformUrl(),
      passthroughEnv: this.deps.passthroughEnv,
      engineSocketPath: host.startsWith('unix://') ? host.slice('unix://'.length) : null,
      extraLabels: this.deps.config.engine.labels,
      volumesPrepared,
      toolsVolume,
      agentSocketDir: this.deps.agentSocketDir,
      egress: { socketDir: this.deps.egressSocketDir(ws.id), listenPort: this.deps.config.egress.listenPort },
      imageCommand,
    });
  }

  /** The workspace's container if Berth owns it, null if absent; throws if a foreign one has its name. */
  async findContainer(ws: WorkspaceRecord): Promise<ContainerState | null> {
    const state = await this.engine.containers.inspect(resourceNames(ws.id).container);
    if (state && !ownedBy(state.labels, ws.id)) {
      throw foreign('container', state.name);
    }
    return state;
  }

  /**
   * Creates what the workspace needs up to a created (not started) container with /configs filled:
   * image, network, volumes (owned by the workspace user), container, config files.
   */
  async prepare(
    ws: WorkspaceRecord,
    progress: ProgressSink,
    signal: AbortSignal,
    agentToken: string | null = null,
  ): Promise<string> {
    const runtime = this.deps.catalogue.get(ws.runtime);
    progress({ phase: 'image', message: `checking image ${ws.spec.image}` });
    const image = await this.deps.images.ensure(ws.spec.image, runtime, progress, signal, {
      build: ws.spec.buildImage === true,
    });
    signal.throwIfAborted();

    const volumesPrepared = image.labels[VOLUMES_PREPARED_LABEL] === 'true';
    const tools = await this.deps.tools.ensure().catch((err: unknown) => {
      this.log.warn(
        { err: errorMessage(err) },
        'no tools volume: commands and files will be unavailable in this workspace',
      );
      return null;
    });
    const plan = this.plan(ws, volumesPrepared, tools, image);
    if (needsBoot(ws.spec)) {
      if (!tools) {
        throw new AppError(
          'egress_unavailable',
          'this workspace needs berth-helper (egress allowlist or secretEnv) and the tools volume could not be made; see the server log',
        );
      }
      if (!plan.container.cmd || plan.container.cmd.length === 0) {
        throw new AppError(
          'validation_failed',
          `image ${ws.spec.image} has no ENTRYPOINT or CMD and runtime "${ws.runtime}" no command, so there is nothing for berth-helper boot to run`,
        );
      }
    }
    if (plan.network) {
      progress({ phase: 'volumes', message: 'creating the workspace network' });
      await this.ensureNetwork(ws, plan.network);
      signal.throwIfAborted();
    }
    progress({ phase: 'volumes', message: 'creating volumes' });
    const fresh: string[] = [];
    for (const volume of plan.volumes) {
      if (await this.ensureVolume(ws, volume.name, volume.labels)) fresh.push(volume.name);
    }
    signal.throwIfAborted();
    if (fresh.length > 0 && !volumesPrepared) {
      await this.prepareVolumes(ws, fresh, runtime.user, progress);
    }
    failpoint('create.after-volumes');

    // The gateway socket's directory is bind-mounted: it must exist before the container does.
    if (ws.spec.egress.mode === 'allowlist') {
      mkdirSync(this.deps.egressSocketDir(ws.id), { recursive: true, mode: 0o755 });
    }
    progress({ phase: 'container', message: 'creating the container' });
    const existing = await this.findContainer(ws);
    if (existing) await this.engine.containers.remove(existing.id); // stale or half-made: recreate
    const containerId = await this.engine.containers.create(plan.container);
    failpoint('create.after-container');
    // All or nothing: a container whose /configs could not be written must never be started later.
    try {
      signal.throwIfAborted();
      const files = this.configFiles(ws, agentToken);
      if (Object.keys(files).length > 0) {
        progress({ phase: 'configs', message: `writing ${Object.keys(files).length} file(s) into /configs` });
        await this.writeConfigs(ws, containerId, files);
      }
    } catch (err) {
      await this.removeContainerQuietly(containerId);
      throw err;
    }
    return containerId;
  }

  /** The spec's files plus, for agent runtimes, the agent token (0400, the workspace user's). */
  private configFiles(ws: WorkspaceRecord, agentToken: string | null): Record<string, ConfigFile> {
    const files = { ...ws.spec.files };
    if (agentToken !== null) {
      files[AGENT_TOKEN_FILE] = { contentBase64: Buffer.from(agentToken).toString('base64'), mode: 0o400 };
    }
    return files;
  }

  /** Writes files into /configs as the workspace user (also into a running container). */
  async writeConfigs(ws: WorkspaceRecord, containerId: string, files: Record<string, ConfigFile>) {
    const [uid, gid] = this.deps.catalogue.get(ws.runtime).user.split(':').map(Number) as [number, number];
    await this.engine.containers.putArchive(containerId, CONFIGS_PATH, await configsArchive(files, uid, gid));
  }

  /**
   * Seed 000's ValidateConfigSource, before every start of an existing container: files of the
   * spec (and the agent token) missing from /configs — a wiped or emptied config volume — are
   * written again from the spec, which keeps a snapshot of them. Returns what was restored; a
   * required file the spec cannot supply stays missing (see `missingRequiredFiles`).
   */
  async restoreConfigs(
    ws: WorkspaceRecord,
    containerId: string,
    newAgentToken: () => Promise<string | null>,
  ): Promise<string[]> {
    const missing: Record<string, ConfigFile> = {};
    for (const [path, file] of Object.entries(ws.spec.files)) {
      if (!(await this.engine.containers.pathExists(containerId, `${CONFIGS_PATH}/${path}`)))
        missing[path] = file;
    }
    const runtime = this.deps.catalogue.get(ws.runtime);
    if (
      runtime.agent &&
      !(await this.engine.containers.pathExists(containerId, `${CONFIGS_PATH}/${AGENT_TOKEN_FILE}`))
    ) {
      const token = await newAgentToken();
      if (token !== null)
        Object.assign(missing, this.configFiles({ ...ws, spec: { ...ws.spec, files: {} } }, token));
    }
    if (Object.keys(missing).length > 0) await this.writeConfigs(ws, containerId, missing);
    return Object.keys(missing).sort();
  }

  /**
   * How a container differs from what the workspace's spec plans (seed 004 drift), or [] when it
   * matches. Reads the container's inspect document and its image's env.
   */
  async driftOf(ws: WorkspaceRecord, container: ContainerState): Promise<Drift[]> {
    const plan = this.plan(ws).container;
    return detectDrift({
      plan,
      specHash: ws.specHash,
      actual: container.raw as InspectDoc,
      imageEnv: container.imageId
        ? await this.imageEnv(container.imageId)
        : ((await this.engine.images.inspect(plan.image))?.env ?? []),
      hostDerivedEnv: [...HOST_DERIVED_ENV, ...Object.keys(this.deps.passthroughEnv)],
    });
  }

  /** The env of the image with this id. An id names immutable content, so each is asked for once. */
  private async imageEnv(imageId: string): Promise<readonly string[]> {
    const known = this.imageEnvs.get(imageId);
    if (known) return known;
    const env = (await this.engine.images.inspect(imageId))?.env ?? [];
    if (this.imageEnvs.size >= 256) this.imageEnvs.clear();
    this.imageEnvs.set(imageId, env);
    return env;
  }

  /**
   * Files the runtime requires must be in /configs before start (seed 000 ValidateConfigSource).
   * Those the spec has are written at create and by `restoreConfigs`, so only the others are looked
   * for (a runtime that began requiring a file after the workspace was made).
   */
  async missingRequiredFiles(ws: WorkspaceRecord, containerId: string): Promise<string[]> {
    const runtime = this.deps.catalogue.get(ws.runtime);
    const missing: string[] = [];
    for (const file of runtime.requiredFiles.filter((f) => !(f in ws.spec.files))) {
      if (!(await this.engine.containers.pathExists(containerId, `${CONFIGS_PATH}/${file}`)))
        missing.push(file);
    }
    return missing;
  }

  /** Starts the container and reports where its ports landed. */
  async start(
    ws: WorkspaceRecord,
    containerId: string,
  ): Promise<{ state: ContainerState; endpoints: Endpoint[] }> {
    await this.engine.containers.start(containerId);
    const state = await this.engine.containers.inspect(containerId);
    if (!state) throw new AppError('engine_error', `container ${containerId} vanished right after start`);
    return { state, endpoints: endpointsOf(ws, state) };
  }

  /** Best effort: a container made by a pass that then failed is removed so a retry starts clean. */
  async removeContainerQuietly(containerId: string): Promise<void> {
    try {
      await this.engine.containers.remove(containerId);
    } catch (err) {
      this.log.warn({ containerId, err: errorMessage(err) }, 'could not remove a half-made container');
    }
  }

  async kill(containerId: string): Promise<void> {
    await this.engine.containers.kill(containerId);
  }

  async stop(containerId: string): Promise<void> {
    await this.engine.containers.stop(containerId, this.deps.config.engine.stopTimeoutMs);
  }

  async lastLogLines(containerId: string, lines = 20): Promise<string> {
    try {
      return (await this.engine.containers.logsTail(containerId, lines)).trim();
    } catch (err) {
      return `(logs unavailable: ${errorMessage(err)})`;
    }
  }

  /**
   * Removes everything labeled for the workspace, in the order F2 asks: containers, then networks,
   * then volumes. Objects without Berth's labels are never touched. Safe to repeat.
   */
  async removeAll(workspaceId: string): Promise<void> {
    const filter = workspaceFilter(workspaceId);
    const removeContainers = async () => {
      for (const c of await this.engine.containers.list(filter)) await this.engine.containers.remove(c.id);
    };
    await removeContainers();
    failpoint('delete.after-containers');
    for (const n of await this.engine.networks.list(filter)) {
      await this.retryInUse(() => this.engine.networks.remove(n.name), removeContainers);
    }
    failpoint('delete.after-networks');
    for (const v of await this.engine.volumes.list(filter)) {
      await this.retryInUse(() => this.engine.volumes.remove(v.name), removeContainers);
    }
  }

  /**
   * An engine may still count a volume or network as used for a moment after its container is
   * gone (Docker: "in use", Podman: "is being used"); retry, removing any straggler container.
   */
  private async retryInUse(fn: () => Promise<unknown>, beforeRetry: () => Promise<void>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await fn();
        return;
      } catch (err) {
        const inUse = /in use|being used|active endpoints/i.test(errorMessage(err));
        if (!inUse || attempt >= 20) throw err;
        await sleep(100 + attempt * 50);
        await beforeRetry();
      }
    }
  }

  private async ensureNetwork(
    ws: WorkspaceRecord,
    network: { name: string; labels: Record<string, string> },
  ) {
    const existing = await this.engine.networks.inspect(network.name);
    if (existing) {
      if (!ownedBy(existing.labels, ws.id)) throw foreign('network', network.name);
      return;
    }
    const { subnetPool, subnetPrefix } = this.deps.config.network;
    const start = parseInt(sha256Hex(ws.id).slice(0, 8), 16);
    for (let attempt = 0; attempt < 8; attempt++) {
      const used = await this.engine.networks.usedSubnets();
      const subnet = pickSubnet(subnetPool, subnetPrefix, used, start + attempt * 7919);
      if (!subnet) {
        throw new AppError(
          'engine_error',
          `no free /${subnetPrefix} subnet left in ${subnetPool}; delete unused workspaces or widen network.subnetPool`,
        );
      }
      try {
        await this.engine.networks.create(network.name, network.labels, { subnet, internal: false });
        this.log.debug({ workspaceId: ws.id, subnet }, 'network created');
        return;
      } catch (err) {
        if (!/overlap|already/i.test(errorMessage(err))) throw err;
        const raced = await this.engine.networks.inspect(network.name);
        if (raced && ownedBy(raced.labels, ws.id)) return;
      }
    }
    throw new AppError('engine_error', `could not allocate a subnet for ${network.name} after 8 attempts`);
  }

  /** Returns true when the volume was created now (false: it already existed and is ours). */
  private async ensureVolume(
    ws: WorkspaceRecord,
    name: string,
    labels: Record<string, string>,
  ): Promise<boolean> {
    const existing = await this.engine.volumes.inspect(name);
    if (existing) {
      if (!ownedBy(existing.labels, ws.id)) throw foreign('volume', name);
      return false;
    }
    await this.engine.volumes.create(name, labels);
    return true;
  }

  /**
   * Images Berth did not build may lack /configs and /workspace, and a fresh volume's root then
   * belongs to root. A one-shot helper from Berth's own image (always buildable offline) hands the
   * volume roots to the workspace user: no network, only CAP_CHOWN, removed in every case.
   */
  private async prepareVolumes(ws: WorkspaceRecord, volumes: string[], user: string, progress: ProgressSink) {
    progress({ phase: 'volumes', message: 'handing the volumes to the workspace user' });
    const helperImage = this.deps.catalogue.shellImage;
    await this.deps.images.ensure(helperImage, this.deps.catalogue.get('shell'), progress);
    const labels = ownedLabels(
      { workspaceId: ws.id, name: ws.name, specHash: ws.specHash, generation: ws.generation },
      'helper',
      this.deps.config.engine.labels,
    );
    const plan = helperContainerPlan({
      name: `${resourceNames(ws.id).container}-prep`,
      image: helperImage,
      user: '0:0',
      cmd: ['chown', user, ...volumes.map((_, i) => `/v/${i}`)],
      mounts: volumes.map((source, i) => ({ type: 'volume', source, target: `/v/${i}`, readOnly: false })),
      labels,
      capAdd: ['CHOWN'],
      seccompProfile: this.deps.seccompProfile(),
    });
    const stale = await this.engine.containers.inspect(plan.name);
    if (stale && ownedBy(stale.labels, ws.id)) await this.engine.containers.remove(stale.id);
    const id = await this.engine.containers.create(plan);
    try {
      await this.engine.containers.start(id);
      const code = await this.engine.containers.wait(id);
      if (code !== 0) {
        throw new AppError(
          'engine_error',
          `preparing volumes failed (exit ${code}): ${await this.lastLogLines(id, 5)}`,
        );
      }
    } finally {
      await this.engine.containers.remove(id);
    }
  }
}

const foreign = (kind: string, name: string): AppError =>
  new AppError(
    'name_in_use_by_foreign_object',
    `a ${kind} named ${name} exists without Berth's labels; Berth never touches objects it does not own — remove or rename it, then start the workspace again`,
  );

/** Where the workspace's declared ports are reachable from the Berth host. */
export function endpointsOf(
  ws: Pick<WorkspaceRecord, 'spec'>,
  state: Pick<ContainerState, 'ports'>,
): Endpoint[] {
  if (ws.spec.tier === 1) return [];
  return ws.spec.ports.flatMap((p) => {
    if (ws.spec.tier === 4) {
      return [endpoint(p.name, p.port, '127.0.0.1', p.port)];
    }
    const binding = state.ports.find(
      (b) => b.containerPort === p.port && b.hostIp === '127.0.0.1' && b.hostPort > 0,
    );
    return binding ? [endpoint(p.name, p.port, binding.hostIp, binding.hostPort)] : [];
  });
}

const endpoint = (name: string, containerPort: number, hostIp: string, hostPort: number): Endpoint => ({
  name,
  containerPort,
  protocol: 'tcp',
  hostIp,
  hostPort,
  url: `http://${hostIp}:${hostPort}`,
});
