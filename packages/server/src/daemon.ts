import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { EngineInfo } from '@berth/protocol';
import { listenAgentSocket } from './api/agent-socket.js';
import { buildApp } from './api/app.js';
import { LABELS } from './engine/labels.js';
import { Reconciler } from './reconciler/reconciler.js';
import { LeaseRepo } from './store/lease-repo.js';
import { AgentService } from './workspaces/agents.js';
import { resolveAdminToken } from './auth/admin-token.js';
import { ADMIN_PRINCIPAL, Authenticator } from './auth/authenticator.js';
import { loadConfig, type ConfigFlags, type ResolvedConfig } from './config/load.js';
import { DockerEngine } from './engine/docker-engine.js';
import { writeHardenedProfile } from './engine/seccomp.js';
import { ImageService } from './images/image-service.js';
import { EgressGateway } from './egress/gateway.js';
import { AddressPolicy } from './egress/policy.js';
import { EgressIdentityRepo } from './store/egress-identity-repo.js';
import { createLogger, SecretRegistry, type Logger } from './log/logger.js';
import { RuntimeCatalogue } from './runtimes/catalogue.js';
import { loadSecretCipher } from './secrets/cipher.js';
import { SecretService } from './secrets/secret-service.js';
import { SecretRepo } from './store/secret-repo.js';
import { openDb, type Db } from './store/db.js';
import { EventNotifier } from './store/event-notifier.js';
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
import { ActivityTracker } from './workspaces/activity.js';

export interface DaemonOptions extends ConfigFlags {
  /** Environment to read config and BERTH_ADMIN_TOKEN from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Where human start-up lines go (default stdout); the structured log goes to `logDestination`. */
  print?: (line: string) => void;
  logDestination?: NodeJS.WritableStream;
  /**
   * Aborting it gives up a start that is still waiting for another server's reconciler lease
   * (`runDaemon` then rejects with `DaemonAborted`). After start, use `close()`.
   */
  signal?: AbortSignal;
}

/** `runDaemon` gave up because its `signal` aborted while it waited for the lease. */
export class DaemonAborted extends Error {
  constructor() {
    super('stopped while waiting for the reconciler lease');
    this.name = 'DaemonAborted';
  }
}

export interface Daemon {
  url: string;
  config: ResolvedConfig;
  /** Fired whenever workspace events were appended (event streams subscribe to it). */
  eventNotifier: EventNotifier;
  /** This store's id (the `berth.store` label on everything it creates). */
  storeId: string;
  /** The secrets store; `resolve(workspaceId, name)` is how credentials are injected. */
  secrets: SecretService;
  /**
   * Settles when the daemon stopped on its own: another server took the reconciler lease (the
   * daemon then closed itself, as it must not write any more). Never settles otherwise.
   */
  lost: Promise<string>;
  close(): Promise<void>;
}

/**
 * Starts Berth: loads and validates the config, opens the store (migrating it), probes the engine,
 * listens, and resumes operations an earlier process left half-done.
 */
export async function runDaemon(options: DaemonOptions = {}): Promise<Daemon> {
  const env = options.env ?? process.env;
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const { config: loaded, configFile } = loadConfig(options, env);
  let config = loaded;
  const secrets = new SecretRegistry();
  const logger = createLogger({
    level: config.logLevel,
    secrets,
    ...(options.logDestination ? { destination: options.logDestination } : {}),
  });
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const admin = resolveAdminToken(config.dataDir, env);
  secrets.add(admin.secret);
  // Before the store opens: a key file others may read stops the start here.
  const secretKeys = loadSecretCipher(config.dataDir, env, {
    keyFile: config.secrets.keyFile === undefined ? undefined : resolve(config.secrets.keyFile),
  });

  let db: Db | undefined;
  try {
    db = await openDb({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
    logger.info({ store: db.dialect, location: db.location, configFile }, 'store ready');
    // Every stored secret must open with these keys (else the start fails, saying which key is
    // missing); the values go to the log masker.
    const secretService = new SecretService({
      repo: new SecretRepo(db),
      cipher: secretKeys.cipher,
      registry: secrets,
      logger,
      keySource: secretKeys.file ?? 'BERTH_SECRETS_KEY',
      // Late-bound: the gateway is made once the workspace repo exists.
      resealOthers: (): Promise<number> => egress.resealIdentities(),
    });
    const storedSecrets = await secretService.verify();
    logger.info(
      { keySource: secretKeys.source, keyId: secretKeys.cipher.activeKeyId, secrets: storedSecrets },
      'secrets ready',
    );
    const engine = new DockerEngine({
      host: config.engine.host,
      callTimeoutMs: config.engine.callTimeoutMs,
      logger,
    });
    const meta = new MetaRepo(db);
    // Everything Berth creates carries this store's id, so two Berths on one engine (or a test
    // suite's many) never adopt or reap each other's objects.
    const storeId = await meta.getOrInit('storeId', () => `st_${randomBytes(8).toString('hex')}`);
    config = {
      ...config,
      engine: { ...config.engine, labels: { ...config.engine.labels, [LABELS.store]: storeId } },
    };
    const agentSocketDir = config.agents.socketDir ?? join(config.dataDir, 'run');
    // Apart from the agent socket directory: agent workspaces see that one whole.
    const egressSocketDir = config.egress.socketDir ?? join(config.dataDir, 'egress');
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
    const images = new ImageService(engine, catalogue, logger, {
      ...config.images,
      workDir: join(config.dataDir, 'images'),
      extraLabels: config.engine.labels,
    });
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
      agentSocketDir,
      egressSocketDir: (id) => join(egressSocketDir, id),
    });
    const inWorkspace = new InWorkspace({
      engine,
      provisioner,
      catalogue,
      tools,
      extraLabels: config.engine.labels,
      seccompProfile: () => seccompProfile,
    });
    // One repo, with one notifier for whoever appends events and the event streams that wait for them.
    const eventNotifier = new EventNotifier();
    const workspaceRepo = new WorkspaceRepo(db, eventNotifier);
    const activity = new ActivityTracker(workspaceRepo, { logger });
    const commands = new CommandService(inWorkspace, config.commands, logger, activity);
    const terminals = new TerminalService(inWorkspace, config.terminals, logger, activity);
    const files = new FileService(inWorkspace, config.files, join(config.dataDir, 'tmp'));
    const egress: EgressGateway = new EgressGateway({
      socketDir: egressSocketDir,
      identities: new EgressIdentityRepo(db),
      cipher: secretKeys.cipher,
      resolveSecret: (id: string, name: string, global: boolean): Promise<string | null> =>
        secretService.resolve(id, name, { global }),
      loadWorkspace: async (id) => {
        const ws = await workspaceRepo.getById(id);
        return ws ? { spec: ws.spec, ownerIsAdmin: ws.ownerId === ADMIN_PRINCIPAL.id } : null;
      },
      recordEvent: (id, event) => workspaceRepo.appendEvent(id, event),
      addresses: new AddressPolicy(config.egress.denyCidrs, config.egress.allowCidrs),
      dnsServers: config.egress.dnsServers,
      upstreamCa: config.egress.upstreamCaFile
        ? readFileSync(resolve(config.egress.upstreamCaFile), 'utf8')
        : null,
      caTtlMs: config.egress.caTtlMs,
      connectTimeoutMs: config.egress.connectTimeoutMs,
      logger,
    });
    const workspaces = new WorkspaceService({
      egress,
      files,
      repo: workspaceRepo,
      provisioner,
      commands,
      terminals,
      engine,
      catalogue,
      config,
      logger,
      storeId,
      activity,
    });
    const agents = new AgentService(workspaceRepo, config, (id) => workspaces.enqueue(id), logger);
    const holder = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    const reconciler = new Reconciler({
      repo: workspaceRepo,
      engine,
      workspaces,
      leases: new LeaseRepo(db),
      tools,
      config,
      logger,
      storeId,
      holder,
      egress,
    });
    const tokens = new TokenRepo(db);
    const app = buildApp({
      logger,
      authenticator: new Authenticator(admin.secret, tokens),
      bodyLimitBytes: config.bodyLimitBytes,
      workspaces,
      eventLog: workspaceRepo,
      engine,
      images,
      catalogue,
      config,
      platformUrl: () => platformUrl,
      seccomp: () => (seccompProfile ? 'berth-hardened' : 'engine-default'),
      tokens,
      secrets,
      secretService,
      commands,
      terminals,
      files,
      provisioner,
      previews: new PreviewTokens(config.dataDir),
      previewMaxTtlMs: 24 * 60 * 60 * 1000,
      activity,
      agents,
      reconcilerStatus: () => ({
        lastScanAt: reconciler.lastScan?.at ?? null,
        lastError: reconciler.lastError,
        queue: workspaces.queueSize,
      }),
    });

    // One writer per store (P6, F11): a second server waits here until the lease is free.
    const acquired = await reconciler.acquireLease(options.signal, (other, expiresAt) => {
      print(
        `Another Berth server (${other}) holds the reconciler lease on this store until ${expiresAt}; waiting for it`,
      );
      logger.warn({ holder: other, expiresAt }, 'waiting for the reconciler lease');
    });
    if (!acquired) {
      await app.close();
      throw new DaemonAborted();
    }

    const address = await app.listen({ host: config.host, port: config.port });
    const url = address.replace('[::1]', '127.0.0.1');
    platformUrl ||= url;
    const watching = new AbortController();
    workspaces.watchEngine(watching.signal);
    const agentSocket = await listenAgentSocket(app, agentSocketDir);
    // The start-up scan queues every workspace before any pass runs; then periodic scans.
    const firstScan = await reconciler.start();
    const resumed = firstScan.workspaces;

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
    if (secretKeys.source === 'generated') {
      print(
        `Secrets key generated in ${secretKeys.file} (mode 0600); back it up: stored secrets cannot be opened without it`,
      );
    }
    const store = db;
    let closing: Promise<void> | undefined;
    let markLost: (holder: string) => void = () => {};
    const lost = new Promise<string>((resolve) => (markLost = resolve));
    const daemon: Daemon = {
      url,
      config,
      eventNotifier,
      storeId,
      secrets: secretService,
      lost,
      close: () =>
        (closing ??= (async () => {
          clearInterval(reprobe);
          await reconciler.stop();
          await agentSocket.close();
          watching.abort();
          await app.close();
          await workspaces.close();
          await egress.close();
          await reconciler.releaseLease();
          await engine.close();
          await activity.close();
          await store.close();
          logger.info('berth stopped');
          logger.flush();
        })()),
    };
    reconciler.keepLease((other) => {
      print(`Berth lost the reconciler lease to ${other}; stopping (it must not write any more)`);
      void daemon.close().then(() => markLost(other));
    });
    return daemon;
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
