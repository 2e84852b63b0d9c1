import type {
  DesiredState,
  EgressUpdate,
  LogLine,
  Endpoint,
  PortSpec,
  Progress,
  Resources,
  Tier,
  WorkspaceAccess,
  Workspace as WorkspaceData,
  WorkspaceError,
  WorkspaceEvent,
  WorkspaceStats,
  WorkspaceStatus,
} from '@berth/protocol';
import type { RequestOptions } from './client.js';
import type { Commands } from './commands.js';
import type { EventStreamOptions } from './events.js';
import type { Files } from './files.js';
import type { PreviewOptions, PreviewUrl, WorkspaceRef } from './inside.js';
import type { WorkspaceSecrets } from './secrets.js';
import type { FollowLogsOptions, LogsOptions } from './logs.js';
import type { Pty } from './pty.js';

/** Options of operations that can wait for the engine (`wait` defaults to true). */
export interface WaitOptions extends RequestOptions {
  /** Wait until the operation finished (default true); false returns at once. */
  wait?: boolean;
}

export interface EventsOptions extends RequestOptions {
  /** Return events with an id greater than this (default 0: from the beginning). */
  after?: number;
  /** Page size. */
  limit?: number;
}

/** A page of workspace events; pass `nextCursor` as `after` for the next one (null: last page). */
export interface EventsPage {
  items: WorkspaceEvent[];
  nextCursor: number | null;
}

export type LifecycleAction = 'stop' | 'start' | 'restart';

/**
 * What a handle needs from the collection. Internal: handles come from `berth.workspaces`.
 * @internal
 */
export interface WorkspaceOps {
  fetch(id: string, options: RequestOptions): Promise<WorkspaceData>;
  lifecycle(action: LifecycleAction, id: string, options: WaitOptions): Promise<WorkspaceData>;
  keepalive(id: string, options: RequestOptions): Promise<WorkspaceData>;
  stats(id: string, options: RequestOptions): Promise<WorkspaceStats>;
  updateEgress(id: string, update: EgressUpdate, options: RequestOptions): Promise<WorkspaceData>;
  remove(id: string, options: WaitOptions): Promise<WorkspaceData | undefined>;
  events(id: string, options: EventsOptions): Promise<EventsPage>;
  streamEvents(id: string, options: EventStreamOptions): AsyncGenerator<WorkspaceEvent, void, undefined>;
  /** Commands, terminals, files, logs and previews of a workspace. */
  inside(id: string): WorkspaceRef;
}

/**
 * A workspace handle: the last data the server returned (read-only fields) plus methods that act on
 * it and refresh the data. `await using ws = await berth.workspaces.create(...)` deletes it at the end
 * of the scope.
 */
export class Workspace implements AsyncDisposable {
  #data: WorkspaceData;
  readonly #ops: WorkspaceOps;
  #deleting: Promise<void> | undefined;
  #deleted = false;
  #inside: WorkspaceRef | undefined;

  /** @internal Handles come from `berth.workspaces.create/get/list`. */
  constructor(ops: WorkspaceOps, data: WorkspaceData) {
    this.#ops = ops;
    this.#data = data;
  }

  /** The raw `Workspace` document as last returned by the server. */
  get data(): Readonly<WorkspaceData> {
    return this.#data;
  }
  get id(): string {
    return this.#data.id;
  }
  get name(): string {
    return this.#data.name;
  }
  get owner(): string {
    return this.#data.owner;
  }
  get runtime(): string {
    return this.#data.runtime;
  }
  get image(): string {
    return this.#data.image;
  }
  get tier(): Tier {
    return this.#data.tier;
  }
  get engineRuntime(): string | null {
    return this.#data.engineRuntime;
  }
  get status(): WorkspaceStatus {
    return this.#data.status;
  }
  get desiredState(): DesiredState {
    return this.#data.desiredState;
  }
  get error(): Readonly<WorkspaceError> | null {
    return this.#data.error;
  }
  get env(): Readonly<Record<string, string>> {
    return this.#data.env;
  }
  /** How `/workspace` is provided: an isolated volume (`hostPath` null) or a host directory. */
  get workspace(): Readonly<{ access: WorkspaceAccess; hostPath: string | null }> {
    return this.#data.workspace;
  }
  get ports(): readonly PortSpec[] {
    return this.#data.ports;
  }
  get endpoints(): readonly Endpoint[] {
    return this.#data.endpoints;
  }
  get resources(): Readonly<Resources> {
    return this.#data.resources;
  }
  get labels(): Readonly<Record<string, string>> {
    return this.#data.labels;
  }
  /**
   * Paths (relative to `/configs`) of the `files` written at create (`data.files`); the contents are
   * not echoed. `ws.files` is the file API.
   */
  get configFiles(): readonly string[] {
    return this.#data.files;
  }
  get template(): string | null {
    return this.#data.template;
  }
  get specHash(): string {
    return this.#data.specHash;
  }
  get generation(): number {
    return this.#data.generation;
  }
  get containerId(): string | null {
    return this.#data.containerId;
  }
  get progress(): Readonly<Progress> | null {
    return this.#data.progress;
  }
  get createdAt(): string {
    return this.#data.createdAt;
  }
  get updatedAt(): string {
    return this.#data.updatedAt;
  }
  get statusChangedAt(): string {
    return this.#data.statusChangedAt;
  }

  /** An endpoint by name or container port; without an argument the first (the runtime's agent port). */
  endpoint(nameOrPort?: string | number): Endpoint | undefined {
    if (nameOrPort === undefined) return this.#data.endpoints[0];
    return this.#data.endpoints.find((e) =>
      typeof nameOrPort === 'number' ? e.containerPort === nameOrPort : e.name === nameOrPort,
    );
  }

  get #ref(): WorkspaceRef {
    this.#inside ??= this.#ops.inside(this.id);
    return this.#inside;
  }

  /** Run commands in the workspace: `run`, `start`, `connect`, `list`, `kill` (E2B-style). */
  get commands(): Commands {
    return this.#ref.commands;
  }

  /** Interactive terminals: `create`, `connect`, `list`, `kill`. */
  get pty(): Pty {
    return this.#ref.pty;
  }

  /** Files under `/workspace` and `/configs`: read, write, list, stat, archives, ... */
  get files(): Files {
    return this.#ref.files;
  }

  /** The workspace's own secrets (they win over global ones of the same name there): `put`, `list`, `delete`. */
  get secrets(): WorkspaceSecrets {
    return this.#ref.secrets;
  }

  /**
   * The workspace process's output lines: an array, or with `follow: true` each line to `onLine` as it
   * comes until the workspace stops or `signal` aborts.
   */
  logs(options: FollowLogsOptions): Promise<void>;
  logs(options?: LogsOptions & { follow?: false }): Promise<LogLine[]>;
  logs(options?: LogsOptions): Promise<LogLine[] | void>;
  logs(options: LogsOptions = {}): Promise<LogLine[] | void> {
    return this.#ref.logs(options);
  }

  /** The log lines as an async iterator (`follow: true` keeps it open). */
  logLines(options: LogsOptions = {}): AsyncGenerator<LogLine> {
    return this.#ref.logLines(options);
  }

  /** A browser URL for a declared port (`{ url, path, token, expiresAt }`); see `endpoint()` for direct access. */
  getPreviewUrl(port: number, options: PreviewOptions = {}): Promise<PreviewUrl> {
    return this.#ref.getPreviewUrl(port, options);
  }

  /** Re-reads the workspace from the server. */
  async refresh(options: RequestOptions = {}): Promise<this> {
    this.#data = await this.#ops.fetch(this.id, options);
    return this;
  }

  /** Stops the container; the `/workspace` data is kept. */
  async stop(options: WaitOptions = {}): Promise<this> {
    this.#data = await this.#ops.lifecycle('stop', this.id, options);
    return this;
  }

  /** Starts a stopped workspace; throws `WorkspaceFailedError` when it ends in `failed`. */
  async start(options: WaitOptions = {}): Promise<this> {
    this.#data = await this.#ops.lifecycle('start', this.id, options);
    return this;
  }

  /** Restarts the container; throws `WorkspaceFailedError` when it ends in `failed`. */
  async restart(options: WaitOptions = {}): Promise<this> {
    this.#data = await this.#ops.lifecycle('restart', this.id, options);
    return this;
  }

  /**
   * Records activity so the idle timeout (`idleTimeoutMs`) starts over; `ConflictError`
   * (`invalid_state`) unless the workspace is running. Commands, terminals, log follows and proxied
   * traffic count as activity already.
   */
  async keepalive(options: RequestOptions = {}): Promise<this> {
    this.#data = await this.#ops.keepalive(this.id, options);
    return this;
  }

  /**
   * One sample of its CPU, memory, pids and network use (see `Workspaces.stats`); `ConflictError`
   * (`invalid_state`) unless it is running. Does not count as activity.
   */
  stats(options: RequestOptions = {}): Promise<WorkspaceStats> {
    return this.#ops.stats(this.id, options);
  }

  /** Replaces egress rules and grants in place (see `Workspaces.updateEgress`). */
  async updateEgress(update: EgressUpdate, options: RequestOptions = {}): Promise<this> {
    this.#data = await this.#ops.updateEgress(this.id, update, options);
    return this;
  }

  /**
   * Deletes the workspace. Idempotent and serialised: concurrent calls share one request, and calls
   * after a completed (waited) delete return at once. After a waited delete `status` reads `deleted`.
   */
  delete(options: WaitOptions = {}): Promise<void> {
    if (this.#deleted) return Promise.resolve();
    this.#deleting ??= this.#remove(options).finally(() => {
      this.#deleting = undefined;
    });
    return this.#deleting;
  }

  async #remove(options: WaitOptions): Promise<void> {
    const accepted = await this.#ops.remove(this.id, options);
    if (accepted) {
      this.#data = accepted;
    } else {
      this.#data = { ...this.#data, status: 'deleted', desiredState: 'deleted', progress: null };
      this.#deleted = true;
    }
  }

  /** One page of this workspace's event history. */
  events(options: EventsOptions = {}): Promise<EventsPage> {
    return this.#ops.events(this.id, options);
  }

  /**
   * This workspace's events as they happen (after `after`, default all history), reconnecting by
   * itself; ends after `workspace.deleted`, or when `signal` aborts or the loop breaks.
   */
  streamEvents(options: EventStreamOptions = {}): AsyncGenerator<WorkspaceEvent, void, undefined> {
    return this.#ops.streamEvents(this.id, options);
  }

  /** Deletes the workspace and waits for it to be gone (`await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.delete();
  }

  /** `JSON.stringify(ws)` gives the workspace document. */
  toJSON(): WorkspaceData {
    return this.#data;
  }
}
