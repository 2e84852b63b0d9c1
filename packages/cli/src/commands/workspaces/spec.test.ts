import { describe, expect, it } from 'vitest';
import { UsageError } from '../../exit-codes.js';
import { buildSpec, fileContent, parseMcp, type SpecDeps } from './spec.js';

const files: Record<string, Uint8Array> = {
  '/home/u/.env': new TextEncoder().encode('A=from-file\nB=file\n'),
  '/home/u/config.yaml': new TextEncoder().encode('model: x\n'),
  '/home/u/blob.bin': new Uint8Array([0xff, 0xfe, 0x00]),
  '/home/u/agent.json': new TextEncoder().encode(
    JSON.stringify({ model: 'from-file', mcpServers: { db: { command: 'db-mcp', env: { DSN: 'x' } } } }),
  ),
  '/home/u/AGENTS.md': new TextEncoder().encode('Be brief.\n'),
  '/home/u/bad.json': new TextEncoder().encode('{nope'),
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

describe('agent CLI flags', () => {
  it('builds agentConfig from --agent-config, then --model, --instructions and --mcp on top', () => {
    const spec = buildSpec(
      undefined,
      {
        runtime: 'codex',
        build: true,
        agentConfig: 'agent.json',
        model: 'gpt-x',
        instructions: '@AGENTS.md',
        mcp: ['docs=https://mcp.example.com/mcp', 'fs=npx -y fs-mcp /workspace'],
      },
      deps,
    );
    expect(spec).toEqual({
      runtime: 'codex',
      buildImage: true,
      agentConfig: {
        model: 'gpt-x',
        instructions: 'Be brief.\n',
        mcpServers: {
          db: { command: 'db-mcp', env: { DSN: 'x' } },
          docs: { url: 'https://mcp.example.com/mcp' },
          fs: { command: 'npx', args: ['-y', 'fs-mcp', '/workspace'] },
        },
      },
    });
    expect(buildSpec(undefined, { instructions: 'inline' }, deps).agentConfig).toEqual({
      instructions: 'inline',
    });
  });

  it('refuses what it cannot read or parse, naming the flag', () => {
    expect(() => buildSpec(undefined, { agentConfig: 'bad.json' }, deps)).toThrow(
      /--agent-config bad.json: not JSON/,
    );
    expect(() => buildSpec(undefined, { agentConfig: 'none.json' }, deps)).toThrow(UsageError);
    expect(() => parseMcp('=cmd')).toThrow(/--mcp =cmd/);
    expect(() => parseMcp('name=')).toThrow(UsageError);
    expect(parseMcp('local=server')).toEqual(['local', { command: 'server' }]);
  });
});
