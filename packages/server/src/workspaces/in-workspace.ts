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
  const line = stderr.trim().split('\n').pop() ?? '';
  let parsed: { error?: string; message?: string } = {};
  try {
    parsed = JSON.parse(line) as typeof parsed;
  } catch {
    // not the helper's JSON: fall through to internal
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

  /** Starts a process in the running workspace. */
  async exec(ws: WorkspaceRecord, spec: ProcessSpec, options: { stdin: boolean }): Promise<ProcessHandle> {
    const container = await this.deps.provisioner.findContainer(ws);
    if (!container?.running) {
      throw new AppError('invalid_state', `workspace ${ws.name} is ${ws.status}; start it to run commands`);
    }
    return this.deps.engine.containers.execProcess(container.id, { user: this.userOf(ws), ...spec }, options);
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
    const tools = await this.deps.tools.ensure();
    const mounts = this.deps.provisioner
      .plan(ws, true, tools)
      .container.mounts.map((m) => (m.type === 'volume' ? { ...m, noCopy: true } : m));
    const plan = helperContainerPlan({
      name: `${resourceNames(ws.id).container}-files-${randomBytes(4).toString('hex')}`,
      image: this.deps.catalogue.shellImage,
      user: this.userOf(ws),
      cmd,
      mounts,
      labels: ownedLabels(
        { workspaceId: ws.id, name: ws.name, specHash: ws.specHash, generation: ws.generation },
        'helper',
        this.deps.extraLabels,
      ),
      seccompProfile: this.deps.seccompProfile(),
    });
    return this.deps.engine.containers.runProcess(plan, options);
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
