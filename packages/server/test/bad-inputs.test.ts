import type { ErrorBody } from '@berth/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorBodySchema } from '../src/api/schemas.js';
import { startBerth, type TestBerth } from './harness.js';

// One daemon for the file: none of these requests may create anything, which afterEach-style
// checks below prove against the engine (labels) and the store (list).
let berth: TestBerth;
beforeAll(async () => {
  berth = await startBerth({ config: { bodyLimitBytes: 64 * 1024 } });
});
afterAll(async () => {
  await berth.cleanup();
});

async function expectRefused(
  body: unknown,
  status: number,
  code: string,
  note = JSON.stringify(body),
): Promise<ErrorBody> {
  const res = await berth.api<ErrorBody>('POST', '/v1/workspaces', { body });
  expect(res.status, note).toBe(status);
  const parsed = ErrorBodySchema.parse(res.body);
  expect(parsed.code, note).toBe(code);
  expect(parsed.requestId).toBe(res.headers.get('x-request-id'));
  expect(parsed.message.length, note).toBeGreaterThan(10);
  return parsed;
}

async function expectNothingCreated(): Promise<void> {
  expect(await berth.leftovers()).toEqual({ containers: [], volumes: [], networks: [] });
  const list = await berth.api<{ items: unknown[] }>(
    'GET',
    '/v1/workspaces?status=provisioning,starting,running,stopped,failed',
  );
  expect(list.body.items).toEqual([]);
}

describe('bad inputs are refused with stable codes and change nothing', () => {
  it('B1: names that could become paths, options or lookalikes', async () => {
    for (const name of [
      '../../etc',
      'a/b',
      '-rf',
      '',
      'x'.repeat(300),
      'nul\u0000name',
      'аpi',
      'UPPER',
      'dots.in.name',
      ' spaced',
    ]) {
      await expectRefused({ name }, 400, 'validation_failed', `name ${JSON.stringify(name)}`);
    }
    await expectNothingCreated();
  });

  it('B2: engine options the schema does not have', async () => {
    for (const body of [
      { privileged: true },
      { cap_add: ['SYS_ADMIN'] },
      { capAdd: ['SYS_ADMIN'] },
      { network_mode: 'host' },
      { pid: 'host' },
      { userns: 'host' },
      { ipc: 'host' },
      { resources: { privileged: true } },
      { workspace: { access: 'none', propagation: 'rshared' } },
    ]) {
      const err = await expectRefused(body, 400, 'validation_failed');
      expect(err.message).toMatch(/unknown field/);
    }
    await expectNothingCreated();
  });

  it('B3: security options', async () => {
    for (const opt of [
      'seccomp=unconfined',
      'apparmor=unconfined',
      'label=disable',
      'systempaths=unconfined',
    ]) {
      await expectRefused({ security_opt: [opt] }, 400, 'validation_failed');
      await expectRefused({ securityOpt: [opt] }, 400, 'validation_failed');
    }
    await expectNothingCreated();
  });

  it('B4: host mounts of sensitive paths, symlinks and traversal', async () => {
    for (const hostPath of [
      '/',
      '/var/run/docker.sock',
      '/run/docker.sock',
      '/proc',
      '/etc',
      '/sys/fs',
      '/tmp/../etc',
      '/home/../etc',
    ]) {
      await expectRefused(
        { workspace: { access: 'read_write', hostPath } },
        400,
        'invalid_host_path',
        hostPath,
      );
    }
    await expectRefused({ volumes: ['/:/host'] }, 400, 'validation_failed');
    await expectRefused(
      { tier: 1, workspace: { access: 'read_only', hostPath: berth.dataDir } },
      400,
      'validation_failed',
    );
    await expectNothingCreated();
  });

  it('B5: devices, sysctls and GPUs', async () => {
    await expectRefused({ devices: ['/dev/sda'] }, 400, 'validation_failed');
    await expectRefused({ sysctls: { 'kernel.core_pattern': '|/x' } }, 400, 'validation_failed');
    await expectRefused({ gpus: 'all' }, 400, 'validation_failed');
    await expectNothingCreated();
  });

  it('B6: working directories under /proc or with traversal', async () => {
    await expectRefused({ workdir: '/proc/self/fd/7' }, 400, 'validation_failed');
    await expectRefused({ workdir: '../..' }, 400, 'validation_failed');
    await expectNothingCreated();
  });

  it('B7: malformed image references and unknown runtimes', async () => {
    for (const image of ['', ' ubuntu', '--privileged', 'a b', 'x'.repeat(300), 'img\u0000']) {
      await expectRefused({ image }, 400, 'validation_failed', `image ${JSON.stringify(image)}`);
    }
    await expectRefused({ runtime: 'no-such-runtime' }, 400, 'runtime_not_found');
    await expectRefused({ runtime: '../shell' }, 400, 'validation_failed');
    await expectNothingCreated();
  });

  it('B8: reserved and invalid env keys', async () => {
    for (const key of [
      'LD_PRELOAD',
      'HTTP_PROXY',
      'NO_PROXY',
      'SSL_CERT_FILE',
      'WORKSPACE_ID',
      'PLATFORM_URL',
    ]) {
      await expectRefused({ env: { [key]: '*' } }, 400, 'reserved_env_key', key);
    }
    await expectRefused({ env: { 'KEY=X': 'v' } }, 400, 'validation_failed');
    await expectRefused({ env: { KEY: 'nul\u0000' } }, 400, 'validation_failed');
    await expectRefused({ env: { KEY: 1 } }, 400, 'validation_failed');
    await expectNothingCreated();
  });

  it('B9: limits where 0 would mean unlimited, negatives, huge and non-numbers', async () => {
    for (const resources of [
      { memoryMb: 0 },
      { memoryMb: -1 },
      { memoryMb: 1e18 },
      { memoryMb: '1g' },
      { memoryMb: 1.5 },
      { cpus: 0 },
      { cpus: -2 },
      { cpus: 1e9 },
      { pidsLimit: 0 },
      { pidsLimit: -1 },
      { pidsLimit: 1e12 },
    ]) {
      await expectRefused({ resources }, 400, 'validation_failed', JSON.stringify(resources));
    }
    await expectNothingCreated();
  });

  it('B10: labels with the reserved prefix', async () => {
    await expectRefused({ labels: { 'berth.managed': 'false' } }, 400, 'reserved_label');
    await expectRefused({ labels: { 'Berth.workspace': 'x' } }, 400, 'reserved_label');
    await expectRefused({ labels: { 'bad key': 'x' } }, 400, 'validation_failed');
    await expectNothingCreated();
  });

  it('B13: duplicate keys, deep nesting, oversize bodies, wrong content type, trailing garbage', async () => {
    const raw = async (text: string, contentType = 'application/json') =>
      berth.api<ErrorBody>('POST', '/v1/workspaces', { raw: text, headers: { 'content-type': contentType } });

    const dup = await raw('{"name":"a-one","name":"a-two"}');
    expect(dup.status).toBe(400);
    expect(dup.body.code).toBe('invalid_json');
    expect(dup.body.message).toMatch(/duplicate key "name"/);

    const deep = await raw(`{"labels":${'['.repeat(10_000)}${']'.repeat(10_000)}}`);
    expect(deep.status).toBe(400);
    expect(deep.body.code).toBe('invalid_json');

    const big = await raw(JSON.stringify({ env: { BIG: 'x'.repeat(100 * 1024) } }));
    expect(big.status).toBe(413);
    expect(big.body.code).toBe('payload_too_large');

    const text = await raw('name=a', 'text/plain');
    expect(text.status).toBe(415);
    expect(text.body.code).toBe('unsupported_media_type');
    const form = await raw('name=a', 'application/x-www-form-urlencoded');
    expect(form.status).toBe(415);

    const trailing = await raw('{"name":"ok-name"} trailing');
    expect(trailing.status).toBe(400);
    expect(trailing.body.code).toBe('invalid_json');

    const notObject = await raw('[1,2,3]');
    expect(notObject.status).toBe(400);
    expect(notObject.body.code).toBe('validation_failed');

    // The server stays healthy after all of it.
    expect((await berth.api('GET', '/healthz')).status).toBe(200);
    await expectNothingCreated();
  });

  it('reports every problem at once, with paths', async () => {
    const err = await expectRefused(
      { name: 'Bad Name', tier: 9, resources: { memoryMb: 0 } },
      400,
      'validation_failed',
    );
    const issues = (err.details as { issues: { path: string }[] }).issues.map((i) => i.path).sort();
    expect(issues).toEqual(['body.name', 'body.resources.memoryMb', 'body.tier']);
  });
});
