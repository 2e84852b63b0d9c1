import type { WorkspaceData, WorkspaceEvent } from '@berth/sdk';
import { describe, expect, it } from 'vitest';
import { parsePairs, parsePorts, progressText } from './format.js';
import { EMPTY, NO_FILTER, applyEvent, matches, upsert, visible } from './live-state.js';
import {
  EMPTY_GRANT,
  EMPTY_SECRET_ENV,
  INITIAL,
  grantsOf,
  secretEnvOf,
  specOf,
} from './pages/create-spec.js';

const ws = (over: Partial<WorkspaceData>): WorkspaceData =>
  ({
    id: 'ws_a',
    name: 'brave-otter',
    runtime: 'shell',
    status: 'provisioning',
    labels: {},
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    statusChangedAt: '2026-01-01T00:00:00.000Z',
    ...over,
  }) as WorkspaceData;

const event = (over: Partial<WorkspaceEvent>): WorkspaceEvent => ({
  id: 1,
  workspaceId: 'ws_a',
  at: '2026-01-01T00:00:05.000Z',
  type: 'workspace.running',
  status: 'running',
  message: '',
  ...over,
});

describe('dashboard live state', () => {
  it('applies a status event at once and asks for the full document', () => {
    const state = upsert(EMPTY, ws({}));
    const { state: next, refetch } = applyEvent(state, event({}));
    expect(next.items.ws_a?.status).toBe('running');
    expect(refetch).toBe(true);
  });

  it('keeps the newer document when an older one arrives late', () => {
    const fresh = upsert(EMPTY, ws({ status: 'running', updatedAt: '2026-01-01T00:00:09.000Z' }));
    expect(upsert(fresh, ws({ status: 'starting' })).items.ws_a?.status).toBe('running');
  });

  it('never brings a deleted workspace back', () => {
    const state = upsert(EMPTY, ws({}));
    const { state: gone, refetch } = applyEvent(
      state,
      event({ type: 'workspace.deleted', status: 'deleted' }),
    );
    expect(gone.items.ws_a).toBeUndefined();
    expect(refetch).toBe(false);
    expect(upsert(gone, ws({ status: 'deleting', updatedAt: '2026-01-02T00:00:00.000Z' })).items).toEqual({});
    expect(applyEvent(gone, event({ type: 'workspace.deleting', status: 'deleting' })).refetch).toBe(false);
  });

  it('fetches workspaces it does not hold yet', () => {
    expect(applyEvent(EMPTY, event({ workspaceId: 'ws_new', type: 'workspace.created' })).refetch).toBe(true);
  });

  it('filters by status, runtime, label and text, newest first', () => {
    const a = ws({ labels: { team: 'red' }, status: 'running' });
    const b = ws({ id: 'ws_b', name: 'calm-heron', runtime: 'py', createdAt: '2026-01-02T00:00:00.000Z' });
    let state = upsert(upsert(EMPTY, a), b);
    expect(visible(state, NO_FILTER).map((w) => w.id)).toEqual(['ws_b', 'ws_a']);
    expect(matches(a, { ...NO_FILTER, label: 'team=red' })).toBe(true);
    expect(matches(a, { ...NO_FILTER, label: 'team=blue' })).toBe(false);
    expect(matches(a, { ...NO_FILTER, label: 'team' })).toBe(true);
    expect(matches(b, { ...NO_FILTER, runtime: 'shell' })).toBe(false);
    expect(matches(b, { ...NO_FILTER, text: 'HERON' })).toBe(true);
    state = upsert(state, ws({ ...a, status: 'stopped', updatedAt: '2026-01-03T00:00:00.000Z' }));
    expect(visible(state, { ...NO_FILTER, status: 'stopped' }).map((w) => w.id)).toEqual(['ws_a']);
  });
});

describe('dashboard form parsing', () => {
  it('reads KEY=value lines and names the bad line', () => {
    expect(parsePairs('A=1\n\n# note\nB = two=2', 'env')).toEqual({ A: '1', B: ' two=2' });
    expect(() => parsePairs('A=1\noops', 'env')).toThrow('env, line 2: write KEY=value');
  });

  it('reads ports with optional names', () => {
    expect(parsePorts('3000, 8080:web')).toEqual([3000, { port: 8080, name: 'web' }]);
    expect(() => parsePorts('70000')).toThrow(/not a port/);
  });

  it('describes progress with its measure', () => {
    expect(
      progressText({ phase: 'image', message: 'pulling', current: 512, total: 2048, unit: 'bytes' }),
    ).toBe('pulling (512 B of 2.0 KiB)');
    expect(progressText({ phase: 'volumes', message: 'creating volumes' })).toBe('creating volumes');
  });
});

describe('dashboard create form', () => {
  it('sends only what was filled in, so the API applies its defaults', () => {
    expect(specOf(INITIAL)).toEqual({ runtime: 'shell', tier: 2 });
    expect(
      specOf({
        ...INITIAL,
        name: ' my-agent ',
        access: 'read_only',
        hostPath: '/srv/code',
        env: 'MODE=dev',
        ports: '3000:web',
        memoryMb: '256',
        egress: 'allowlist',
        egressAllow: 'api.example.com, *.pypi.org',
        grants: ['github'],
      }),
    ).toEqual({
      name: 'my-agent',
      runtime: 'shell',
      tier: 2,
      workspace: { access: 'read_only', hostPath: '/srv/code' },
      env: { MODE: 'dev' },
      ports: [{ port: 3000, name: 'web' }],
      resources: { memoryMb: 256 },
      egress: { mode: 'allowlist', allow: ['api.example.com', '*.pypi.org'] },
      grants: ['github'],
    });
  });

  it('adds custom grants and secret env after the built-in grants, skipping empty rows', () => {
    expect(
      specOf({
        ...INITIAL,
        grants: ['anthropic'],
        customGrants: [
          {
            name: ' internal ',
            hosts: 'api.internal.example, files.internal.example',
            header: 'Authorization',
            secret: 'INTERNAL_TOKEN',
            prefix: 'Bearer ',
          },
          { name: 'plain', hosts: 'x.example', header: 'X-Key', secret: 'X_KEY', prefix: '' },
          { ...EMPTY_GRANT },
        ],
        secretEnv: [{ key: ' DB_PASSWORD ', secret: 'db-password' }, { ...EMPTY_SECRET_ENV }],
      }),
    ).toEqual({
      runtime: 'shell',
      tier: 2,
      grants: [
        'anthropic',
        {
          name: 'internal',
          hosts: ['api.internal.example', 'files.internal.example'],
          header: 'Authorization',
          secret: 'INTERNAL_TOKEN',
          prefix: 'Bearer ',
        },
        { name: 'plain', hosts: ['x.example'], header: 'X-Key', secret: 'X_KEY' },
      ],
      secretEnv: { DB_PASSWORD: 'db-password' },
    });
    // Only empty rows: nothing is sent.
    expect(
      specOf({ ...INITIAL, customGrants: [{ ...EMPTY_GRANT }], secretEnv: [{ ...EMPTY_SECRET_ENV }] }),
    ).toEqual({ runtime: 'shell', tier: 2 });
    // A half-filled grant goes as typed, for the API to judge.
    expect(grantsOf([{ ...EMPTY_GRANT, name: 'x' }])).toEqual([
      { name: 'x', hosts: [], header: '', secret: '' },
    ]);
  });

  it('refuses secret env rows without a key, or a key twice', () => {
    expect(() => secretEnvOf([{ key: '', secret: 'db' }])).toThrow(/row 1: give the env var/);
    expect(() =>
      secretEnvOf([
        { key: 'A', secret: 'x' },
        { key: 'A', secret: 'y' },
      ]),
    ).toThrow(/row 2: A is given twice/);
  });
});
