import { performance } from 'node:perf_hooks';
import type { CommandInfo, CommandInput, ExecInput, ExecResult } from '@berth/protocol';
import { z } from 'zod';
import type { WorkspaceRecord } from '../domain/workspace.js';
import { AppError } from '../errors.js';
import type { OutputChunk, ProcessHandle } from '../engine/types.js';
import type { Logger } from '../log/logger.js';
import { randomBase32 } from '../util/ids.js';
import { HELPER_IN_WORKSPACE, runEnvArgs, WORKSPACE_PATH } from './container-plan.js';
import { ENV_KEY_PATTERN } from '../domain/patterns.js';
import { isReservedEnvKey } from './env-rules.js';
import type { InWorkspace } from './in-workspace.js';
import { attachActive, NO_ACTIVITY, type ActivitySink } from './activity.js';
import { StreamSession, type OutputListener } from './stream-session.js';

export interface CommandLimits {
  /** Default timeout of one-shot exec; streamed and background commands have none unless asked. */
  execTimeoutMs: number;
  maxTimeoutMs: number;
  /** Default and largest bytes kept per stream by one-shot exec. */
  defaultMaxOutputBytes: number;
  maxOutputBytes: number;
  /** Output kept per session for re-attaching. */
  bufferBytes: number;
  /** How long a finished command stays listed. */
  retainFinishedMs: number;
}

const argString = z
  .string()
  .max(64 * 1024)
  .refine((s) => !s.includes('\0'), 'must not contain NUL');

export const CommandInputSchema = z.strictObject({
  cmd: z.array(argString).min(1).max(4096).optional(),
  command: argString.min(1).optional(),
  cwd: z
    .string()
    .max(4096)
    .refine((s) => s.startsWith('/') && !s.includes('\0'), 'cwd is an absolute path')
    .refine((s) => !/^\/proc(\/|$)/.test(s), 'cwd may not be under /proc')
    .optional(),
  env: z
    .record(z.string().regex(ENV_KEY_PATTERN, 'env keys are letters, digits and _'), argString)
    .optional(),
  user: z
    .string()
    .regex(/^\d{1,10}(:\d{1,10})?$/, 'user is a numeric uid or uid:gid')
    .optional(),
  timeoutMs: z.number().int().min(1).optional(),
});

export const ExecInputSchema = CommandInputSchema.extend({
  stdin: z
    .string()
    .max(16 * 1024 * 1024)
    .optional(),
  stdinEncoding: z.enum(['utf8', 'base64']).optional(),
  maxOutputBytes: z.number().int().min(0).optional(),
});

/** The helper's control frames on stdin (packages/helper/CONTRACT.md). */
const FRAME = { data: 0, close: 1, signal: 2, kill: 3 } as const;
const frame = (type: number, payload: Buffer = Buffer.alloc(0)): Buffer => {
  const head = Buffer.alloc(5);
  head[0] = type;
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
};

export const SIGNALS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGUSR2: 12,
  SIGTERM: 15,
};

/** A command running in a workspace under berth-helper, and what we know of it. */
export class CommandSession extends StreamSession {
  timedOut = false;
  private readonly timer: NodeJS.Timeout | undefined;

  /** Set once stdin was half-closed: control then goes through `kill --pidfile`. */
  private stdinEnded = false;

  constructor(
    readonly id: string,
    readonly workspaceId: string,
    readonly cmd: string[],
    readonly background: boolean,
    handle: ProcessHandle,
    bufferBytes: number,
    timeoutMs: number,
    /** Signals the command through `berth-helper kill --pidfile` (0 = kill the whole tree). */
    private readonly signalByPidfile: (signal: number) => Promise<void>,
    private readonly activity: ActivitySink = NO_ACTIVITY,
  ) {
    super(handle, bufferBytes);
    if (timeoutMs > 0) {
      this.timer = setTimeout(() => {
        this.timedOut = true;
        void this.kill();
      }, timeoutMs);
    }
  }

  protected override onFinished(): void {
    clearTimeout(this.timer);
  }

  /** A client attached to a command keeps its workspace active (activity.ts). */
  override attach(listener: OutputListener, afterSeq?: number): () => void {
    return attachActive(this.activity, this.workspaceId, listener, (l) => super.attach(l, afterSeq));
  }

  async writeStdin(data: Buffer): Promise<void> {
    this.activity.touch(this.workspaceId);
    // Frames carry at most 1 MiB each, so one huge write cannot hog the helper.
    for (let offset = 0; offset < data.length; offset += 1024 * 1024) {
      await this.send(frame(FRAME.data, data.subarray(offset, offset + 1024 * 1024)));
    }
  }

  closeStdin(): Promise<void> {
    return this.send(frame(FRAME.close));
  }

  signal(signal: number): Promise<void> {
    if (this.stdinEnded) return this.running ? this.signalByPidfile(signal) : Promise.resolve();
    return this.send(frame(FRAME.signal, Buffer.from([signal])));
  }

  /** Kills the command and every process it started. */
  kill(): Promise<void> {
    if (this.stdinEnded) return this.running ? this.signalByPidfile(0) : Promise.resolve();
    return this.send(frame(FRAME.kill));
  }

  /** The caller went away: berth-helper kills a foreground command when its stdin ends. */
  hangUp(): void {
    this.endStdin();
  }

  /**
   * Half-closes stdin without writing to it. For a background command berth-helper then only
   * closes the command's stdin. (Podman 4.3 loses output when stdin bytes are still in flight as
   * the process exits; not writing at all avoids that.)
   */
  endStdin(): void {
    if (!this.stdinEnded) {
      this.stdinEnded = true;
      if (this.running) this.handle.endStdin();
    }
  }

  private async send(bytes: Buffer): Promise<void> {
    if (!this.running) return;
    await this.handle.writeStdin(bytes).catch(() => {});
  }

  info(): CommandInfo {
    return {
      id: this.id,
      workspaceId: this.workspaceId,
      cmd: this.cmd,
      background: this.background,
      startedAt: this.startedAt.toISOString(),
      running: this.running,
      exitCode: this.exitCode,
      timedOut: this.timedOut,
    };
  }
}

/**
 * Commands inside workspaces: one-shot exec with caps and timeouts, streaming sessions, and
 * background commands that outlive their caller and can be listed, re-attached and killed. Every
 * command runs under berth-helper, which kills its whole process tree on request.
 */
export class CommandService {
  private readonly sessions = new Map<string, CommandSession>();
  private readonly log: Logger;

  constructor(
    private readonly inWorkspace: InWorkspace,
    private readonly limits: CommandLimits,
    logger: Logger,
    private readonly activity: ActivitySink = NO_ACTIVITY,
  ) {
    this.log = logger.child({ component: 'commands' });
  }

  /** Starts a command; the caller streams it, or it runs in the background. */
  async start(
    ws: WorkspaceRecord,
    input: CommandInput,
    /** `stdin: false` attaches no stdin; control then goes through the pidfile. */
    options: { background: boolean; stdin?: boolean },
  ): Promise<CommandSession> {
    const cmd = argvOf(input);
    const timeoutMs = this.timeoutOf(input.timeoutMs);
    this.checkUser(ws, input.user);
    const env = Object.entries(input.env ?? {});
    const reserved = env.map(([k]) => k).filter(isReservedEnvKey);
    if (reserved.length > 0) {
      throw new AppError(
        'reserved_env_key',
        `env keys ${reserved.join(', ')} are reserved and cannot be set for a command`,
      );
    }
    const id = `cmd_${randomBase32(12)}`;
    this.activity.touch(ws.id);
    const pidfile = `/tmp/.berth-${id}.pid`;
    const stdin = options.stdin ?? true;
    const handle = await this.inWorkspace.exec(
      ws,
      {
        cmd: [
          HELPER_IN_WORKSPACE,
          'run',
          ...runEnvArgs(ws.spec),
          ...(options.background ? ['--background'] : []),
          ...(stdin && this.inWorkspace.helperLingerMs > 0
            ? ['--linger-ms', String(this.inWorkspace.helperLingerMs)]
            : []),
          '--pidfile',
          pidfile,
          '--',
          ...cmd,
        ],
        env: env.map(([k, v]) => `${k}=${v}`),
        workingDir: input.cwd ?? (ws.spec.tier === 1 ? '/' : WORKSPACE_PATH),
        ...(input.user ? { user: input.user } : {}),
      },
      { stdin },
    );
    const signalByPidfile = async (signal: number): Promise<void> => {
      try {
        const delivered = await this.inWorkspace.signalHelper(ws, pidfile, signal, () => session.running);
        if (!delivered && session.running) {
          this.log.warn({ commandId: id }, 'could not signal a command: its helper wrote no pidfile');
        }
      } catch (err) {
        this.log.warn(
          { commandId: id, err: err instanceof Error ? err.message : String(err) },
          'could not signal a command',
        );
      }
    };
    const session: CommandSession = new CommandSession(
      id,
      ws.id,
      cmd,
      options.background,
      handle,
      this.limits.bufferBytes,
      timeoutMs,
      signalByPidfile,
      this.activity,
    );
    if (options.stdin === false) session.endStdin();
    this.sessions.set(session.id, session);
    session.onExit(() => {
      setTimeout(() => this.sessions.delete(session.id), this.limits.retainFinishedMs).unref();
    });
    this.log.info(
      { workspaceId: ws.id, commandId: session.id, background: options.background },
      'command started',
    );
    return session;
  }

  /** Runs a command to completion and returns its output (capped) and exit code. */
  async exec(ws: WorkspaceRecord, input: ExecInput): Promise<ExecResult> {
    const cap = Math.min(
      input.maxOutputBytes ?? this.limits.defaultMaxOutputBytes,
      this.limits.maxOutputBytes,
    );
    const started = performance.now();
    const stdin = input.stdin !== undefined && input.stdin.length > 0;
    // Without input the command gets no stdin at all: it runs as a background command (EOF only
    // closes its stdin), and its timeout goes through the pidfile. Nothing is ever written to
    // stdin, which Podman 4.3 needs (bytes in flight as a process exits lose its output there).
    const session = await this.start(
      ws,
      { ...input, timeoutMs: input.timeoutMs ?? this.limits.execTimeoutMs },
      { background: !stdin, stdin },
    );
    const out: Record<OutputChunk['stream'], { parts: Buffer[]; bytes: number; truncated: boolean }> = {
      stdout: { parts: [], bytes: 0, truncated: false },
      stderr: { parts: [], bytes: 0, truncated: false },
    };
    const detach = session.attach((chunk) => {
      const o = out[chunk.stream];
      const room = cap - o.bytes;
      if (room <= 0) o.truncated = true;
      else {
        const part = chunk.data.length > room ? chunk.data.subarray(0, room) : chunk.data;
        if (part.length < chunk.data.length) o.truncated = true;
        o.parts.push(part);
        o.bytes += part.length;
      }
      return Promise.resolve();
    });
    try {
      if (stdin) {
        await session.writeStdin(
          Buffer.from(input.stdin!, input.stdinEncoding === 'base64' ? 'base64' : 'utf8'),
        );
        await session.closeStdin();
      }
      await session.done;
    } finally {
      detach();
      this.sessions.delete(session.id);
    }
    const stderr = Buffer.concat(out.stderr.parts).toString('utf8');
    return {
      exitCode: session.exitCode ?? -1,
      stdout: Buffer.concat(out.stdout.parts).toString('utf8'),
      stderr: session.exitCode === 127 || session.exitCode === 126 ? helperStartError(stderr) : stderr,
      durationMs: Math.round(performance.now() - started),
      timedOut: session.timedOut,
      truncated: { stdout: out.stdout.truncated, stderr: out.stderr.truncated },
    };
  }

  list(ws: WorkspaceRecord): CommandInfo[] {
    return [...this.sessions.values()].filter((s) => s.workspaceId === ws.id).map((s) => s.info());
  }

  get(ws: WorkspaceRecord, id: string): CommandSession {
    const session = this.sessions.get(id);
    if (!session || session.workspaceId !== ws.id) {
      throw new AppError(
        'command_not_found',
        `no command ${id} in workspace ${ws.name}; list them with GET .../commands`,
      );
    }
    return session;
  }

  /** Kills every command of a workspace (it is being stopped or deleted). */
  async killAll(workspaceId: string): Promise<void> {
    await Promise.all(
      [...this.sessions.values()].filter((s) => s.workspaceId === workspaceId).map((s) => s.kill()),
    );
  }

  private timeoutOf(requested: number | undefined): number {
    const timeout = requested ?? 0;
    if (timeout > this.limits.maxTimeoutMs) {
      throw new AppError('validation_failed', `timeoutMs is at most ${this.limits.maxTimeoutMs}`);
    }
    return timeout;
  }

  private checkUser(ws: WorkspaceRecord, user: string | undefined): void {
    if (user === undefined || ws.spec.tier >= 3) return;
    const [uid, gid] = user.split(':').map(Number);
    if (uid === 0 || gid === 0) {
      throw new AppError(
        'forbidden',
        `tier ${ws.spec.tier} workspaces never run commands as root (uid or gid 0)`,
      );
    }
  }
}

function argvOf(input: CommandInput): string[] {
  if ((input.cmd === undefined) === (input.command === undefined)) {
    throw new AppError(
      'validation_failed',
      'give exactly one of cmd (an argv array) and command (a shell command line)',
    );
  }
  return input.cmd ?? ['/bin/sh', '-c', input.command!];
}

/** When the program never started, berth-helper's JSON error becomes a readable line. */
function helperStartError(stderr: string): string {
  try {
    const parsed = JSON.parse(stderr.trim()) as { error?: string; message?: string };
    if (parsed.error && parsed.message) return `berth: ${parsed.message}\n`;
  } catch {
    // the program ran and wrote this itself
  }
  return stderr;
}
