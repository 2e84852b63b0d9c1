import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { EngineInfo } from '@berth/protocol';
import { buildApp } from './api/app.js';
import { resolveAdminToken } from './auth/admin-token.js';
import { Authenticator } from './auth/authenticator.js';
import { loadConfig, type ConfigFlags, type ResolvedConfig } from './config/load.js';
import { DockerEngine } from './engine/docker-engine.js';
import { writeHardenedProfile } from './engine/seccomp.js';
import { ImageService } from './images/image-service.js';
import { createLogger, SecretRegistry, type Logger } from './log/logger.js';
import { RuntimeCatalogue } from './runtimes/catalogue.js';
import { openDb, type Db } from './store/db.js';
import { MetaRepo, TokenRepo } from './store/token-repo.js';
import { WorkspaceRepo } from './store/workspace-repo.js';
import { BERTH_VERSION } from './version.js';
import { filterHostEnv } from './workspaces/env-rules.js';
import { Provisioner } from './workspaces/provisioner.js';
import { ToolsVolume } from './workspaces/tools.js';
import { CommandService } from './workspaces/commands.js';
import { FileService } from './workspaces/files.js';
import { InWorkspace } from './workspaces/in-workspace.js';
import { TerminalService } from './workspaces/terminals.js';
import { PreviewTokens } from './auth/preview.js';
import { WorkspaceService } from './workspaces/workspace-service.js';

export interface DaemonOptions extends ConfigFlags {
  /** Environment to read config and BERTH_ADMIN_TOKEN from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Where human start-up lines go (default stdout); the structured log goes to `logDestination`. */
  print?: (line: string) => void;
  logDestination?: NodeJS.WritableStream;
}

export interface Daemon {
  url: string;
  config: ResolvedConfig;
  close(): Promise<void>;
}

/**
 * Starts Berth: loads and validates the config, opens the store (migrating it), probes the engine,
 * listens, and resumes operations an earlier process left half-done.
 */
export async function runDaemon(options: DaemonOptions = {}): Promise<Daemon> {
  const env = options.env ?? process.env;
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const { config, configFile } = loadConfig(options, env);
  const secrets = new SecretRegistry();
  const logger = createLogger({
    level: config.logLevel,
    secrets,
    ...(options.logDestination ? { destination: options.logDestination } : {}),
  });
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const admin = resolveAdminToken(config.dataDir, env);
  secrets.add(admin.secret);

  let db: Db | undefined;
  try {
    db = await openDb({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
    logger.info({ store: db.dialect, location: db.location, configFile }, 'store ready');
    const engine = new DockerEngine({
      host: config.engine.host,
      callTimeoutMs: config.engine.callTimeoutMs,
      logger,
    });
    const meta = new MetaRepo(db);
    // Podman's default seccomp profile lets a workspace create namespaces; tiers 1-2 get Berth's
    // hardening of it instead (engine/seccomp.ts). Docker's default already has those rules.
    let seccompProfile: string | null = null;
    const onProbed = (info: EngineInfo | null) => {
      if (info?.kind !== 'podman') return;
      seccompProfile = writeHardenedProfile(join(config.dataDir, 'seccomp'));
      if (seccompProfile)
        logger.info({ seccompProfile }, 'tiers 1-2 use a seccomp profile derived from the engine default');
      else
        logger.warn(
          'Podman default seccomp profile not found; tiers 1-2 keep the engine default, which allows user namespaces',
        );
    };
    onProbed(await probeEngine(engine, meta, logger));

    const catalogue = new RuntimeCatalogue(config);
    const images = new ImageService(engine, catalogue, logger);
    const tools = new ToolsVolume(engine, images, catalogue, config.engine.labels, logger);
    let platformUrl = config.platformUrl ?? '';
    const provisioner = new Provisioner({
      engine,
      images,
      catalogue,
      config,
      logger,
      platformUrl: () => platformUrl,
      seccompProfile: () => seccompProfile,
      tools,
      passthroughEnv: filterHostEnv(env, config.env.passthroughAllow, config.env.passthroughDeny),
    });
    const inWorkspace = new InWorkspace({
      engine,
      provisioner,
      catalogue,
      tools,
      extraLabels: config.engine.labels,
      seccompProfile: () => seccompProfile,
    });
    const commands = new CommandService(inWorkspace, config.commands, logger);
    const terminals = new TerminalService(inWorkspace, config.terminals, logger);
    const files = new FileService(inWorkspace, config.files, join(config.dataDir, 'tmp'));
    const workspaces = new WorkspaceService({
      repo: new WorkspaceRepo(db),
      provisioner,
      commands,
      terminals,
      engine,
      catalogue,
      config,
      logger,
    });
    const tokens = new TokenRepo(db);
    const app = buildApp({
      logger,
      authenticator: new Authenticator(admin.secret, tokens),
      bodyLimitBytes: config.bodyLimitBytes,
      workspaces,
      engine,
      images,
      catalogue,
      config,
      platformUrl: () => platformUrl,
      seccomp: () => (seccompProfile ? 'berth-hardened' : 'engine-default'),
      tokens,
      secrets,
      commands,
      terminals,
      files,
      provisioner,
      previews: new PreviewTokens(config.dataDir),
      previewMaxTtlMs: 24 * 60 * 60 * 1000,
    });

    const address = await app.listen({ host: config.host, port: config.port });
    const url = address.replace('[::1]', '127.0.0.1');
    platformUrl ||= url;
    const watching = new AbortController();
    workspaces.watchEngine(watching.signal);
    const resumed = await workspaces.resumeInterrupted();

    // A later probe fills in engine facts when the engine was down at start.
    const reprobe = setInterval(() => {
      if (!engine.info) void probeEngine(engine, meta, logger).then(onProbed);
    }, 10_000);
    reprobe.unref();

    logger.info({ url, version: BERTH_VERSION, dataDir: config.dataDir, resumed }, 'berth listening');
    print(`Berth ${BERTH_VERSION} listening on ${url} (data: ${config.dataDir}, store: ${db.dialect})`);
    if (admin.source === 'generated') {
      print(`Admin token (shown once; stored with mode 0600 in ${admin.file}):\n  ${admin.secret}`);
    } else {
      print(`Admin token: ${admin.source === 'env' ? 'from BERTH_ADMIN_TOKEN' : `in ${admin.file}`}`);
    }
    const store = db;
    let closing: Promise<void> | undefined;
    return {
      url,
      config,
      close: () =>
        (closing ??= (async () => {
          clearInterval(reprobe);
          watching.abort();
          await app.close();
          await workspaces.close();
          await engine.close();
          await store.close();
          logger.info('berth stopped');
          logger.flush();
        })()),
    };
  } catch (err) {
    await db?.close();
    throw err;
  }
}

async function probeEngine(engine: DockerEngine, meta: MetaRepo, logger: Logger): Promise<EngineInfo | null> {
  try {
    const info = await engine.probe();
    await meta.set('engine', info);
    return info;
  } catch (err) {
    logger.warn(
      { endpoint: engine.endpoint, err: err instanceof Error ? err.message : String(err) },
      'container engine not reachable; workspaces cannot be created until it answers',
    );
    return null;
  }
}
