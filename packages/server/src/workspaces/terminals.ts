import type { TerminalInfo } from '@berth/protocol';
import type { WorkspaceRecord } from '../domain/workspace.js';
import { AppError } from '../errors.js';
import type { ProcessHandle } from '../engine/types.js';
import type { Logger } from '../log/logger.js';
import { randomBase32 } from '../util/ids.js';
import { HELPER_IN_WORKSPACE, runEnvArgs, WORKSPACE_PATH } from './container-plan.js';
import type { InWorkspace } from './in-workspace.js';
import { attachActive, NO_ACTIVITY, type ActivitySink } from './activity.js';
import { StreamSession, type OutputListener } from './stream-session.js';

export interface TerminalLimits {
  /** Output kept for a client that reconnects. */
  bufferBytes: number;
  /** How long a terminal with no client stays alive. */
  detachedTimeoutMs: number;
}

/** A PTY in a workspace. It outlives its WebSocket: a client can reconnect and see recent output. */
export class TerminalSession extends StreamSession {
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly id: string,
    readonly workspaceId: string,
    readonly cmd: string[],
    public cols: number,
    public rows: number,
    handle: ProcessHandle,
    private readonly killTree: () => Promise<void>,
    private readonly limits: TerminalLimits,
    private readonly activity: ActivitySink = NO_ACTIVITY,
  ) {
    super(handle, limits.bufferBytes);
    this.onIdle();
  }

  /** With no client attached, the terminal ends after `detachedTimeoutMs`. */
  protected override onIdle(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => void this.kill(), this.limits.detachedTimeoutMs);
    this.idleTimer.unref();
  }

  protected override onFinished(): void {
    clearTimeout(this.idleTimer);
  }

  /** An attached client keeps the workspace active (activity.ts), keystrokes or not. */
  override attach(listener: OutputListener, afterSeq?: number): () => void {
    clearTimeout(this.idleTimer);
    return attachActive(this.activity, this.workspaceId, listener, (l) => super.attach(l, afterSeq));
  }

  async input(data: Buffer): Promise<void> {
    this.activity.touch(this.workspaceId);
    if (this.running) await this.handle.writeStdin(data).catch(() => {});
  }

  async resize(cols: number, rows: number): Promise<void> {
    this.cols = cols;
    this.rows = rows;
    if (this.running) await this.handle.resize(cols, rows).catch(() => {});
  }

  /** Ends the program and everything it started. */
  async kill(): Promise<void> {
    if (!this.running) return;
    await this.killTree().catch(() => {});
    await Promise.race([this.done, new Promise((r) => setTimeout(r, 5000).unref())]);
    await this.handle.close();
  }

  info(): TerminalInfo {
    return {
      id: this.id,
      workspaceId: this.workspaceId,
      cmd: this.cmd,
      cols: this.cols,
      rows: this.rows,
      startedAt: this.startedAt.toISOString(),
      attached: this.attachedCount > 0,
      running: this.running,
    };
  }
}

/** Interactive terminals (PTYs) in running workspaces, under berth-helper's `run --tty`. */
export class TerminalService {
  private readonly sessions = new Map<string, TerminalSession>();
  private readonly log: Logger;

  constructor(
    private readonly inWorkspace: InWorkspace,
    private readonly limits: TerminalLimits,
    logger: Logger,
    private readonly activity: ActivitySink = NO_ACTIVITY,
  ) {
    this.log = logger.child({ component: 'terminals' });
  }

  async open(
    ws: WorkspaceRecord,
    options: { cols: number; rows: number; cmd?: string[]; cwd?: string; env?: Record<string, string> },
  ): Promise<TerminalSession> {
    const cmd = options.cmd ?? ['/bin/sh'];
    const id = `term_${randomBase32(12)}`;
    const pidfile = `/tmp/.berth-${id}.pid`;
    const env = Object.entries({ TERM: 'xterm-256color', ...options.env }).map(([k, v]) => `${k}=${v}`);
    const handle = await this.inWorkspace.exec(
      ws,
      {
        cmd: [
          HELPER_IN_WORKSPACE,
          'run',
          ...runEnvArgs(ws.spec),
          '--tty',
          '--pidfile',
          pidfile,
          '--',
          ...cmd,
        ],
        tty: true,
        env,
        workingDir: options.cwd ?? (ws.spec.tier === 1 ? '/' : WORKSPACE_PATH),
      },
      { stdin: true },
    );
    await handle.resize(options.cols, options.rows).catch(() => {});
    const killTree = async () => {
      await this.inWorkspace.signalHelper(ws, pidfile, 0, () => session.running);
    };
    const session: TerminalSession = new TerminalSession(
      id,
      ws.id,
      cmd,
      options.cols,
      options.rows,
      handle,
      killTree,
      this.limits,
      this.activity,
    );
    this.sessions.set(id, session);
    session.onExit(() => this.sessions.delete(id));
    this.log.info({ workspaceId: ws.id, terminalId: id }, 'terminal opened');
    return session;
  }

  list(ws: WorkspaceRecord): TerminalInfo[] {
    return [...this.sessions.values()].filter((s) => s.workspaceId === ws.id).map((s) => s.info());
  }

  get(ws: WorkspaceRecord, id: string): TerminalSession {
    const session = this.sessions.get(id);
    if (!session || session.workspaceId !== ws.id) {
      throw new AppError('terminal_not_found', `no live terminal ${id} in workspace ${ws.name}`);
    }
    return session;
  }

  async killAll(workspaceId: string): Promise<void> {
    await Promise.all(
      [...this.sessions.values()].filter((s) => s.workspaceId === workspaceId).map((s) => s.kill()),
    );
  }
}
