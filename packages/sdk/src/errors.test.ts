import { describe, expect, it } from 'vitest';
import {
  AuthenticationError,
  BerthError,
  ConflictError,
  NotFoundError,
  PermissionError,
  ServerError,
  ValidationError,
  WorkspaceFailedError,
  decodeError,
  errorFromResponse,
} from './errors.js';
import type { Workspace as WorkspaceData } from '@berth/protocol';

const json = (body: unknown, status: number, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

describe('errorFromResponse', () => {
  it('decodes an ErrorBody into the subclass for its status', async () => {
    const err = await errorFromResponse(
      json({ code: 'workspace_not_found', message: 'no workspace "x"', requestId: 'req-1' }, 404),
    );
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err).toBeInstanceOf(BerthError);
    expect(err).toMatchObject({
      name: 'NotFoundError',
      code: 'workspace_not_found',
      status: 404,
      requestId: 'req-1',
      message: 'no workspace "x"',
    });
  });

  it('keeps details such as validation issues', async () => {
    const issues = [{ path: ['tier'], message: 'must be 1-4' }];
    const err = await errorFromResponse(
      json({ code: 'validation_failed', message: 'bad', requestId: 'r', details: { issues } }, 400),
    );
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.details).toEqual({ issues });
  });

  it.each([
    [400, ValidationError],
    [401, AuthenticationError],
    [403, PermissionError],
    [404, NotFoundError],
    [409, ConflictError],
    [413, ValidationError],
    [415, ValidationError],
    [422, ValidationError],
    [500, ServerError],
    [502, ServerError],
    [503, ServerError],
  ])('maps status %i to %o', async (status, cls) => {
    const err = await errorFromResponse(json({ code: 'internal', message: 'm', requestId: 'r' }, status));
    expect(err).toBeInstanceOf(cls);
    expect(err.status).toBe(status);
  });

  it('still gives a BerthError for a non-JSON body, with the request id from the header', async () => {
    const err = await errorFromResponse(
      new Response('<html>502 Bad Gateway</html>', { status: 502, headers: { 'x-request-id': 'hdr-7' } }),
    );
    expect(err).toBeInstanceOf(ServerError);
    expect(err.code).toBe('internal');
    expect(err.requestId).toBe('hdr-7');
    expect(err.message).toBe('HTTP 502: <html>502 Bad Gateway</html>');
  });

  it('handles an empty body', async () => {
    const err = await errorFromResponse(new Response(null, { status: 503 }));
    expect(err).toBeInstanceOf(ServerError);
    expect(err.code).toBe('engine_unavailable');
    expect(err.message).toBe('HTTP 503');
    expect(err.requestId).toBeUndefined();
  });

  it('ignores JSON that is not an error body', async () => {
    const err = await errorFromResponse(json(['not', 'an', 'object'], 404));
    expect(err).toMatchObject({
      code: 'route_not_found',
      message: expect.stringContaining('HTTP 404') as string,
    });
  });

  it('hints how to send a token on a 401 without one', async () => {
    const body = { code: 'unauthenticated', message: 'missing bearer token', requestId: 'r' };
    const without = await errorFromResponse(json(body, 401), { hadToken: false });
    expect(without.message).toContain('BERTH_TOKEN');
    const withToken = await errorFromResponse(json(body, 401), { hadToken: true });
    expect(withToken.message).toBe('missing bearer token');
  });
});

describe('decodeError', () => {
  it('passes unknown future codes through', () => {
    const err = decodeError(
      429,
      new Headers(),
      JSON.stringify({ code: 'rate_limited', message: 'slow down', requestId: 'r' }),
    );
    expect(err.code).toBe('rate_limited');
    expect(err).toBeInstanceOf(ValidationError);
  });

  it('shortens long non-JSON bodies to their first line', () => {
    const err = decodeError(500, new Headers(), `${'x'.repeat(500)}\nsecond line`);
    expect(err.message.length).toBeLessThan(230);
    expect(err.message).not.toContain('second line');
  });
});

describe('WorkspaceFailedError', () => {
  it('carries the workspace error code and the workspace', () => {
    const ws = {
      id: 'ws_1',
      name: 'calm-otter',
      status: 'failed',
      error: { code: 'image_not_found', message: 'image berth/x missing; run berth images build x' },
    } as WorkspaceData;
    const err = new WorkspaceFailedError(ws);
    expect(err).toBeInstanceOf(BerthError);
    expect(err.code).toBe('image_not_found');
    expect(err.workspace).toBe(ws);
    expect(err.message).toBe(
      'workspace calm-otter (ws_1) failed: image berth/x missing; run berth images build x',
    );
    expect(err.status).toBeUndefined();
  });
});
