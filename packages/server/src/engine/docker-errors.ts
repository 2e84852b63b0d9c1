import { AppError, errorMessage } from '../errors.js';

const UNAVAILABLE = new Set([
  'ECONNREFUSED',
  'ENOENT',
  'EACCES',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
]);

export interface EngineErrorShape {
  statusCode?: number;
  code?: string;
  json?: { message?: string } | null;
  reason?: string;
  message?: string;
}

export const engineStatus = (err: unknown): number | undefined =>
  (err as EngineErrorShape | null)?.statusCode;

/** The engine's own message (JSON body `message`), without dockerode's "(HTTP code …)" prefix. */
export function engineMessage(err: unknown): string {
  const e = err as EngineErrorShape | null;
  return e?.json?.message ?? e?.reason ?? errorMessage(err);
}

export function isEngineUnavailable(err: unknown): boolean {
  const e = err as EngineErrorShape | null;
  if (e?.code && UNAVAILABLE.has(e.code)) return true;
  return /socket hang up|timeout|Timeout/.test(errorMessage(err)) && e?.statusCode === undefined;
}

/** Maps an engine failure onto a stable code, naming the action that failed. */
export function toEngineAppError(err: unknown, action: string, endpoint: string): AppError {
  if (err instanceof AppError) return err;
  if (isEngineUnavailable(err)) {
    return new AppError(
      'engine_unavailable',
      `the container engine at ${endpoint} does not answer (${action}); start Docker or Podman (scripts/setup.sh does on Debian) and retry`,
      { cause: err },
    );
  }
  return new AppError('engine_error', `${action} failed: ${engineMessage(err)}`, { cause: err });
}

/**
 * 404, or Podman's 500 for an object removed while it was being looked up ("container … does not
 * exist in database: no such container").
 */
export const isNotFound = (err: unknown): boolean =>
  engineStatus(err) === 404 ||
  (engineStatus(err) === 500 && /no such (container|volume|network)/i.test(engineMessage(err)));
export const isNotModified = (err: unknown): boolean => engineStatus(err) === 304;
export const isConflict = (err: unknown): boolean => engineStatus(err) === 409;
