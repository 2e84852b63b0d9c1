import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CreatedApiToken, SecretInfo, Workspace } from '@berth/protocol';
import { describe, expect, it } from 'vitest';
import { ErrorBodySchema, SecretInfoSchema, SecretRekeyResultSchema } from '../src/api/schemas.js';
import { runDaemon, type Daemon } from '../src/index.js';
import { startBerth, withBerth, type ApiResponse, type TestBerth } from './harness.js';

const canary = () => `canary-${randomUUID()}`;
const keyLine = (id: string) => `${id}:${randomBytes(32).toString('base64')}`;

/** Every file under `dir`, raw: the SQLite file, its WAL, the log, the key file... */
function filesUnder(dir: string): { path: string; bytes: Buffer }[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .map((path) => ({ path, bytes: readFileSync(path) }));
}

/** A daemon on an existing test data dir (after the first one closed), with a JSON client. */
async function reopen(
  berth: TestBerth,
  env: Record<string, string> = {},
): Promise<{ daemon: Daemon; api: Api }> {
  const daemon = await runDaemon({
    port: 0,
    dataDir: berth.dataDir,
    env: { ...process.env, BERTH_ADMIN_TOKEN: berth.token, ...env },
    print: () => {},
    logLevel: 'silent',
  });
  return { daemon, api: client(daemon.url, berth.token) };
}

type Api = <T = unknown>(
  method: string,
  path: string,
  body?: unknown,
  token?: string,
) => Promise<ApiResponse<T>>;

function client(url: string, adminToken: string): Api {
  return async (method, path, body, token = adminToken) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as never, headers: res.headers };
  };
}

describe('secrets over the API', () => {
  it('stores global and workspace secrets write-only, resolves workspace first, and never shows a value', async () => {
    await withBerth({}, async (berth) => {
      const api = client(berth.url, berth.token);
      const seen: string[] = [];
      const call: Api = async <T>(method: string, path: string, body?: unknown, token?: string) => {
        const res = await api<T>(method, path, body, token);
        seen.push(JSON.stringify(res.body), JSON.stringify([...res.headers]));
        return res;
      };
      const globalValue = canary();
      const wsValue = canary();

      // Global: create (201), replace (200), list shows names and metadata only.
      const created = await call<SecretInfo>('PUT', '/v1/secrets/SHARED', { value: `old-${globalValue}` });
      expect(created.status).toBe(201);
      expect(SecretInfoSchema.strict().parse(created.body)).toMatchObject({
        name: 'SHARED',
        scope: 'global',
        workspaceId: null,
      });
      const replaced = await call<SecretInfo>('PUT', '/v1/secrets/SHARED', { value: globalValue });
      expect(replaced.status).toBe(200);
      expect(replaced.body.createdAt).toBe(created.body.createdAt);
      expect((await call('PUT', '/v1/secrets/ONLY_GLOBAL', { value: 'g-value-123' })).status).toBe(201);
      const list = await call<{ items: SecretInfo[] }>('GET', '/v1/secrets');
      expect(list.body.items.map((s) => s.name)).toEqual(['ONLY_GLOBAL', 'SHARED']);
      for (const item of list.body.items) SecretInfoSchema.strict().parse(item);

      // Workspace scope: the owner (a user token) manages it; others see no such workspace.
      const mk = async (name: string) =>
        (await call<CreatedApiToken>('POST', '/v1/tokens', { name, scope: 'user' })).body.secret;
      const alice = await mk('alice');
      const bob = await mk('bob');
      const ws = (await call<Workspace>('POST', '/v1/workspaces', { name: 'sec-ws' }, alice)).body;
      expect(ws.status).toBe('running');
      const other = (await call<Workspace>('POST', '/v1/workspaces', { name: 'sec-other' })).body;
      const put = await call<SecretInfo>(
        'PUT',
        '/v1/workspaces/sec-ws/secrets/SHARED',
        { value: wsValue },
        alice,
      );
      expect(put.status).toBe(201);
      expect(put.body).toMatchObject({ name: 'SHARED', scope: 'workspace', workspaceId: ws.id });
      const wsList = await call<{ items: SecretInfo[] }>(
        'GET',
        `/v1/workspaces/${ws.id}/secrets`,
        undefined,
        alice,
      );
      expect(wsList.body.items.map((s) => s.name)).toEqual(['SHARED']);
      expect((await call('GET', '/v1/workspaces/sec-ws/secrets')).status).toBe(200); // an admin may too

      // Without rights: 403 on global secrets and rekey, 404 on someone else's workspace.
      for (const [method, path, body] of [
        ['PUT', '/v1/secrets/SHARED', { value: 'from-alice-123' }],
        ['GET', '/v1/secrets', undefined],
        ['DELETE', '/v1/secrets/SHARED', undefined],
        ['POST', '/v1/secrets/rekey', undefined],
      ] as const) {
        const res = await call(method, path, body, alice);
        expect(res.status, `${method} ${path}`).toBe(403);
        expect(ErrorBodySchema.parse(res.body).code).toBe('forbidden');
      }
      const bobPut = await call(
        'PUT',
        `/v1/workspaces/${ws.id}/secrets/SHARED`,
        { value: 'from-bob-1234' },
        bob,
      );
      expect(bobPut.status).toBe(404);
      expect(ErrorBodySchema.parse(bobPut.body).code).toBe('workspace_not_found');
      expect((await call('GET', `/v1/workspaces/${ws.id}/secrets`, undefined, bob)).status).toBe(404);
      expect((await call('DELETE', `/v1/workspaces/${ws.id}/secrets/SHARED`, undefined, bob)).status).toBe(
        404,
      );
      expect((await call('PUT', '/v1/workspaces/no-such-ws/secrets/X', { value: 'v-12345678' })).status).toBe(
        404,
      );

      // Resolution (the egress gateway's door): the workspace's own first, then global.
      const secrets = berth.daemon.secrets;
      expect(await secrets.resolve(ws.id, 'SHARED')).toBe(wsValue);
      expect(await secrets.resolve(other.id, 'SHARED')).toBe(globalValue);
      expect(await secrets.resolve(ws.id, 'ONLY_GLOBAL')).toBe('g-value-123');
      expect(await secrets.resolve(ws.id, 'MISSING')).toBeNull();
      expect(await secrets.resolve(ws.id, 'not a name')).toBeNull();

      // Deletes: 204, then 404 secret_not_found; the global one shows through again.
      expect((await call('DELETE', `/v1/workspaces/${ws.id}/secrets/SHARED`, undefined, alice)).status).toBe(
        204,
      );
      const again = await call('DELETE', `/v1/workspaces/${ws.id}/secrets/SHARED`, undefined, alice);
      expect(again.status).toBe(404);
      expect(ErrorBodySchema.parse(again.body).code).toBe('secret_not_found');
      expect(await secrets.resolve(ws.id, 'SHARED')).toBe(globalValue);
      expect((await call('DELETE', '/v1/secrets/ONLY_GLOBAL')).status).toBe(204);
      expect(await secrets.resolve(ws.id, 'ONLY_GLOBAL')).toBeNull();

      // A deleted workspace takes its secrets with it; the global ones stay.
      await call('PUT', `/v1/workspaces/${ws.id}/secrets/GONE_WITH_WS`, { value: wsValue }, alice);
      expect((await call('DELETE', `/v1/workspaces/${ws.id}`, undefined, alice)).status).toBe(204);
      expect(await secrets.list({ workspaceId: ws.id })).toEqual([]);
      expect(await secrets.resolve(ws.id, 'GONE_WITH_WS')).toBeNull();
      expect(
        (await call('PUT', `/v1/workspaces/${ws.id}/secrets/LATE`, { value: 'v-12345678' })).status,
      ).toBe(404);
      expect(await secrets.resolve(other.id, 'SHARED')).toBe(globalValue);
      expect((await call('DELETE', `/v1/workspaces/${other.id}`)).status).toBe(204);

      // No response, header or log line carried a value; nor does any file at rest, in clear.
      for (const value of [globalValue, wsValue]) {
        for (const text of seen) expect(text).not.toContain(value);
        expect(berth.log()).not.toContain(value);
        for (const { path, bytes } of filesUnder(berth.dataDir)) {
          expect(bytes.includes(value), path).toBe(false);
          expect(bytes.includes(Buffer.from(value, 'utf16le')), path).toBe(false);
        }
      }
      expect(berth.log()).toContain('secret stored');
    });
  });

  it('refuses bad names and values with 400 and a stable code, never echoing the value, and changes nothing', async () => {
    await withBerth({}, async (berth) => {
      const api = client(berth.url, berth.token);
      const value = canary();
      expect((await api('PUT', '/v1/secrets/KEEP', { value })).status).toBe(201);
      const longest = `_${'a'.repeat(127)}`;
      expect((await api('PUT', `/v1/secrets/${longest}`, { value: 'x' })).status).toBe(201);
      expect((await api('PUT', '/v1/secrets/KEEP', { value: 'é'.repeat(32 * 1024) })).status).toBe(200);
      expect((await api('PUT', '/v1/secrets/KEEP', { value })).status).toBe(200);
      const before = (await api<{ items: SecretInfo[] }>('GET', '/v1/secrets')).body.items;
      const secret = `${canary()}-bad`;
      const cases: [string, unknown, string][] = [
        ['/v1/secrets/1starts-with-digit', { value: secret }, 'invalid_secret_name'],
        ['/v1/secrets/has%20space', { value: secret }, 'invalid_secret_name'],
        ['/v1/secrets/slash%2Fin', { value: secret }, 'invalid_secret_name'],
        [`/v1/secrets/${'N'.repeat(129)}`, { value: secret }, 'invalid_secret_name'],
        ['/v1/secrets/KEEP', { value: `${secret}${'x'.repeat(64 * 1024)}` }, 'invalid_secret_value'],
        ['/v1/secrets/KEEP', { value: `${secret}${'é'.repeat(32 * 1024)}` }, 'invalid_secret_value'], // bytes, not chars
        ['/v1/secrets/KEEP', { value: '' }, 'invalid_secret_value'],
        ['/v1/secrets/KEEP', { value: 12345678 }, 'invalid_secret_value'],
        ['/v1/secrets/KEEP', { value: [secret] }, 'invalid_secret_value'],
        ['/v1/secrets/KEEP', {}, 'invalid_secret_value'],
        ['/v1/secrets/KEEP', '{"value": "\\ud800x"}', 'invalid_secret_value'], // lone surrogate
        ['/v1/secrets/KEEP', { value: secret, extra: 1 }, 'validation_failed'],
        ['/v1/secrets/KEEP', `{"value": ${secret}}`, 'invalid_json'],
        ['/v1/secrets/KEEP', `{"value": "${secret}", "value": "${secret}"}`, 'invalid_json'],
      ];
      for (const [path, body, code] of cases) {
        const res = await api('PUT', path, body);
        expect(res.status, `${path} ${code}`).toBe(400);
        const error = ErrorBodySchema.parse(res.body);
        expect(error.code, path).toBe(code);
        expect(JSON.stringify(res.body)).not.toContain(secret);
        expect(error.message.length).toBeGreaterThan(10);
      }
      const tooLong = `${'N'.repeat(129)}`;
      expect(ErrorBodySchema.parse((await api('DELETE', `/v1/secrets/${tooLong}`)).body).code).toBe(
        'invalid_secret_name',
      );
      // Nothing changed: the same list, the same value.
      expect((await api<{ items: SecretInfo[] }>('GET', '/v1/secrets')).body.items).toEqual(before);
      expect(await berth.daemon.secrets.resolve('ws_0000000000000000', 'KEEP')).toBe(value);
      expect(berth.log()).not.toContain(secret);
    });
  });
});

describe('secrets at rest', () => {
  it('creates the key file 0600, reopens after a restart, rotates and rekeys, and refuses a wrong key', async () => {
    const berth = await startBerth();
    let current: Daemon = berth.daemon;
    try {
      const keyFile = join(berth.dataDir, 'secrets.key');
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      const [oldLine] = readFileSync(keyFile, 'utf8')
        .split('\n')
        .filter((l) => l && !l.startsWith('#'));
      expect(oldLine?.split(':')[0]).toMatch(/^k\d{8}[0-9a-f]{4}$/); // generated: k<date><random>
      const value = canary();
      const api = client(berth.url, berth.token);
      expect((await api('PUT', '/v1/secrets/ROTATED', { value })).status).toBe(201);
      expect((await api('PUT', '/v1/secrets/OTHER', { value: 'other-value-1' })).status).toBe(201);
      await berth.daemon.close();

      // The same data dir opens them again.
      let reopened = await reopen(berth);
      current = reopened.daemon;
      expect(await current.secrets.resolve('ws_0000000000000000', 'ROTATED')).toBe(value);
      await current.close();

      // Rotation: a new key first, the old one below; both open, the new one seals; rekey moves all.
      const newLine = keyLine('knew');
      writeFileSync(keyFile, `${newLine}\n${oldLine}\n`, { mode: 0o600 });
      reopened = await reopen(berth);
      current = reopened.daemon;
      expect(await current.secrets.resolve('ws_0000000000000000', 'ROTATED')).toBe(value);
      const rekey = await reopened.api('POST', '/v1/secrets/rekey');
      expect(rekey.status).toBe(200);
      expect(SecretRekeyResultSchema.parse(rekey.body)).toEqual({ rekeyed: 2, keyId: 'knew' });
      await current.close();

      // The old key can go now.
      writeFileSync(keyFile, `${newLine}\n`, { mode: 0o600 });
      reopened = await reopen(berth);
      current = reopened.daemon;
      expect(await current.secrets.resolve('ws_0000000000000000', 'ROTATED')).toBe(value);
      await current.close();

      // A missing key, or other bytes under the same id: the start fails, naming the key, no garbage.
      writeFileSync(keyFile, `${keyLine('kother')}\n`, { mode: 0o600 });
      await expect(reopen(berth)).rejects.toThrow(/2 of 2 stored secrets cannot be opened.*"knew"/s);
      writeFileSync(keyFile, `knew:${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
      await expect(reopen(berth)).rejects.toThrow(/does not authenticate with key "knew"/);
      // BERTH_SECRETS_KEY replaces the file.
      reopened = await reopen(berth, { BERTH_SECRETS_KEY: newLine });
      current = reopened.daemon;
      expect(await current.secrets.resolve('ws_0000000000000000', 'OTHER')).toBe('other-value-1');

      // A group-readable key file is refused.
      await current.close();
      writeFileSync(keyFile, `${newLine}\n`);
      chmodSync(keyFile, 0o640);
      await expect(reopen(berth)).rejects.toThrow(/accessible by group or others.*chmod 600/);
    } finally {
      await current.close();
      await berth.cleanup();
    }
  });

  it('takes the keys from BERTH_SECRETS_KEY without writing a key file', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'berth-secrets-env-'));
    try {
      await withBerth({ env: { BERTH_SECRETS_KEY: `${keyLine('envkey')}` } }, async (berth) => {
        expect(() => statSync(join(berth.dataDir, 'secrets.key'))).toThrow();
        const api = client(berth.url, berth.token);
        expect((await api('PUT', '/v1/secrets/FROM_ENV', { value: 'env-sealed-1' })).status).toBe(201);
        expect((await api<{ keyId: string }>('POST', '/v1/secrets/rekey')).body.keyId).toBe('envkey');
      });
      await expect(
        runDaemon({
          port: 0,
          dataDir,
          env: { BERTH_SECRETS_KEY: 'k1:short' },
          print: () => {},
          logLevel: 'silent',
        }),
      ).rejects.toThrow(/BERTH_SECRETS_KEY, key 1 \("k1"\): the key must be 32 bytes/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
