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
  type WorkspaceData,
} from '@berth/sdk';
import { CommanderError, InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { EXIT, UsageError, exitCodeFor } from './exit-codes.js';

const init = (code: string, status?: number) => ({ code, message: 'm', status });

describe('exitCodeFor', () => {
  it.each([
    ['help', new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)'), EXIT.ok],
    ['unknown option', new CommanderError(1, 'commander.unknownOption', 'x'), EXIT.usage],
    ['bad option value', new InvalidArgumentError('x'), EXIT.usage],
    ['usage after parse', new UsageError('x'), EXIT.usage],
    ['not found', new NotFoundError(init('workspace_not_found', 404)), EXIT.notFound],
    ['conflict', new ConflictError(init('invalid_state', 409)), EXIT.conflict],
    ['validation', new ValidationError(init('validation_failed', 400)), EXIT.validation],
    ['422', new ValidationError(init('idempotency_key_reused', 422)), EXIT.validation],
    ['auth', new AuthenticationError(init('unauthenticated', 401)), EXIT.auth],
    ['forbidden', new PermissionError(init('tier_not_allowed', 403)), EXIT.auth],
    ['5xx', new ServerError(init('engine_unavailable', 503)), EXIT.unavailable],
    ['refused', new ConnectionError(init('connection_failed')), EXIT.unavailable],
    ['timeout', new TimeoutError(init('timeout')), EXIT.unavailable],
    ['other 4xx', new BerthError(init('rate_limited', 429)), EXIT.validation],
    ['bad url', new BerthError(init('invalid_url')), EXIT.usage],
    ['client-side invalid response', new BerthError(init('invalid_response', 200)), EXIT.generic],
    ['bug', new TypeError('x is undefined'), EXIT.generic],
    ['not an error', 'boom', EXIT.generic],
  ])('%s', (_name, err, code) => {
    expect(exitCodeFor(err)).toBe(code);
  });

  it('gives 8 for a workspace that ended failed', () => {
    const ws = { id: 'ws_1', name: 'n', error: { code: 'image_not_found', message: 'x' } } as WorkspaceData;
    expect(exitCodeFor(new WorkspaceFailedError(ws))).toBe(EXIT.workspaceFailed);
  });
});
