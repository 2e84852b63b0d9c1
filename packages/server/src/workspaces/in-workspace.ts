import { randomBytes } from 'node:crypto';
import type { ErrorCode } from '@berth/protocol';
import type { WorkspaceRecord } from '../domain/workspace.js';
import { AppError } from '../errors.js';
import { ownedLabels, resourceNames } from '../engine/labels.js';
import type { EngineDriver, ProcessHandle, ProcessSpec } from '../engine/types.js';
import type { RuntimeCatalogue } from '../runtimes/catalogue.js';
import { HELPER_IN_WORKSPACE, helperContainerPlan, TOOLS_MOUNT } from './container-plan.js';
import type { Provisioner } from './provisioner.js';
import type { ToolsVolume } from './tools.js';

/** berth-helper's error codes (packages/helper/CONTRACT.md) → Berth's API codes. */
const HELPER_ERRORS: Record<string, ErrorCode> = {
  invalid_path: 'invalid_path',
  not_found: 'file_not_found',
  not_a_directory: 'not_a_directory',
  is_a_directory: 'is_a_directory',
  exists: 'file_exists',
  escapes_root: 'path_escapes_root',
  loop: 'path_escapes_root',
  too_large: 'file_too_large',
  permission_denied: 'file_permission_denied',
  unsupported_type: 'unsupported_file_type',
  invalid_archive: 'invalid_archive',
  not_empty: 'directory_not_empty',
  io_error: 'internal',
  usage: 'internal',
};

/** Turns berth-helper's failure (exit 2, one JSON line on stderr) into a stable API error. */
export function helperError(exitCode: number, stderr: string): AppError {
  // The helper's own line is the last JSON object with an `error` field.
  let parsed: { error?: string; message?: string } = {};
  for (const line of stderr.trim().split('\n').reverse()) {
    try {
      const candidate = JSON.parse(line) as typeof parsed;
      if (candidate && typeof candidate.error === 'string') {
        parsed = candidate;
        break;
      }
    } catch {
      // not the helper's line
    }
  }
  const code = (parsed.error && HELPER_ERRORS[parsed.error]) || 'internal';
  const message = parsed.message ?? `berth-helper exited with ${exitCode}`;
  return new AppError(code, code === 'internal' ? `file operation failed: ${message}` : message);
}

export interface InWorkspaceDeps {
  engine: EngineDriver;
  provisioner: Provisioner;
  catalogue: RuntimeCatalogue;
  tools: ToolsVolume;
  extraLabels: Record<string, string>;
  seccompProfile: () => string | null;
}

/**
 * Runs processes inside a workspace, as its user, in its own namespaces: `docker exec` when the
 * container runs; when it is stopped, a one-shot container of Berth's own image on the same
 * volumes (never an image that may be absent, never the agent's container).
 */
export class InWorkspace {
  constructor(private readonly deps: InWorkspaceDeps) {}

  private userOf(ws: WorkspaceRecord): string {
    return this.deps.catalogue.get(ws.runtime).user;
  }

  /**
   * How long `berth-helper run` keeps reading stdin after its command exited (`--linger-ms`), so
   * that a frame sent as the command ends is not in flight when it exits: 0 unless the engine
   * drops output in that case (Podman 4.3).
   */
  get helperLingerMs(): number {
    return this.deps.engine.info?.capabilities.outputLostWithStdinInFlight ? 250 : 0;
  }

  /** Starts a process in the running workspace. */
  async exec(ws: WorkspaceRecord, spec: ProcessSpec, options: { stdin: boolean }): Promise<ProcessHandle> {
    const container = await this.deps.provisioner.findContainer(ws);
    if (!container?.running) {
      throw new AppError('invalid_state', `workspace ${ws.name} is ${ws.status}; start it to run commands`);
    }
    return this.deps.engine.containers.execProcess(container.id, { user: this.userOf(ws), ...spec }, options);
  }

  /**
   * Sends `signal` (0: kill the whole tree) to a `berth-helper run --pidfile` in the workspace.
   * The helper writes its pidfile once it started its command, so a signal sent right after the
   * start may find none yet: retried while `running()` holds (2 s at most). False when no helper
   * took it (it never wrote its pidfile, or it is gone).
   */
  async signalHelper(
    ws: WorkspaceRecord,
    pidfile: string,
    signal: number,
    running: () => boolean,
  ): Promise<boolean> {
    for (let attempt = 0; attempt < 40; attempt++) {
      if (await this.signalOnce(ws, pidfile, signal)) return true;
      if (!running()) return false;
      await new Promise((r) => setTimeout(r, 50));
    }
    return false;
  }

  private async signalOnce(ws: WorkspaceRecord, pidfile: string, signal: number): Promise<boolean> {
    const args = ['kill', '--pidfile', pidfile, ...(signal > 0 ? ['--signal', String(signal)] : [])];
    const handle = await this.exec(ws, { cmd: [HELPER_IN_WORKSPACE, ...args] }, { stdin: false });
    try {
      const stderr: Buffer[] = [];
      for await (const chunk of handle.output()) if (chunk.stream === 'stderr') stderr.push(chunk.data);
      const code = await handle.wait();
      if (code === 0) return true;
      const err = helperError(code, Buffer.concat(stderr).toString('utf8'));
      if (err.code === 'file_not_found') return false; // no such helper (yet, or any more)
      throw err;
    } finally {
      await handle.close();
    }
  }

  /** Runs berth-helper with `args` against the workspace's files, running or stopped. */
  async helper(ws: WorkspaceRecord, args: string[], options: { stdin: boolean }): Promise<ProcessHandle> {
    const container = await this.deps.provisioner.findContainer(ws);
    if (!container) {
      throw new AppError('invalid_state', `workspace ${ws.name} has no container yet (status ${ws.status})`);
    }
    const cmd = [HELPER_IN_WORKSPACE, ...args];
    if (container.running) {
      const hasTools = (container.raw as { Mounts?: { Destination: string }[] }).Mounts?.some(
        (m) => m.Destination === TOOLS_MOUNT,
      );
      if (!hasTools) {
        throw new AppError(
          'invalid_state',
          `workspace ${ws.name} was created without Berth's tools mount; restart it after a Berth upgrade, or recreate it`,
        );
      }
      return this.deps.engine.containers.execProcess(
        container.id,
        { cmd, user: this.userOf(ws), workingDir: '/' },
        options,
      );
    }
    // Stopped: a one-shot container of Berth's own image on the workspace's volumes, idle, and
    // the helper exec'd inside it like in a running workspace. (Not an attach: Podman never
    // delivers EOF on a half-closed attach stream, while exec streams work on both engines.)
    const tools = await this.deps.tools.ensure();
    const mounts = this.deps.provisioner
      .plan(ws, true, tools)
      .container.mounts.map((m) => (m.type === 'volume' ? { ...m, noCopy: true } : m));
    const plan = helperContainerPlan({
      name: `${resourceNames(ws.id).container}-files-${randomBytes(4).toString('hex')}`,
      image: this.deps.catalogue.shellImage,
      user: this.userOf(ws),
      cmd: ['sleep', '86400'],
      mounts,
      labels: ownedLabels(
        { workspaceId: ws.id, name: ws.name, specHash: ws.specHash, generation: ws.generation },
        'helper',
        this.deps.extraLabels,
      ),
      seccompProfile: this.deps.seccompProfile(),
    });
    const engine = this.deps.engine;
    const helperId = await engine.containers.create(plan);
    try {
      await engine.containers.start(helperId);
      const handle = await engine.containers.execProcess(
        helperId,
        { cmd, user: this.userOf(ws), workingDir: '/' },
        options,
      );
      return {
        ...handle,
        close: async () => {
          await handle.close();
          await engine.containers.remove(helperId);
        },
      };
    } catch (err) {
      await engine.containers.remove(helperId);
      throw err;
    }
  }

  /**
   * Runs berth-helper to completion: `stdin` is sent and closed, stdout collected up to
   * `maxStdout` bytes. Failures become stable API errors.
   */
  async helperCall(
    ws: WorkspaceRecord,
    args: string[],
    options: { stdin?: Buffer; maxStdout?: number } = {},
  ): Promise<Buffer> {
    const handle = await this.helper(ws, args, { stdin: options.stdin !== undefined });
    try {
      if (options.stdin !== undefined) {
        if (options.stdin.length > 0) await handle.writeStdin(options.stdin);
        handle.endStdin();
      }
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let outBytes = 0;
      const max = options.maxStdout ?? 16 * 1024 * 1024;
      for await (const chunk of handle.output()) {
        if (chunk.stream === 'stderr') {
          if (err.reduce((n, b) => n + b.length, 0) < 64 * 1024) err.push(chunk.data);
        } else if (outBytes < max) {
          out.push(chunk.data);
          outBytes += chunk.data.length;
        }
      }
      const exitCode = await handle.wait();
      if (exitCode !== 0) throw helperError(exitCode, Buffer.concat(err).toString('utf8'));
      return Buffer.concat(out);
    } finally {
      await handle.close();
    }
  }
}
