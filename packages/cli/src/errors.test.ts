import { AuthenticationError, ValidationError, WorkspaceFailedError, type WorkspaceData } from '@berth/sdk';
import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { errorDocument, formatIssues, renderError } from './errors.js';

const failed = {
  id: 'ws_9',
  name: 'quiet-fox',
  status: 'failed',
  error: { code: 'image_not_found', message: 'image berth/x is missing' },
} as WorkspaceData;

describe('errorDocument', () => {
  it('has code, message and requestId', () => {
    const err = new ValidationError({
      code: 'validation_failed',
      message: 'bad tier',
      status: 400,
      requestId: 'r1',
    });
    expect(errorDocument(err)).toEqual({
      error: { code: 'validation_failed', message: 'bad tier', requestId: 'r1' },
    });
  });
  it('includes the workspace of a failed create', () => {
    const doc = errorDocument(new WorkspaceFailedError(failed));
    expect(doc.error).toMatchObject({ code: 'image_not_found', requestId: null, workspace: failed });
  });
  it('turns commander usage errors into usage_error', () => {
    const doc = errorDocument(
      new CommanderError(1, 'commander.unknownOption', "error: unknown option '--x'"),
    );
    expect(doc).toEqual({ error: { code: 'usage_error', message: "unknown option '--x'", requestId: null } });
  });
  it('keeps unexpected errors generic', () => {
    expect(errorDocument(new Error('oops')).error.code).toBe('internal');
  });
});

describe('formatIssues', () => {
  it('lists validation issues with their paths', () => {
    expect(
      formatIssues({
        issues: [
          { path: ['resources', 'memoryMb'], message: 'too small' },
          { message: 'unknown field x' },
          'junk',
        ],
      }),
    ).toEqual(['  - resources.memoryMb: too small', '  - unknown field x']);
    expect(formatIssues(undefined)).toEqual([]);
  });
});

describe('renderError', () => {
  it('shows code and request id', () => {
    const err = new ValidationError({
      code: 'reserved_env_key',
      message: 'LD_PRELOAD is reserved',
      status: 400,
      requestId: 'r7',
    });
    expect(renderError(err, { dataDir: '/d' })).toBe(
      'berth: error: LD_PRELOAD is reserved\n  (code reserved_env_key, request r7)',
    );
  });
  it('tells where the token comes from on 401', () => {
    const err = new AuthenticationError({ code: 'unauthenticated', message: 'no token', status: 401 });
    expect(renderError(err, { dataDir: '/data' })).toContain('/data/admin-token');
  });
  it('prints a failed workspace with its code and how to clean up', () => {
    const text = renderError(new WorkspaceFailedError(failed), { dataDir: '/d' });
    expect(text).toContain('workspace quiet-fox (ws_9) failed: image berth/x is missing');
    expect(text).toContain('code: image_not_found');
    expect(text).toContain('berth rm ws_9');
  });
});
