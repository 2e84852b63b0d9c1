import type {
  EgressUpdate,
  LogLine,
  Page,
  Progress,
  Workspace as WorkspaceData,
  WorkspaceEvent,
  WorkspaceSpecInput,
  WorkspaceStats,
  WorkspaceStatus,
} from '@berth/protocol';
import { deadline, isTimeoutReason, sleep } from './abort.js';
import { DEFAULT_WAIT_TIMEOUT_MS, type HttpClient, type QueryValue, type RequestOptions } from './client.js';
import { streamEvents, type EventStreamOptions } from './events.js';
import type { FollowLogsOptions, LogsOptions } from './logs.js';
import { TimeoutError, WorkspaceFailedError } from './errors.js';
import { WorkspaceRef } from './inside.js';
import {
  Workspace,
  type EventsOptions,
  type EventsPage,
  type LifecycleAction,
  type WaitOptions,
  type WorkspaceOps,
} from './workspace.js';

export interface CreateOptions extends WaitOptions {
  /** Same key + same body within the server's window returns the first result instead of a new workspace. */
  idempotencyKey?: string;
  /**
   * Called whenever the workspace's `progress` changes while it is provisioning (image pulls and builds,
   * volumes, container start). Setting it makes `create` poll instead of holding one long request.
   */
  onProgress?: (progress: Progress, workspace: WorkspaceData) => void;
  /** Poll interval with `onProgress`, in ms (default 250). */
  pollIntervalMs?: number;
}

export interface ListOptions extends RequestOptions {
  /** Only these statuses. */
  status?: WorkspaceStatus | readonly WorkspaceStatus[];
  /** Only workspaces carrying every one of these labels. */
  labels?: Record<string, string>;
  runtime?: string;
  /** Page size, 1-200 (server default 50). */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

export type ListFilter = Omit<ListOptions, 'cursor'>;

/** Statuses in which a workspace is still on its way to `running`. */
const STARTING_STATUSES: readonly WorkspaceStatus[] = ['provisioning', 'starting'];
const LIFECYCLE_ROUTES = {
  stop: 'stopWorkspace',
  start: 'startWorkspace',
  restart: 'restartWorkspace',
} as const;

/** `berth.workspaces`: create, find, list and operate workspaces. */
export class Workspaces {
  readonly #http: HttpClient;
  readonly #ops: WorkspaceOps;

  constructor(http: HttpClient) {
    this.#http = http;
    this.#ops = {
      fetch: (id, options) => this.#fetch(id, options),
      lifecycle: (action, id, options) => this.#lifecycle(action, id, options),
      keepalive: async (id, options) => (await this.keepalive(id, options)).data,
      stats: (id, options) => this.stats(id, options),
      updateEgress: async (id, update, options) => (await this.updateEgress(id, update, options)).data,
      remove: (id, options) => this.#remove(id, options),
      events: (id, options) => this.events(id, options),
      streamEvents: (id, options) => this.streamEvents(id, options),
      inside: (id) => new WorkspaceRef(http, id),
    };
  }

  /**
   * Commands, terminals, files, logs and previews of a workspace by id or name, without fetching
   * it first (E2B-style by-id access): `berth.workspaces.ref('agent-1').commands.run('ls')`.
   */
  ref(idOrName: string): WorkspaceRef {
    return new WorkspaceRef(this.#http, idOrName);
  }

  /** The workspace process's log lines (see `Workspace.logs`). */
  logs(idOrName: string, options: FollowLogsOptions): Promise<void>;
  logs(idOrName: string, options?: LogsOptions & { follow?: false }): Promise<LogLine[]>;
  logs(idOrName: string, options: LogsOptions = {}): Promise<LogLine[] | void> {
    return this.ref(idOrName).logs(options);
  }

  /**
   * Creates a workspace. By default waits until it is `running` and throws `WorkspaceFailedError` when it
   * ends `failed` (the workspace is kept, so you can inspect or delete it). `wait: false` returns the
   * `provisioning` workspace at once. `timeoutMs` bounds the whole wait (default 10 minutes).
   */
  async create(spec: WorkspaceSpecInput = {}, options: CreateOptions = {}): Promise<Workspace> {
    const headers: Record<string, string> = {};
    if (options.idempotencyKey !== undefined) headers['idempotency-key'] = options.idempotencyKey;
    const call = (wait: boolean, timeoutMs: number | undefined, signal: AbortSignal | undefined) =>
      this.#http.call<WorkspaceData>('createWorkspace', {
        body: spec,
        query: { wait },
        headers,
        timeoutMs,
        signal,
      });

    if (options.wait === false) {
      return this.#handle((await call(false, options.timeoutMs, options.signal)).body);
    }
    const totalMs = options.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS;
    const signal = deadline(totalMs, options.signal);
    // Without onProgress the server holds the request until provisioning ends; with it, poll. Either way
    // follow a workspace that is still on its way (e.g. an idempotent replay of a wait=false create).
    const serverWaits = options.onProgress === undefined;
    const { body } = await call(serverWaits, serverWaits ? totalMs : undefined, signal);
    const settled = await this.#follow(body, totalMs, signal, options);
    if (settled.status === 'failed') throw new WorkspaceFailedError(settled);
    return this.#handle(settled);
  }

  /** A workspace by `ws_…` id or by name; `NotFoundError` when there is none. */
  async get(idOrName: string, options: RequestOptions = {}): Promise<Workspace> {
    return this.#handle(await this.#fetch(idOrName, options));
  }

  /** One page of workspaces, newest first; pass `nextCursor` as `cursor` for the next. */
  async list(options: ListOptions = {}): Promise<Page<Workspace>> {
    const page = (
      await this.#http.call<Page<WorkspaceData>>('listWorkspaces', {
        query: listQuery(options),
        timeoutMs: options.timeoutMs,
        signal: options.signal,
      })
    ).body;
    return { items: page.items.map((data) => this.#handle(data)), nextCursor: page.nextCursor };
  }

  /** Every workspace matching the filter, page by page: `for await (const ws of berth.workspaces.listAll())`. */
  async *listAll(filter: ListFilter = {}): AsyncGenerator<Workspace, void, undefined> {
    let cursor: string | undefined;
    do {
      const page = await this.list({ ...filter, cursor });
      yield* page.items;
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
  }

  /** Stops the container (data in `/workspace` is kept). */
  async stop(idOrName: string, options: WaitOptions = {}): Promise<Workspace> {
    return this.#handle(await this.#lifecycle('stop', idOrName, options));
  }

  /** Starts a stopped workspace; `WorkspaceFailedError` when it ends `failed`. */
  async start(idOrName: string, options: WaitOptions = {}): Promise<Workspace> {
    return this.#handle(await this.#lifecycle('start', idOrName, options));
  }

  /** Restarts the container; `WorkspaceFailedError` when it ends `failed`. */
  async restart(idOrName: string, options: WaitOptions = {}): Promise<Workspace> {
    return this.#handle(await this.#lifecycle('restart', idOrName, options));
  }

  /** Records activity on a running workspace: its idle timeout starts over (see `Workspace.keepalive`). */
  async keepalive(idOrName: string, options: RequestOptions = {}): Promise<Workspace> {
    const { body } = await this.#http.call<WorkspaceData>('keepaliveWorkspace', {
      params: { id: idOrName },
      timeoutMs: options.timeoutMs,
      signal: options.signal,
    });
    return this.#handle(body);
  }

  /**
   * One sample of a running workspace's CPU, memory, pids and network use, measured by the engine
   * over about a second. `ConflictError` (`invalid_state`) unless it is running. Not activity.
   */
  async stats(idOrName: string, options: RequestOptions = {}): Promise<WorkspaceStats> {
    const { body } = await this.#http.call<WorkspaceStats>('workspaceStats', {
      params: { id: idOrName },
      timeoutMs: options.timeoutMs,
      signal: options.signal,
    });
    return body;
  }

  /**
   * Changes a workspace's egress rules and grants in place (`allow`, `deny`, `grants` replace the
   * current lists); the egress gateway applies them to the next connection. `mode` is fixed at create.
   */
  async updateEgress(
    idOrName: string,
    update: EgressUpdate,
    options: RequestOptions = {},
  ): Promise<Workspace> {
    const { body } = await this.#http.call<WorkspaceData>('updateEgress', {
      params: { id: idOrName },
      body: update,
      timeoutMs: options.timeoutMs,
      signal: options.signal,
    });
    return this.#handle(body);
  }

  /** Deletes a workspace with its container and volumes. Idempotent: unknown or gone is success. */
  async delete(idOrName: string, options: WaitOptions = {}): Promise<void> {
    await this.#remove(idOrName, options);
  }

  /** One page of a workspace's events (status changes, progress, errors), oldest first. */
  async events(idOrName: string, options: EventsOptions = {}): Promise<EventsPage> {
    const page = (
      await this.#http.call<{ items: WorkspaceEvent[]; nextCursor: number | string | null }>(
        'listWorkspaceEvents',
        {
          params: { id: idOrName },
          query: { after: options.after, limit: options.limit },
          timeoutMs: options.timeoutMs,
          signal: options.signal,
        },
      )
    ).body;
    return { items: page.items, nextCursor: normaliseEventCursor(page.nextCursor) };
  }

  /**
   * A workspace's events as they happen: every event after `after` (default all history), then new
   * ones, over Server-Sent Events. Reconnects by itself after network errors and server restarts
   * without skipping or repeating events; ends after the workspace's `workspace.deleted` event, or
   * when `signal` aborts or the loop breaks. `NotFoundError` when the workspace is not (or no longer)
   * there when a connection starts.
   */
  streamEvents(
    idOrName: string,
    options: EventStreamOptions = {},
  ): AsyncGenerator<WorkspaceEvent, void, undefined> {
    return streamEvents(
      this.#http,
      { route: 'listWorkspaceEvents', workspace: idOrName },
      { ...options, untilDeleted: true },
    );
  }

  /** Every event after `after`, page by page. */
  async *allEvents(
    idOrName: string,
    options: EventsOptions = {},
  ): AsyncGenerator<WorkspaceEvent, void, undefined> {
    let after = options.after;
    for (;;) {
      const page = await this.events(idOrName, { ...options, after });
      yield* page.items;
      if (page.nextCursor === null || page.items.length === 0) return;
      after = page.nextCursor;
    }
  }

  #handle(data: WorkspaceData): Workspace {
    return new Workspace(this.#ops, data);
  }

  async #fetch(idOrName: string, options: RequestOptions): Promise<WorkspaceData> {
    const { body } = await this.#http.call<WorkspaceData>('getWorkspace', {
      params: { id: idOrName },
      timeoutMs: options.timeoutMs,
      signal: options.signal,
    });
    return body;
  }

  async #lifecycle(action: LifecycleAction, idOrName: string, options: WaitOptions): Promise<WorkspaceData> {
    const wait = options.wait !== false;
    const { body } = await this.#http.call<WorkspaceData>(LIFECYCLE_ROUTES[action], {
      params: { id: idOrName },
      query: { wait },
      timeoutMs: options.timeoutMs ?? (wait ? DEFAULT_WAIT_TIMEOUT_MS : undefined),
      signal: options.signal,
    });
    if (wait && action !== 'stop' && body.status === 'failed') throw new WorkspaceFailedError(body);
    return body;
  }

  /** The `deleting` workspace for `wait: false` (202), undefined when the delete is complete (204). */
  async #remove(idOrName: string, options: WaitOptions): Promise<WorkspaceData | undefined> {
    const wait = options.wait !== false;
    const { status, body } = await this.#http.call<WorkspaceData | undefined>('deleteWorkspace', {
      params: { id: idOrName },
      query: { wait },
      timeoutMs: options.timeoutMs ?? (wait ? DEFAULT_WAIT_TIMEOUT_MS : undefined),
      signal: options.signal,
    });
    return status === 202 ? body : undefined;
  }

  /** Polls a provisioning workspace until it leaves `provisioning`/`starting`, reporting progress. */
  async #follow(
    first: WorkspaceData,
    totalMs: number,
    signal: AbortSignal | undefined,
    options: CreateOptions,
  ): Promise<WorkspaceData> {
    const pollIntervalMs = options.pollIntervalMs ?? 250;
    let current = first;
    let lastProgress = '';
    const report = (ws: WorkspaceData): void => {
      if (ws.progress === null || options.onProgress === undefined) return;
      const key = JSON.stringify(ws.progress);
      if (key === lastProgress) return;
      lastProgress = key;
      options.onProgress(ws.progress, ws);
    };
    report(current);
    try {
      while (STARTING_STATUSES.includes(current.status)) {
        await sleep(pollIntervalMs, signal);
        current = await this.#fetch(current.id, { signal });
        report(current);
      }
      return current;
    } catch (err) {
      if (signal?.aborted && isTimeoutReason(signal.reason)) {
        throw new TimeoutError({
          code: 'timeout',
          message:
            `workspace ${current.name} (${current.id}) was still ${current.status} after ${totalMs}ms; ` +
            'the server keeps working on it: poll it with get() or delete it',
          details: { workspaceId: current.id },
          cause: err,
        });
      }
      if (signal?.aborted) throw signal.reason;
      throw err;
    }
  }
}

/** The query of `GET /v1/workspaces`. */
export function listQuery(options: ListOptions): Record<string, QueryValue> {
  const status = typeof options.status === 'string' ? [options.status] : options.status;
  return {
    status: status && status.length > 0 ? status.join(',') : undefined,
    label: options.labels ? Object.entries(options.labels).map(([k, v]) => `${k}=${v}`) : undefined,
    runtime: options.runtime,
    limit: options.limit,
    cursor: options.cursor,
  };
}

function normaliseEventCursor(cursor: number | string | null | undefined): number | null {
  if (cursor === null || cursor === undefined || cursor === '') return null;
  const n = typeof cursor === 'number' ? cursor : Number(cursor);
  return Number.isFinite(n) ? n : null;
}
