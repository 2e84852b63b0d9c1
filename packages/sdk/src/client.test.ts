import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildQuery, fillPath, HttpClient, normaliseBaseUrl, readEnv } from './client.js';
import { BerthError, ConnectionError, TimeoutError } from './errors.js';

describe('normaliseBaseUrl', () => {
  it('drops trailing slashes, query and hash', () => {
    expect(normaliseBaseUrl('http://127.0.0.1:7420/')).toBe('http://127.0.0.1:7420');
    expect(normaliseBaseUrl('https://berth.example/api//?x=1#y')).toBe('https://berth.example/api');
  });

  it('refuses invalid URLs, other schemes and credentials', () => {
    expect(() => normaliseBaseUrl('not a url')).toThrow(BerthError);
    expect(() => normaliseBaseUrl('ftp://host')).toThrow(/http or https/);
    expect(() => normaliseBaseUrl('http://user:secret@host')).toThrow(/credentials/);
    try {
      normaliseBaseUrl('http://user:secret@host');
    } catch (err) {
      expect((err as Error).message).not.toContain('secret');
    }
  });
});

describe('fillPath', () => {
  it('encodes path parameters', () => {
    expect(fillPath('/v1/workspaces/:id/stop', { id: 'a b/c' })).toBe('/v1/workspaces/a%20b%2Fc/stop');
  });
  it('refuses missing parameters', () => {
    expect(() => fillPath('/v1/workspaces/:id', {})).toThrow(/id/);
  });
});

describe('buildQuery', () => {
  it('repeats array keys and leaves out undefined and null', () => {
    expect(buildQuery({ label: ['a=1', 'b=2'], wait: false, limit: 5, cursor: undefined, x: null })).toBe(
      '?label=a%3D1&label=b%3D2&wait=false&limit=5',
    );
    expect(buildQuery({})).toBe('');
  });
});

describe('readEnv', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });
  it('reads process.env and treats empty as unset', () => {
    vi.stubEnv('BERTH_TEST_VAR', 'x');
    expect(readEnv('BERTH_TEST_VAR')).toBe('x');
    vi.stubEnv('BERTH_TEST_VAR', '');
    expect(readEnv('BERTH_TEST_VAR')).toBeUndefined();
  });
});

describe('HttpClient failures', () => {
  it('reports a failed fetch as ConnectionError naming the URL and the system code, never the token', async () => {
    const refused: typeof fetch = () =>
      Promise.reject(
        new TypeError('fetch failed', {
          cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }),
        }),
      );
    const client = new HttpClient({
      url: 'http://127.0.0.1:7420',
      token: 'tok-secret-value',
      fetch: refused,
    });
    const err = await client.call('systemInfo').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as ConnectionError).code).toBe('connection_failed');
    expect((err as Error).message).toContain('http://127.0.0.1:7420 (ECONNREFUSED)');
    expect((err as Error).message).toContain('berth serve');
    expect((err as Error).message).not.toContain('tok-secret-value');
  });

  it('turns its own deadline into TimeoutError and a caller abort into the caller reason', async () => {
    const hang: typeof fetch = (_input, init) =>
      new Promise((_resolve, reject) => {
        init?.signal?.addEventListener('abort', () => reject(init.signal?.reason as Error));
      });
    const client = new HttpClient({ url: 'http://127.0.0.1:7420', token: null, fetch: hang });
    const timedOut = await client.call('systemInfo', { timeoutMs: 20 }).catch((e: unknown) => e);
    expect(timedOut).toBeInstanceOf(TimeoutError);
    expect((timedOut as Error).message).toBe('GET /v1/system timed out after 20ms');

    const controller = new AbortController();
    const reason = new Error('user gave up');
    const pending = client.call('systemInfo', { signal: controller.signal }).catch((e: unknown) => e);
    controller.abort(reason);
    expect(await pending).toBe(reason);
  });

  it('sends the bearer token and JSON only when there is a body', async () => {
    const seen: RequestInit[] = [];
    const capture: typeof fetch = (_input, init) => {
      seen.push(init ?? {});
      return Promise.resolve(new Response(null, { status: 204 }));
    };
    const client = new HttpClient({ url: 'http://h', token: 't0k', fetch: capture });
    await client.call('stopWorkspace', { params: { id: 'w' } });
    await client.call('createToken', { body: { name: 'n', scope: 'user' } });
    const [plain, withBody] = seen.map((init) => init.headers as Record<string, string>);
    expect(plain).toMatchObject({ authorization: 'Bearer t0k' });
    expect(plain?.['content-type']).toBeUndefined();
    expect(withBody?.['content-type']).toBe('application/json');
  });
});
