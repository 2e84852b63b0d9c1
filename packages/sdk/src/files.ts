import type { FileInfo, FileRoot, UploadSummary } from '@berth/protocol';
import { DEFAULT_WAIT_TIMEOUT_MS, type HttpClient, type RawBody, type RequestOptions } from './client.js';
import { BerthError, NotFoundError, ValidationError } from './errors.js';

export interface FileOptions extends RequestOptions {
  /**
   * What `path` is relative to: `workspace` (`/workspace`, default) or `configs` (`/configs`). An
   * absolute path under `/workspace` or `/configs` picks its root by itself.
   */
  root?: FileRoot;
}

export type ReadFormat = 'text' | 'bytes' | 'stream';

export interface ReadOptions extends FileOptions {
  /**
   * `text` (UTF-8, default), `bytes` (`Uint8Array`) or `stream` (`ReadableStream<Uint8Array>`; the
   * deadline then covers only the response headers, the `signal` the whole transfer).
   */
  format?: ReadFormat;
}

export interface WriteOptions extends FileOptions {
  /** Permission bits: a number (`0o600`) or octal text (`'600'`); default 0644. */
  mode?: number | string;
  /** Create missing parent directories (default true). */
  parents?: boolean;
}

export interface ListOptions extends FileOptions {
  /** 1 = direct children (default); deeper lists depth-first, directories before their contents. */
  depth?: number;
  /** Most entries returned (server default 1000); `truncated` says when more exist. */
  limit?: number;
}

export interface StatOptions extends FileOptions {
  /** Follow a final symlink (default false: describe the link itself). */
  follow?: boolean;
}

export interface MakeDirOptions extends FileOptions {
  /** Permission bits (default 0o755). */
  mode?: number;
  /** Create missing parents, and succeed when it exists (default true). */
  parents?: boolean;
}

export interface RenameOptions extends FileOptions {
  /** Replace an existing target (default false: `ConflictError` `file_exists`). */
  overwrite?: boolean;
}

export interface RemoveOptions extends FileOptions {
  /** Remove a non-empty directory with its contents (default false: `directory_not_empty`). */
  recursive?: boolean;
}

export interface DownloadArchiveOptions extends FileOptions {
  /** `stream` (default) or `bytes`. */
  format?: 'stream' | 'bytes';
}

export interface UploadArchiveOptions extends FileOptions {
  /** The data is a gzip-compressed tar (`.tar.gz`). */
  gzip?: boolean;
}

/** Entries of a directory listing; `truncated` is true when the limit cut it short. */
export type FileList = FileInfo[] & { truncated: boolean };

/** What file content may be: text (UTF-8), bytes, a Blob or a byte stream. */
export type FileData = RawBody;

/**
 * Splits a user's path into the API's `root` and relative `path`: `/workspace/a` → workspace `a`,
 * `/configs/b` → configs `b`, `a/b` → `root` (default workspace). Other absolute paths are refused.
 */
export function resolveFilePath(path: string, root?: FileRoot): { root: FileRoot; path: string } {
  if (!path.startsWith('/')) return { root: root ?? 'workspace', path: stripDotSlash(path) };
  const match = /^\/(workspace|configs)(?:\/+(.*))?$/.exec(path);
  if (match === null) {
    throw new ValidationError({
      code: 'invalid_path',
      message: `${JSON.stringify(path)} is outside the workspace: give a path relative to /workspace, or under /workspace or /configs`,
    });
  }
  const implied = match[1] as FileRoot;
  if (root !== undefined && root !== implied) {
    throw new ValidationError({
      code: 'invalid_path',
      message: `${JSON.stringify(path)} is under /${implied}, but root ${root} was asked for`,
    });
  }
  return { root: implied, path: match[2] ?? '' };
}

function stripDotSlash(path: string): string {
  let p = path;
  while (p.startsWith('./')) p = p.slice(2);
  return p === '.' ? '' : p;
}

/** `0o644` → `'644'`; octal text passes through. */
export function octalMode(mode: number | string): string {
  if (typeof mode === 'string') return mode;
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
    throw new ValidationError({
      code: 'validation_failed',
      message: `mode ${mode} is not a permission mode`,
    });
  }
  return mode.toString(8).padStart(3, '0');
}

/** `ws.files`: files under `/workspace` and `/configs`, read and written as the workspace user. */
export class Files {
  readonly #http: HttpClient;
  readonly #workspace: string;

  /** @internal */
  constructor(http: HttpClient, workspace: string) {
    this.#http = http;
    this.#workspace = workspace;
  }

  /** A file's content: text (default), bytes or a stream. `NotFoundError` (`file_not_found`) if absent. */
  read(path: string, options?: ReadOptions & { format?: 'text' }): Promise<string>;
  read(path: string, options: ReadOptions & { format: 'bytes' }): Promise<Uint8Array>;
  read(path: string, options: ReadOptions & { format: 'stream' }): Promise<ReadableStream<Uint8Array>>;
  read(path: string, options?: ReadOptions): Promise<string | Uint8Array | ReadableStream<Uint8Array>>;
  async read(
    path: string,
    options: ReadOptions = {},
  ): Promise<string | Uint8Array | ReadableStream<Uint8Array>> {
    const format = options.format ?? 'text';
    return this.#http.callRaw(
      'readFile',
      {
        params: { id: this.#workspace },
        query: resolveFilePath(path, options.root),
        headers: { accept: 'application/octet-stream' },
        timeoutMs: this.#transferTimeout(options, format === 'stream'),
        signal: options.signal,
        deadlineCovers: format === 'stream' ? 'headers' : 'all',
      },
      async (response) => {
        if (format === 'stream') return bodyOf(response);
        const bytes = new Uint8Array(await response.arrayBuffer());
        return format === 'bytes' ? bytes : new TextDecoder().decode(bytes);
      },
    );
  }

  /**
   * Writes a file atomically (readers never see a partial file), creating parents by default. Streams
   * need a runtime that can upload a `ReadableStream` body (Node.js; in browsers prefer a Blob).
   */
  async write(path: string, data: FileData, options: WriteOptions = {}): Promise<FileInfo> {
    const target = resolveFilePath(path, options.root);
    return this.#http.callRaw(
      'writeFile',
      {
        params: { id: this.#workspace },
        query: {
          ...target,
          mode: options.mode === undefined ? undefined : octalMode(options.mode),
          parents: options.parents,
        },
        rawBody: typeof data === 'string' ? new TextEncoder().encode(data) : data,
        contentType: 'application/octet-stream',
        headers: { accept: 'application/json' },
        timeoutMs: this.#transferTimeout(options, false),
        signal: options.signal,
      },
      (response) => json<FileInfo>(response),
    );
  }

  /** Entries under a directory (default: the root), direct children unless `depth` says more. */
  async list(path = '', options: ListOptions = {}): Promise<FileList> {
    const { body } = await this.#http.call<{ items: FileInfo[]; truncated: boolean }>('listFiles', {
      params: { id: this.#workspace },
      query: { ...resolveFilePath(path, options.root), depth: options.depth, limit: options.limit },
      timeoutMs: options.timeoutMs,
      signal: options.signal,
    });
    return Object.assign(body.items, { truncated: body.truncated });
  }

  /** Describes one file, directory or symlink. */
  async getInfo(path: string, options: StatOptions = {}): Promise<FileInfo> {
    const { body } = await this.#http.call<FileInfo>('statFile', {
      params: { id: this.#workspace },
      query: { ...resolveFilePath(path, options.root), follow: options.follow },
      timeoutMs: options.timeoutMs,
      signal: options.signal,
    });
    return body;
  }

  /** Same as `getInfo`. */
  stat(path: string, options: StatOptions = {}): Promise<FileInfo> {
    return this.getInfo(path, options);
  }

  /** Whether something exists at `path` (a symlink counts, even a dangling one). */
  async exists(path: string, options: FileOptions = {}): Promise<boolean> {
    try {
      await this.getInfo(path, options);
      return true;
    } catch (err) {
      if (err instanceof NotFoundError && err.code === 'file_not_found') return false;
      throw err;
    }
  }

  /** Creates a directory (with parents by default) and describes it. */
  async makeDir(path: string, options: MakeDirOptions = {}): Promise<FileInfo> {
    const { body } = await this.#http.call<FileInfo>('makeDir', {
      params: { id: this.#workspace },
      body: { ...resolveFilePath(path, options.root), mode: options.mode, parents: options.parents },
      timeoutMs: options.timeoutMs,
      signal: options.signal,
    });
    return body;
  }

  /** Moves or renames within one root; describes the target. */
  async rename(from: string, to: string, options: RenameOptions = {}): Promise<FileInfo> {
    const source = resolveFilePath(from, options.root);
    const target = resolveFilePath(to, options.root ?? source.root);
    if (source.root !== target.root) {
      throw new ValidationError({
        code: 'invalid_path',
        message: `cannot move between /${source.root} and /${target.root}; copy and remove instead`,
      });
    }
    const { body } = await this.#http.call<FileInfo>('moveFile', {
      params: { id: this.#workspace },
      body: { root: source.root, from: source.path, to: target.path, overwrite: options.overwrite },
      timeoutMs: options.timeoutMs,
      signal: options.signal,
    });
    return body;
  }

  /** Removes a file, a symlink (never its target) or a directory (`recursive` when not empty). */
  async remove(path: string, options: RemoveOptions = {}): Promise<void> {
    await this.#http.call('removeFile', {
      params: { id: this.#workspace },
      query: { ...resolveFilePath(path, options.root), recursive: options.recursive },
      timeoutMs: options.timeoutMs,
      signal: options.signal,
    });
  }

  /**
   * A tar of a file or directory (its basename is the top entry; symlinks stay links): a stream by
   * default (the deadline covers the response headers, the `signal` the whole transfer), or bytes.
   */
  downloadArchive(
    path: string,
    options?: DownloadArchiveOptions & { format?: 'stream' },
  ): Promise<ReadableStream<Uint8Array>>;
  downloadArchive(path: string, options: DownloadArchiveOptions & { format: 'bytes' }): Promise<Uint8Array>;
  downloadArchive(
    path: string,
    options?: DownloadArchiveOptions,
  ): Promise<ReadableStream<Uint8Array> | Uint8Array>;
  async downloadArchive(
    path: string,
    options: DownloadArchiveOptions = {},
  ): Promise<ReadableStream<Uint8Array> | Uint8Array> {
    const stream = (options.format ?? 'stream') === 'stream';
    return this.#http.callRaw(
      'downloadArchive',
      {
        params: { id: this.#workspace },
        query: resolveFilePath(path, options.root),
        headers: { accept: 'application/x-tar' },
        timeoutMs: this.#transferTimeout(options, stream),
        signal: options.signal,
        deadlineCovers: stream ? 'headers' : 'all',
      },
      async (response) => (stream ? bodyOf(response) : new Uint8Array(await response.arrayBuffer())),
    );
  }

  /**
   * Extracts a tar (or, with `gzip`, a .tar.gz) under a directory, created when missing. The server
   * checks the whole archive first: a refused entry (`..`, absolute, links out, devices, ...) fails
   * with `invalid_archive` and changes nothing.
   */
  async uploadArchive(
    path: string,
    data: FileData,
    options: UploadArchiveOptions = {},
  ): Promise<UploadSummary> {
    return this.#http.callRaw(
      'uploadArchive',
      {
        params: { id: this.#workspace },
        query: resolveFilePath(path, options.root),
        rawBody: data,
        contentType: options.gzip === true ? 'application/gzip' : 'application/x-tar',
        headers: { accept: 'application/json' },
        timeoutMs: this.#transferTimeout(options, false),
        signal: options.signal,
      },
      (response) => json<UploadSummary>(response),
    );
  }

  /** Transfers may take long: 10 minutes by default, or the client's deadline for stream headers. */
  #transferTimeout(options: RequestOptions, headersOnly: boolean): number {
    return options.timeoutMs ?? (headersOnly ? this.#http.timeoutMs : DEFAULT_WAIT_TIMEOUT_MS);
  }
}

function bodyOf(response: Response): ReadableStream<Uint8Array> {
  return response.body ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() });
}

async function json<T>(response: Response): Promise<T> {
  const text = await response.text();
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new BerthError({
      code: 'invalid_response',
      message: `the server answered HTTP ${response.status} with a body that is not JSON`,
      status: response.status,
      cause: err,
    });
  }
}
