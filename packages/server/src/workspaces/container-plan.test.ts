import { describe, expect, it } from 'vitest';
import type { NormalizedSpec } from '../domain/workspace.js';
import { toDockerCreateOptions } from '../engine/docker-create-options.js';
import type { Runtime } from '../runtimes/catalogue.js';
import { planWorkspace, TIER2_CAPABILITIES, type PlanContext } from './container-plan.js';

const runtime: Runtime = {
  name: 'shell',
  description: '',
  image: 'berth-shell:test',
  port: 8000,
  user: '1000:1000',
  requiredFiles: [],
  env: { RUNTIME_VAR: 'r' },
  template: null,
  shell: ['/bin/sh'],
  agent: false,
  provisionTimeoutMs: 120_000,
  restartPolicy: 'never',
  requiredEnv: [],
  configFormat: null,
  recipe: null,
};

const spec = (over: Partial<NormalizedSpec> = {}): NormalizedSpec => ({
  name: 'brave-otter',
  runtime: 'shell',
  image: 'berth-shell:test',
  tier: 2,
  env: { USER_VAR: 'u' },
  workspace: { access: 'none', hostPath: null },
  ports: [
    { port: 8000, name: 'agent' },
    { port: 3000, name: 'web' },
  ],
  resources: { memoryMb: 256, cpus: 0.5, pidsLimit: 128 },
  labels: {},
  files: {},
  template: null,
  readiness: null,
  lifecycle: { restartPolicy: 'never', idleTimeoutMs: null, ttlMs: null },
  egress: { mode: over.tier === 1 ? 'none' : 'open', allow: [], deny: [] },
  grants: [],
  secretEnv: {},
  ...over,
});

const ctx: PlanContext = {
  agentSocketDir: null,
  gvisorAvailable: true,
  addedCapsEffectiveForNonRoot: false,
  seccompProfile: null,
  gvisorMode: 'prefer',
  platformUrl: 'http://172.17.0.1:7420',
  passthroughEnv: { LANG: 'C.UTF-8' },
  engineSocketPath: '/var/run/docker.sock',
  extraLabels: { 'berth.test-run': 't1' },
  volumesPrepared: true,
  toolsVolume: 'berth-tools-0123456789abcdef',
  egress: { socketDir: '/var/lib/berth/run/egress/ws_0123456789abcdef', listenPort: 3128 },
  imageCommand: { entrypoint: ['/entry'], cmd: ['serve', '--port', '8000'] },
};

const plan = (s: NormalizedSpec, c: PlanContext = ctx) =>
  planWorkspace({ id: 'ws_0123456789abcdef', spec: s, specHash: 'h'.repeat(64), generation: 1 }, runtime, c);

describe('planWorkspace: tier 1 (sandboxed)', () => {
  const p = plan(spec({ tier: 1 }));
  const host = toDockerCreateOptions(p.container).HostConfig!;

  it('drops every capability, forbids privilege gain and runs non-root (H1-H3, H7)', () => {
    expect(host.Privileged).toBe(false);
    expect(host.CapDrop).toEqual(['ALL']);
    expect(host.CapAdd).toEqual([]);
    expect(host.SecurityOpt).toEqual(['no-new-privileges:true']);
    expect(p.container.user).toBe('1000:1000');
  });

  it('keeps the default seccomp profile and masked paths (H4, H6)', () => {
    const securityOpt = (host.SecurityOpt ?? []) as string[];
    expect(securityOpt.some((o) => /unconfined|systempaths|label=disable/.test(o))).toBe(false);
    expect(host).not.toHaveProperty('MaskedPaths');
  });

  it('has a read-only rootfs with a noexec tmpfs, limits, ulimits and init (H11, H14-H17, H22)', () => {
    expect(host.ReadonlyRootfs).toBe(true);
    expect(host.Tmpfs?.['/tmp']).toMatch(/noexec/);
    expect(host.Tmpfs?.['/tmp']).toMatch(/nosuid/);
    expect(host.Tmpfs?.['/tmp']).toMatch(/nodev/);
    expect(host.Tmpfs?.['/tmp']).toMatch(/size=/);
    expect(host.Memory).toBe(256 * 1024 * 1024);
    expect(host.MemorySwap).toBe(host.Memory);
    expect(host.NanoCpus).toBe(500_000_000);
    expect(host.PidsLimit).toBe(128);
    expect(host.Ulimits?.map((u) => u.Name).sort()).toEqual(['nofile', 'nproc']);
    expect(host.Init).toBe(true);
  });

  it('has no network, no published ports, no devices and no restart policy (H9, H13, H19, H21)', () => {
    expect(host.NetworkMode).toBe('none');
    expect(host.PortBindings).toEqual({});
    expect(host.PublishAllPorts).toBe(false);
    expect(host).not.toHaveProperty('Devices');
    expect(host.RestartPolicy?.Name).toBe('no');
    expect(p.network).toBeNull();
  });

  it('turns off the engine copy-up for images that do not prepare their volumes', () => {
    const own = (p: ReturnType<typeof plan>) =>
      toDockerCreateOptions(p.container).HostConfig!.Mounts!.filter(
        (m) => m.Type === 'volume' && m.Target !== '/.berth',
      );
    expect(own(plan(spec(), { ...ctx, volumesPrepared: false })).map((m) => m.VolumeOptions?.NoCopy)).toEqual(
      [true, true],
    );
    expect(own(plan(spec())).some((m) => m.VolumeOptions?.NoCopy)).toBe(false);
  });

  it('mounts /configs and the read-only tools, never /workspace', () => {
    expect(p.container.mounts.map((m) => [m.target, m.readOnly])).toEqual([
      ['/configs', false],
      ['/.berth', true],
    ]);
    expect(p.volumes.map((v) => v.role)).toEqual(['configs-volume']);
  });

  it('uses gVisor when preferred and available, never when off or missing (H25)', () => {
    expect(host.Runtime).toBe('runsc');
    expect(plan(spec({ tier: 1 }), { ...ctx, gvisorMode: 'off' }).container.ociRuntime).toBeNull();
    expect(plan(spec({ tier: 1 }), { ...ctx, gvisorAvailable: false }).container.ociRuntime).toBeNull();
    expect(plan(spec({ tier: 2 })).container.ociRuntime).toBeNull();
  });

  it('labels everything it creates (H24)', () => {
    for (const labels of [p.container.labels, ...p.volumes.map((v) => v.labels)]) {
      expect(labels).toMatchObject({
        'berth.managed': 'true',
        'berth.workspace': 'ws_0123456789abcdef',
        'berth.spec-hash': 'h'.repeat(64),
        'berth.generation': '1',
        'berth.test-run': 't1',
      });
    }
  });
});

describe('planWorkspace: tier 2 (standard)', () => {
  const p = plan(spec());
  const host = toDockerCreateOptions(p.container).HostConfig!;

  it('trims capabilities, forbids privilege gain and sets limits', () => {
    expect(host.CapDrop).toEqual(['ALL']);
    expect(host.CapAdd).toEqual(TIER2_CAPABILITIES);
    expect(host.CapAdd).not.toContain('NET_RAW');
    expect(host.CapAdd).not.toContain('MKNOD');
    expect(host.SecurityOpt).toEqual(['no-new-privileges:true']);
    expect(host.Memory).toBeGreaterThan(0);
    expect(host.PidsLimit).toBeGreaterThan(0);
    expect(host.ReadonlyRootfs).toBe(false);
  });

  it('passes a seccomp profile only when the engine default is not strict enough', () => {
    expect(toDockerCreateOptions(plan(spec()).container).HostConfig?.SecurityOpt).toEqual([
      'no-new-privileges:true',
    ]);
    const hardened = plan(spec(), { ...ctx, seccompProfile: '/data/seccomp/berth-tiers-1-2.json' });
    expect(toDockerCreateOptions(hardened.container).HostConfig?.SecurityOpt).toEqual([
      'no-new-privileges:true',
      'seccomp=/data/seccomp/berth-tiers-1-2.json',
    ]);
  });

  it('adds no capabilities where the engine would make them effective for the non-root user', () => {
    const podman = plan(spec(), { ...ctx, addedCapsEffectiveForNonRoot: true });
    expect(toDockerCreateOptions(podman.container).HostConfig?.CapAdd).toEqual([]);
    expect(toDockerCreateOptions(podman.container).HostConfig?.CapDrop).toEqual(['ALL']);
  });

  it('publishes the agent port and extra ports on 127.0.0.1 only, on its own network', () => {
    expect(host.PortBindings).toEqual({
      '8000/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }],
      '3000/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }],
    });
    expect(host.NetworkMode).toBe('berth-ws_0123456789abcdef');
    expect(p.network?.name).toBe('berth-ws_0123456789abcdef');
  });

  it('injects the platform contract last, so nothing overrides it', () => {
    const env: Record<string, string> = Object.fromEntries(
      p.container.env.map((e): [string, string] => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
    );
    expect(env).toMatchObject({
      WORKSPACE_ID: 'ws_0123456789abcdef',
      WORKSPACE_NAME: 'brave-otter',
      WORKSPACE_CONFIG_PATH: '/configs',
      WORKSPACE_DIR: '/workspace',
      PLATFORM_URL: 'http://172.17.0.1:7420',
      TIER: '2',
      USER_VAR: 'u',
      RUNTIME_VAR: 'r',
      LANG: 'C.UTF-8',
    });
  });

  it('follows the /workspace matrix of seed 000', () => {
    expect(p.container.mounts).toContainEqual({
      type: 'volume',
      source: 'berth-ws_0123456789abcdef-workspace',
      target: '/workspace',
      readOnly: false,
      noCopy: false,
    });
    const ro = plan(spec({ workspace: { access: 'read_only', hostPath: '/srv/project' } }));
    expect(ro.container.mounts).toContainEqual({
      type: 'bind',
      source: '/srv/project',
      target: '/workspace',
      readOnly: true,
    });
    expect(ro.volumes.map((v) => v.role)).toEqual(['configs-volume']);
    const rw = plan(spec({ workspace: { access: 'read_write', hostPath: '/srv/project' } }));
    expect(rw.container.mounts).toContainEqual({
      type: 'bind',
      source: '/srv/project',
      target: '/workspace',
      readOnly: false,
    });
  });
});

describe('planWorkspace: tiers 3 and 4', () => {
  it('tier 3 is privileged with host PID but keeps its own network', () => {
    const host = toDockerCreateOptions(plan(spec({ tier: 3 })).container).HostConfig!;
    expect(host.Privileged).toBe(true);
    expect(host.PidMode).toBe('host');
    expect(host.Init).toBe(false); // the host's init reaps; Podman refuses an init in the host PID namespace
    expect(host.NetworkMode).toBe('berth-ws_0123456789abcdef');
  });

  it('tier 4 adds host network and the engine socket', () => {
    const p = plan(spec({ tier: 4 }));
    const host = toDockerCreateOptions(p.container).HostConfig!;
    expect(host.NetworkMode).toBe('host');
    expect(p.container.mounts).toContainEqual({
      type: 'bind',
      source: '/var/run/docker.sock',
      target: '/var/run/docker.sock',
      readOnly: false,
    });
    expect(p.network).toBeNull();
  });
});

describe('planWorkspace: egress (X1)', () => {
  const allowlist = spec({
    egress: { mode: 'allowlist', allow: ['registry.npmjs.org'], deny: [] },
    grants: [],
  });

  it('allowlist: no network, no published ports, the gateway socket read-only, proxy and CA env', () => {
    const p = plan(allowlist);
    expect(p.network).toBeNull();
    expect(p.container.network).toEqual({ mode: 'none' });
    expect(p.container.publishPorts).toEqual([]);
    expect(p.container.mounts).toContainEqual({
      type: 'bind',
      source: '/var/lib/berth/run/egress/ws_0123456789abcdef',
      target: '/run/berth-egress',
      readOnly: true,
    });
    expect(p.container.env).toContain('HTTPS_PROXY=http://127.0.0.1:3128');
    expect(p.container.env).toContain('NODE_EXTRA_CA_CERTS=/run/berth-egress/ca.pem');
    expect(p.container.env).toContain('SSL_CERT_FILE=/run/berth-egress/ca-bundle.pem');
    // No credential or token in the container config: they live in /configs/.berth.
    expect(p.container.env.join('\n')).not.toMatch(/TOKEN=|API_KEY=/);
  });

  it('allowlist: berth-helper boot wraps the image entrypoint and command', () => {
    const p = plan(allowlist);
    expect(p.container.entrypoint).toEqual([
      '/.berth/bin/berth-helper',
      'boot',
      '--env-file',
      '/configs/.berth/env',
      '--egress-listen',
      '127.0.0.1:3128',
      '--egress-socket',
      '/run/berth-egress/egress.sock',
      '--egress-token-file',
      '/configs/.berth/egress-token',
      '--',
    ]);
    expect(p.container.cmd).toEqual(['/entry', 'serve', '--port', '8000']);
    expect(toDockerCreateOptions(p.container).Entrypoint).toEqual(p.container.entrypoint);
  });

  it('none on tier 2: loopback only, no gateway, no boot wrapper', () => {
    const p = plan(spec({ egress: { mode: 'none', allow: [], deny: [] } }));
    expect(p.container.network).toEqual({ mode: 'none' });
    expect(p.network).toBeNull();
    expect(p.container.entrypoint).toBeNull();
    expect(p.container.mounts.some((m) => m.target === '/run/berth-egress')).toBe(false);
    expect(p.container.env.some((e) => e.startsWith('HTTPS_PROXY='))).toBe(false);
  });

  it('open: unchanged (own network, published ports, the image command)', () => {
    const p = plan(spec());
    expect(p.container.network).toEqual({ mode: 'network', name: p.network?.name });
    expect(p.container.entrypoint).toBeNull();
    expect(p.container.cmd).toBeNull();
  });

  it('secretEnv alone: boot loads the env file, no egress options', () => {
    const p = plan(spec({ secretEnv: { DB_PASSWORD: 'db-password' } }));
    expect(p.container.entrypoint).toEqual([
      '/.berth/bin/berth-helper',
      'boot',
      '--env-file',
      '/configs/.berth/env',
      '--',
    ]);
    expect(p.container.env.some((e) => e.startsWith('DB_PASSWORD'))).toBe(false);
  });
});
