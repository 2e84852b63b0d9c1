import { ERROR_CODES, type ErrorCode } from '@berth/protocol';

/**
 * The one application error. `code` is a stable code from the protocol registry; the HTTP status
 * comes from the registry, so a code always maps to the same status. Messages say how to fix it.
 */
export class AppError extends Error {
  override readonly name: string = 'AppError';
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.details = options.details;
  }
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}

/** Message of any thrown value, for logs (never for 5xx bodies). */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
