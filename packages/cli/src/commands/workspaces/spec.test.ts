import { describe, expect, it } from 'vitest';
import { UsageError } from '../../exit-codes.js';
import { buildSpec, fileContent, type SpecDeps } from './spec.js';

const files: Record<string, Uint8Array> = {
  '/home/u/.env': new TextEncoder().encode('A=from-file\nB=file\n'),
  '/home/u/config.yaml': new TextEncoder().encode('model: x\n'),
  '/home/u/blob.bin': new Uint8Array([0xff, 0xfe, 0x00]),
};
const deps: SpecDeps = {
  env: { HOST_TOKEN: 'from-host' },
  cwd: '/home/u',
  readFile: (path) => {
    const bytes = files[path];
    if (!bytes) throw Object.assign(new Error('missing'), { code: 'ENOENT' });
    return bytes;
  },
};

describe('buildSpec', () => {
  it('sends only what was given', () => {
    expect(buildSpec(undefined, {}, deps)).toEqual({});
  });

  it('maps every flag to the spec', () => {
    const spec = buildSpec(
      'agent-1',
      {
        runtime: 'claude-code',
        image: 'img:1',
        tier: 1,
        env: [
          { key: 'B', value: 'flag' },
          { key: 'HOST_TOKEN', value: undefined },
        ],
        envFile: '.env',
        workspaceDir: 'project',
        access: 'read_only',
        port: [3000, { port: 8080, name: 'web' }],
        memory: 1024,
        cpus: 0.5,
        pids: 100,
        label: [['team', 'infra']],
        file: [
          { path: 'config.yaml', source: { kind: 'local', path: 'config.yaml' } },
          { path: 'motd', source: { kind: 'text', text: 'hi' } },
          { path: 'blob', source: { kind: 'local', path: '/home/u/blob.bin' } },
        ],
        template: 'default',
      },
      deps,
    );
    expect(spec).toEqual({
      name: 'agent-1',
      runtime: 'claude-code',
      image: 'img:1',
      tier: 1,
      env: { A: 'from-file', B: 'flag', HOST_TOKEN: 'from-host' },
      workspace: { access: 'read_only', hostPath: '/home/u/project' },
      ports: [3000, { port: 8080, name: 'web' }],
      resources: { memoryMb: 1024, cpus: 0.5, pidsLimit: 100 },
      labels: { team: 'infra' },
      files: {
        'config.yaml': 'model: x\n',
        motd: 'hi',
        blob: { content: Buffer.from([0xff, 0xfe, 0x00]).toString('base64'), encoding: 'base64' },
      },
      template: 'default',
    });
  });

  it('refuses -e KEY when KEY is unset, and unreadable files, as usage errors', () => {
    expect(() => buildSpec(undefined, { env: [{ key: 'NOPE', value: undefined }] }, deps)).toThrow(
      UsageError,
    );
    expect(() => buildSpec(undefined, { envFile: 'missing.env' }, deps)).toThrow(
      'cannot read --env-file missing.env (ENOENT)',
    );
    expect(() =>
      buildSpec(undefined, { file: [{ path: 'x', source: { kind: 'local', path: 'gone' } }] }, deps),
    ).toThrow(UsageError);
  });
});

describe('fileContent', () => {
  it('keeps UTF-8 text as a string and base64-encodes the rest', () => {
    expect(fileContent(new TextEncoder().encode('héllo'))).toBe('héllo');
    expect(fileContent(new Uint8Array([0xc3]))).toEqual({ content: 'ww==', encoding: 'base64' });
  });
});
