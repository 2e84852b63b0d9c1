import type { LogLine, Preview } from '@berth/protocol';
import type { HttpClient, RequestOptions } from './client.js';
import { Commands } from './commands.js';
import { Files } from './files.js';
import { followLogs, readLogs, streamLogs, type FollowLogsOptions, type LogsOptions } from './logs.js';
import { Pty } from './pty.js';
import { WorkspaceSecrets } from './secrets.js';

export interface PreviewOptions extends RequestOptions {
  /** Lifetime of the preview token in ms, at least 1000 (default and cap: the server's maximum, 24 h). */
  ttlMs?: number;
}

/** A preview of a port: `url` opens it in a browser without an API token, until `expiresAt`. */
export interface PreviewUrl extends Preview {
  /** Absolute URL: the Berth URL plus `path`. */
  url: string;
}

/**
 * Working inside a workspace: commands, terminals, files, logs and port previews. Every `Workspace`
 * handle has these members; `berth.workspaces.ref(idOrName)` gives them for an id or name without
 * fetching the workspace first.
 */
export class WorkspaceRef {
  /** The id (`ws_…`) or name this refers to. */
  readonly id: string;
  /** Run commands: `run`, `start`, `connect`, `list`, `kill`. */
  readonly commands: Commands;
  /** Interactive terminals: `create`, `connect`, `list`, `kill`. */
  readonly pty: Pty;
  /** Files under `/workspace` and `/configs`. */
  readonly files: Files;
  /** The workspace's own secrets: `put`, `list`, `delete` (write-only values). */
  readonly secrets: WorkspaceSecrets;
  readonly #http: HttpClient;

  /** @internal */
  constructor(http: HttpClient, idOrName: string) {
    this.#http = http;
    this.id = idOrName;
    this.commands = new Commands(http, idOrName);
    this.pty = new Pty(http, idOrName);
    this.files = new Files(http, idOrName);
    this.secrets = new WorkspaceSecrets(http, idOrName);
  }

  /**
   * The workspace process's output (`stdout`/`stderr` lines). Without `follow`: every line (or the
   * last `tail`), as an array. With `follow: true`: calls `onLine` for each line as it comes and
   * resolves when the workspace stops; aborting `signal` ends it (rejecting with the signal's reason).
   */
  logs(options: FollowLogsOptions): Promise<void>;
  logs(options?: LogsOptions & { follow?: false }): Promise<LogLine[]>;
  logs(options?: LogsOptions): Promise<LogLine[] | void>;
  logs(options: LogsOptions = {}): Promise<LogLine[] | void> {
    if (options.follow === true) {
      const onLine = options.onLine ?? (() => undefined);
      return followLogs(this.#http, this.id, { ...options, follow: true, onLine });
    }
    return readLogs(this.#http, this.id, options);
  }

  /** The same lines as an async iterator: `for await (const line of ws.logLines({ follow: true }))`. */
  logLines(options: LogsOptions = {}): AsyncGenerator<LogLine> {
    return streamLogs(this.#http, this.id, options);
  }

  /**
   * A URL that opens a declared port in a browser through Berth's proxy, without an API token:
   * opening it once trades the token for an HttpOnly cookie scoped to that port. Programs can use
   * `/v1/workspaces/{id}/ports/{port}/` with the bearer token instead.
   */
  async getPreviewUrl(port: number, options: PreviewOptions = {}): Promise<PreviewUrl> {
    const { body } = await this.#http.call<Preview>('createPreview', {
      params: { id: this.id },
      body: options.ttlMs === undefined ? { port } : { port, ttlMs: options.ttlMs },
      timeoutMs: options.timeoutMs,
      signal: options.signal,
    });
    return { ...body, url: `${this.#http.url}${body.path}` };
  }
}
