import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBerth, type TestBerth } from '../../server/test/harness.js';
import { Berth, NotFoundError, PermissionError, ValidationError } from '../src/index.js';

let server: TestBerth;
let berth: Berth;
beforeAll(async () => {
  server = await startBerth();
  berth = new Berth({ url: server.url, token: server.token });
});
afterAll(async () => {
  await server.cleanup();
});

describe('berth.secrets and ws.secrets', () => {
  it('puts, lists, deletes and rekeys, global and per workspace, with typed errors', async () => {
    const first = await berth.secrets.put('GH_TOKEN', 'ghp-global-value');
    expect(first).toMatchObject({
      created: true,
      secret: { name: 'GH_TOKEN', scope: 'global', workspaceId: null },
    });
    expect((await berth.secrets.put('GH_TOKEN', 'ghp-global-value-2')).created).toBe(false);
    expect((await berth.secrets.list()).map((s) => s.name)).toEqual(['GH_TOKEN']);

    await using ws = await berth.workspaces.create({ name: 'sdk-secrets' });
    const own = await ws.secrets.put('GH_TOKEN', 'ghp-workspace-value');
    expect(own.secret).toMatchObject({ scope: 'workspace', workspaceId: ws.id });
    expect((await berth.secrets.list({ workspace: 'sdk-secrets' })).map((s) => s.name)).toEqual(['GH_TOKEN']);
    expect(await server.daemon.secrets.resolve(ws.id, 'GH_TOKEN')).toBe('ghp-workspace-value');
    expect(await berth.workspaces.ref(ws.id).secrets.delete('GH_TOKEN')).toBe(true);
    expect(await ws.secrets.delete('GH_TOKEN')).toBe(false);
    expect(await ws.secrets.list()).toEqual([]);
    expect(await server.daemon.secrets.resolve(ws.id, 'GH_TOKEN')).toBe('ghp-global-value-2');

    await expect(berth.secrets.put('no spaces', 'value-1234')).rejects.toMatchObject({
      constructor: ValidationError,
      code: 'invalid_secret_name',
    });
    await expect(berth.secrets.put('OK', 'x'.repeat(64 * 1024 + 1))).rejects.toMatchObject({
      constructor: ValidationError,
      code: 'invalid_secret_value',
    });
    await expect(berth.secrets.list({ workspace: 'no-such-ws' })).rejects.toBeInstanceOf(NotFoundError);

    const user = await berth.tokens.create({ name: 'sdk-secrets-user' });
    const asUser = new Berth({ url: server.url, token: user.secret });
    await expect(asUser.secrets.put('GH_TOKEN', 'from-a-user-1')).rejects.toBeInstanceOf(PermissionError);
    await expect(asUser.secrets.rekey()).rejects.toBeInstanceOf(PermissionError);

    expect(await berth.secrets.rekey()).toMatchObject({ rekeyed: 1 });
    expect(await berth.secrets.delete('GH_TOKEN')).toBe(true);
    expect(await berth.secrets.delete('GH_TOKEN')).toBe(false);
  });
});
