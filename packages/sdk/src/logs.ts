import type { LogLine } from '@berth/protocol';
import type { HttpClient, QueryValue, RequestOptions } from './client.js';
import { BerthError, ConnectionError } from './errors.js';
import { readNdjson } from './ndjson.js';

export interface LogsOptions extends RequestOptions {
  /** Only the last N lines (default: all). */
  tail?: number;
  /** Add each line's engine time (`time`, RFC 3339 with nanoseconds). */
  timestamps?: boolean;
  /** Only lines since this time (a Date, or Unix seconds). */
  since?: Date | number;
  /**
   * Keep streaming new lines until the workspace's process stops or `signal` aborts. The deadline
   * (`timeoutMs`) then covers only the start of the response.
   */
  follow?: boolean;
  /** Called for every line as it arrives (required with `follow`). */
  onLine?: (line: LogLine) => void;
}

export type FollowLogsOptions = LogsOptions & { follow: true; onLine: (line: LogLine) => void };

/** The query of `GET …/logs`. */
export function logsQuery(options: LogsOptions): Record<string, QueryValue> {
  const since = options.since instanceof Date ? Math.floor(options.since.getTime() / 1000) : options.since;
  return {
    tail: options.tail,
    timestamps: options.timestamps,
    since,
    follow: options.follow === true ? true : undefined,
  };
}

/**
 * The workspace's output lines as they come (`follow: true`), or all of them; stops (and cancels the
 * response) when the loop breaks. The deadline covers the start of the response, `signal` all of it.
 */
export async function* streamLogs(
  http: HttpClient,
  workspace: string,
  options: LogsOptions = {},
): AsyncGenerator<LogLine> {
  const body = await http.callRaw(
    'logs',
    {
      params: { id: workspace },
      query: logsQuery(options),
      headers: { accept: 'application/x-ndjson' },
      timeoutMs: options.timeoutMs,
      signal: options.signal,
      deadlineCovers: 'headers',
    },
    (response) => Promise.resolve(response.body),
  );
  if (body === null) return;
  try {
    yield* readNdjson<LogLine>(body);
  } catch (err) {
    throw streamError(err, workspace, options.signal);
  }
}

/** `ws.logs()` without `follow`: every line (also passed to `onLine`), within the deadline. */
export async function readLogs(
  http: HttpClient,
  workspace: string,
  options: LogsOptions,
): Promise<LogLine[]> {
  return http.callRaw(
    'logs',
    {
      params: { id: workspace },
      query: logsQuery({ ...options, follow: false }),
      headers: { accept: 'application/x-ndjson' },
      timeoutMs: options.timeoutMs,
      signal: options.signal,
    },
    async (response) => {
      const lines: LogLine[] = [];
      if (response.body === null) return lines;
      for await (const line of readNdjson<LogLine>(response.body)) {
        lines.push(line);
        options.onLine?.(line);
      }
      return lines;
    },
  );
}

/** `ws.logs({ follow: true, onLine })`: resolves when the stream ends (the workspace stopped). */
export async function followLogs(
  http: HttpClient,
  workspace: string,
  options: FollowLogsOptions,
): Promise<void> {
  for await (const line of streamLogs(http, workspace, options)) options.onLine(line);
}

function streamError(err: unknown, workspace: string, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted) return signal.reason;
  if (err instanceof BerthError) return err;
  return new ConnectionError({
    code: 'connection_failed',
    message: `the log stream of workspace ${workspace} broke off`,
    cause: err,
  });
}
