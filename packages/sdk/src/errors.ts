import {
  ERROR_CODES,
  type ErrorCode,
  type ExecResult,
  type Workspace as WorkspaceData,
} from '@berth/protocol';

/**
 * Codes the SDK itself produces, besides the server's `ERROR_CODES`: the request timed out on the
 * client, the server could not be reached (or a stream broke off), the server answered something that
 * is not the API, the client was configured with an unusable URL, no WebSocket implementation exists,
 * a command exited non-zero (`CommandExitError`), or the caller disconnected a handle it then waited
 * on. Unknown server codes pass through as plain strings.
 */
export type ClientErrorCode =
  | 'timeout'
  | 'connection_failed'
  | 'invalid_response'
  | 'invalid_url'
  | 'websocket_unavailable'
  | 'command_exit'
  | 'disconnected';
export type BerthErrorCode = ErrorCode | ClientErrorCode | (string & Record<never, never>);

export interface BerthErrorInit {
  code: BerthErrorCode;
  message: string;
  /** HTTP status of the response, when there was one. */
  status?: number;
  requestId?: string;
  details?: Record<string, unknown>;
  cause?: unknown;
}

/** Base class of every error the SDK throws (except a caller's own `AbortSignal` reason). */
export class BerthError extends Error {
  override readonly name: string = 'BerthError';
  readonly code: BerthErrorCode;
  readonly status: number | undefined;
  readonly requestId: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(init: BerthErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.status = init.status;
    this.requestId = init.requestId;
    this.details = init.details;
  }
}

/** 400, 413, 415, 422: the request itself was refused (`details.issues` lists schema problems). */
export class ValidationError extends BerthError {
  override readonly name = 'ValidationError';
}
/** 401: no token or an invalid one. */
export class AuthenticationError extends BerthError {
  override readonly name = 'AuthenticationError';
}
/** 403: the token's scope does not allow this. */
export class PermissionError extends BerthError {
  override readonly name = 'PermissionError';
}
/** 404: no such workspace, token or route. */
export class NotFoundError extends BerthError {
  override readonly name = 'NotFoundError';
}
/** 409: a name conflict or an operation the workspace's status does not allow. */
export class ConflictError extends BerthError {
  override readonly name = 'ConflictError';
}
/** 5xx: the server or its container engine failed. */
export class ServerError extends BerthError {
  override readonly name = 'ServerError';
}
/** The client-side deadline (`timeoutMs`) passed before the server answered or the wait ended. */
export class TimeoutError extends BerthError {
  override readonly name = 'TimeoutError';
}
/** The server could not be reached at all (refused, DNS, reset). */
export class ConnectionError extends BerthError {
  override readonly name = 'ConnectionError';
}

/**
 * A workspace ended in status `failed` (create or start). `code` is the workspace's error code;
 * the workspace still exists, so the caller may inspect or delete it.
 */
export class WorkspaceFailedError extends BerthError {
  override readonly name = 'WorkspaceFailedError';
  readonly workspace: WorkspaceData;

  constructor(workspace: WorkspaceData) {
    const error = workspace.error ?? { code: 'internal', message: 'no error recorded' };
    super({
      code: error.code,
      message: `workspace ${workspace.name} (${workspace.id}) failed: ${error.message}`,
      details: { workspaceId: workspace.id },
    });
    this.workspace = workspace;
  }
}

/**
 * A command exited with a non-zero code (or was killed by its timeout: `timedOut`). Thrown by
 * `commands.run()` and `CommandHandle.wait()` unless `allowNonZeroExit` is set, as E2B's
 * `CommandExitError`; the full result (output included) is in `result`.
 */
export class CommandExitError extends BerthError {
  override readonly name = 'CommandExitError';
  readonly result: ExecResult;

  constructor(result: ExecResult, what = 'command') {
    const why = result.timedOut ? 'timed out and was killed' : `exited with code ${result.exitCode}`;
    const tail = lastLine(result.stderr);
    super({
      code: 'command_exit',
      message: `${what} ${why}${tail === '' ? '' : `: ${tail}`}`,
      details: { exitCode: result.exitCode, timedOut: result.timedOut },
    });
    this.result = result;
  }

  get exitCode(): number {
    return this.result.exitCode;
  }
  get stdout(): string {
    return this.result.stdout;
  }
  get stderr(): string {
    return this.result.stderr;
  }
  get timedOut(): boolean {
    return this.result.timedOut;
  }
}

function lastLine(text: string): string {
  const lines = text.trimEnd().split('\n');
  const line = lines[lines.length - 1] ?? '';
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

/**
 * The error for a code and message that arrived without an HTTP status (a stream's
 * `{"type":"error"}` message): the status comes from the code registry, else from the close code.
 */
export function errorFromCode(code: string, message: string, fallbackStatus = 400): BerthError {
  const known = (ERROR_CODES as Record<string, { status: number } | undefined>)[code];
  const status = known?.status ?? fallbackStatus;
  const ErrorClass = errorClassForStatus(status);
  return new ErrorClass({ code, message, status });
}

/** The code the SDK assumes when an error response has no usable JSON body. */
export function defaultCodeForStatus(status: number): BerthErrorCode {
  switch (status) {
    case 400:
      return 'validation_failed';
    case 401:
      return 'unauthenticated';
    case 403:
      return 'forbidden';
    case 404:
      return 'route_not_found';
    case 409:
      return 'invalid_state';
    case 413:
      return 'payload_too_large';
    case 415:
      return 'unsupported_media_type';
    case 503:
      return 'engine_unavailable';
    default:
      return 'internal';
  }
}

/** The error class for an HTTP status. */
export function errorClassForStatus(status: number): typeof BerthError {
  if (status === 401) return AuthenticationError;
  if (status === 403) return PermissionError;
  if (status === 404) return NotFoundError;
  if (status === 409) return ConflictError;
  if (status >= 500) return ServerError;
  if (status >= 400) return ValidationError;
  return BerthError;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export interface DecodeContext {
  /** Whether the request carried a token; a 401 without one gets a hint how to supply it. */
  hadToken?: boolean;
}

/**
 * Turns an error response (status, headers, raw body text) into the matching `BerthError` subclass.
 * Pure, so it is tested on plain values. Bodies that are not an `ErrorBody` (a proxy's HTML page,
 * an empty 502) still give an error with a code derived from the status.
 */
export function decodeError(
  status: number,
  headers: Headers,
  bodyText: string,
  context: DecodeContext = {},
): BerthError {
  let parsed: unknown;
  try {
    parsed = bodyText.length > 0 ? JSON.parse(bodyText) : undefined;
  } catch {
    parsed = undefined;
  }
  const body = isRecord(parsed) ? parsed : {};
  const code =
    typeof body.code === 'string' && body.code.length > 0 ? body.code : defaultCodeForStatus(status);
  let message =
    typeof body.message === 'string' && body.message.length > 0
      ? body.message
      : `HTTP ${status}${bodyText.length > 0 ? `: ${summarise(bodyText)}` : ''}`;
  if (status === 401 && context.hadToken === false) {
    message += ' (no token was sent: set BERTH_TOKEN or pass the `token` option)';
  }
  const requestId =
    typeof body.requestId === 'string' ? body.requestId : (headers.get('x-request-id') ?? undefined);
  const details = isRecord(body.details) ? body.details : undefined;
  const ErrorClass = errorClassForStatus(status);
  return new ErrorClass({ code, message, status, requestId, details });
}

/** Reads the body of an error response and decodes it. */
export async function errorFromResponse(
  response: Response,
  context: DecodeContext = {},
): Promise<BerthError> {
  let text: string;
  try {
    text = await response.text();
  } catch {
    text = '';
  }
  return decodeError(response.status, response.headers, text, context);
}

/** First line of a non-JSON body, trimmed to something that fits in a message. */
function summarise(text: string): string {
  const firstLine = text.trim().split('\n', 1)[0] ?? '';
  return firstLine.length > 200 ? `${firstLine.slice(0, 200)}…` : firstLine;
}
