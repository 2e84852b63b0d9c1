import { describe, expect, it } from 'vitest';
import type { ContainerPlan } from '../engine/types.js';
import { detectDrift, normalizeImage, type InspectDoc } from './drift.js';

const plan: ContainerPlan = {
  name: 'berth-ws_1',
  image: 'berth-shell:0.1.0',
  user: '1000:1000',
  env: ['WORKSPACE_ID=ws_1', 'PLATFORM_URL=http://127.0.0.1:7420', 'API_MODE=test'],
  cmd: null,
  workingDir: '/workspace',
  labels: { 'berth.spec-hash': 'h1' },
  mounts: [
    { type: 'volume', source: 'berth-ws_1-configs', target: '/configs', readOnly: false },
    { type: 'volume', source: 'berth-tools-aaaa', target: '/.berth', readOnly: true },
    { type: 'bind', source: '/srv/run', target: '/run/berth', readOnly: true },
  ],
  tmpfs: {},
  readOnlyRootfs: false,
  capDrop: ['ALL'],
  capAdd: [],
  noNewPrivileges: true,
  seccompProfile: null,
  privileged: false,
  pidModeHost: false,
  network: { mode: 'network', name: 'berth-ws_1' },
  publishPorts: [8000],
  memoryBytes: 1,
  nanoCpus: 1,
  pidsLimit: 1,
  ulimits: [],
  init: true,
  ociRuntime: null,
  logMaxSize: '1m',
  logMaxFiles: 1,
};

/** What Docker reports for a container made from `plan` from an image that sets PATH. */
const matching = (): InspectDoc => ({
  Config: {
    Image: 'berth-shell:0.1.0',
    User: '1000:1000',
    Env: [...plan.env, 'PATH=/usr/bin:/bin'],
    Labels: { 'berth.spec-hash': 'h1' },
  },
  HostConfig: {
    NetworkMode: 'berth-ws_1',
    PortBindings: { '8000/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] },
  },
  Mounts: [
    { Type: 'volume', Name: 'berth-ws_1-configs', Destination: '/configs', RW: true },
    { Type: 'volume', Name: 'berth-tools-aaaa', Destination: '/.berth', RW: false },
    { Type: 'bind', Source: '/srv/run', Destination: '/run/berth', RW: false },
  ],
  NetworkSettings: { Networks: { 'berth-ws_1': {} } },
});

const drift = (actual: InspectDoc) =>
  detectDrift({
    plan,
    specHash: 'h1',
    actual,
    imageEnv: ['PATH=/usr/bin:/bin'],
    hostDerivedEnv: ['PLATFORM_URL'],
  });

describe('drift detection (seed 004)', () => {
  it('finds none for the container the plan describes', () => {
    expect(drift(matching())).toEqual([]);
  });

  it('ignores host-derived values, engine-added env, the tools volume and Podman image prefixes', () => {
    const a = matching();
    a.Config!.Env = a.Config!.Env!.map((e) =>
      e.startsWith('PLATFORM_URL=') ? 'PLATFORM_URL=http://x:1' : e,
    );
    a.Config!.Image = 'localhost/berth-shell:0.1.0';
    a.Mounts![1]!.Name = 'berth-tools-bbbb';
    a.Config!.Env.push('HOSTNAME=abc', 'TERM=xterm', 'container=podman'); // Podman adds these
    expect(drift(a)).toEqual([]);
  });

  it('reports a changed spec-hash label, image and user', () => {
    const a = matching();
    a.Config!.Labels = { 'berth.spec-hash': 'h0' };
    a.Config!.Image = 'evil:1';
    a.Config!.User = '0:0';
    expect(drift(a).map((d) => d.field)).toEqual(['spec-hash', 'image', 'user']);
  });

  it('reports env keys that are missing, changed or unexpected — never their values', () => {
    const a = matching();
    a.Config!.Env = [
      'WORKSPACE_ID=ws_1',
      'PLATFORM_URL=http://127.0.0.1:7420',
      'API_MODE=prod-SECRET-VALUE',
      'LD_PRELOAD=/tmp/x.so',
      'PATH=/usr/bin:/bin',
    ];
    const [d] = drift(a);
    expect(d).toMatchObject({ field: 'env' });
    expect(d!.detail).toBe('changed API_MODE; unexpected LD_PRELOAD');
    expect(d!.detail).not.toContain('SECRET');
    const b = matching();
    b.Config!.Env = b.Config!.Env!.filter((e) => !e.startsWith('API_MODE='));
    expect(drift(b)[0]!.detail).toBe('missing API_MODE');
    const c = matching();
    c.Config!.Env = c.Config!.Env!.map((e) => (e.startsWith('PATH=') ? 'PATH=/evil' : e));
    expect(drift(c)[0]!.detail).toBe('unexpected PATH');
  });

  it('reports ports published elsewhere or beyond loopback', () => {
    const a = matching();
    a.HostConfig!.PortBindings = { '8000/tcp': [{ HostIp: '0.0.0.0', HostPort: '' }] };
    expect(drift(a).map((d) => d.field)).toEqual(['ports']);
    const b = matching();
    b.HostConfig!.PortBindings = {
      '8000/tcp': [{ HostIp: '127.0.0.1' }],
      '22/tcp': [{ HostIp: '127.0.0.1' }],
    };
    expect(drift(b)[0]!.detail).toContain('22/tcp');
  });

  it('reports missing, extra and read-write-flipped mounts', () => {
    const a = matching();
    a.Mounts!.push({ Type: 'bind', Source: '/', Destination: '/host', RW: true });
    a.Mounts![2]!.RW = true;
    const [d] = drift(a);
    expect(d!.field).toBe('mounts');
    expect(d!.detail).toContain('missing bind:/srv/run:/run/berth:ro');
    expect(d!.detail).toContain('unexpected bind:/srv/run:/run/berth:rw, bind:/:/host:rw');
  });

  it('reports a container attached to another network too', () => {
    const a = matching();
    a.NetworkSettings!.Networks = { 'berth-ws_1': {}, bridge: {} };
    expect(drift(a).map((d) => d.field)).toEqual(['network']);
  });

  it('normalises image references', () => {
    expect(normalizeImage('docker.io/library/debian')).toBe('debian:latest');
    expect(normalizeImage('localhost/berth-shell:1')).toBe('berth-shell:1');
    expect(normalizeImage('ghcr.io/a/b@sha256:00')).toBe('ghcr.io/a/b@sha256:00');
  });
});
