import {
  AuthenticationError,
  BerthError,
  ConflictError,
  ConnectionError,
  NotFoundError,
  PermissionError,
  ServerError,
  TimeoutError,
  ValidationError,
  WorkspaceFailedError,
} from '@berth/sdk';
import { CommanderError } from 'commander';

/** Exit codes scripts can rely on (documented in `berth --help`). */
export const EXIT = {
  ok: 0,
  generic: 1,
  usage: 2,
  notFound: 3,
  conflict: 4,
  validation: 5,
  auth: 6,
  unavailable: 7,
  workspaceFailed: 8,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A usage problem found after parsing (e.g. `-e KEY` with KEY unset, an unreadable --env-file). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly code = 'usage_error';
}

/** The exit code for an error thrown by a command. */
export function exitCodeFor(err: unknown): ExitCode {
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  if (err instanceof UsageError) return EXIT.usage;
  if (err instanceof WorkspaceFailedError) return EXIT.workspaceFailed;
  if (err instanceof NotFoundError) return EXIT.notFound;
  if (err instanceof ConflictError) return EXIT.conflict;
  if (err instanceof AuthenticationError || err instanceof PermissionError) return EXIT.auth;
  if (err instanceof ValidationError) return EXIT.validation;
  if (err instanceof ServerError || err instanceof ConnectionError || err instanceof TimeoutError) {
    return EXIT.unavailable;
  }
  if (err instanceof BerthError) {
    if (err.code === 'invalid_url') return EXIT.usage;
    if (err.status !== undefined && err.status >= 500) return EXIT.unavailable;
    if (err.status !== undefined && err.status >= 400) return EXIT.validation;
  }
  return EXIT.generic;
}

/** The `berth --help` epilogue section listing the exit codes. */
export const EXIT_CODES_HELP = `Exit codes:
  0  success
  1  generic or internal error (also: berth cp refused an unsafe entry of a downloaded archive)
  2  usage error (unknown option, bad value, missing argument)
  3  not found (workspace, token, secret, file, command, terminal, API route)
  4  conflict or invalid state (name taken, start while deleting, file exists, directory not empty)
  5  validation error (the server refused the input, 4xx: bad path, archive, file too large)
  6  authentication or permission error (401/403)
  7  server or engine unavailable (5xx, connection refused, client-side timeout)
  8  workspace failed (create/start/restart ended in status failed)
  exec and shell exit with the command's own exit code once it ran (124 when exec --timeout
  killed it, as timeout(1)); the codes above apply when berth itself failed.`;
