import { describe, expect, it } from 'vitest';
import { ActivityTracker } from './activity.js';
import { lifecycleDecision, type LifecycleSubject } from './idle.js';

const T0 = Date.parse('2025-01-01T00:00:00.000Z');
const iso = (ms: number) => new Date(T0 + ms).toISOString();

function subject(overrides: Partial<LifecycleSubject> & { idle?: number | null; ttl?: number | null } = {}) {
  const { idle = null, ttl = null, ...rest } = overrides;
  return {
    status: 'running',
    desiredState: 'running',
    createdAt: iso(0),
    statusChangedAt: iso(1000),
    lastActivityAt: null,
    spec: { lifecycle: { idleTimeoutMs: idle, ttlMs: ttl } },
    ...rest,
  } satisfies LifecycleSubject;
}

describe('lifecycleDecision', () => {
  it('never acts when both limits are null', () => {
    expect(lifecycleDecision(subject(), null, T0 + 1e9).action).toBeNull();
  });

  it('idles from when the workspace became running, with no activity seen', () => {
    const ws = subject({ idle: 5000 });
    expect(lifecycleDecision(ws, null, T0 + 5999).action).toBeNull();
    expect(lifecycleDecision(ws, null, T0 + 6000)).toMatchObject({ action: 'stop', idleMs: 5000 });
  });

  it('idles from the latest of in-memory activity, stored lastActivityAt and becoming running', () => {
    const ws = subject({ idle: 5000, lastActivityAt: iso(3000) });
    expect(lifecycleDecision(ws, null, T0 + 7999).action).toBeNull();
    expect(lifecycleDecision(ws, null, T0 + 8000).action).toBe('stop');
    expect(lifecycleDecision(ws, T0 + 4000, T0 + 8000).action).toBeNull();
    expect(lifecycleDecision(ws, T0 + 4000, T0 + 9000)).toMatchObject({ action: 'stop', idleMs: 5000 });
    // Older in-memory activity does not hide newer stored activity.
    expect(lifecycleDecision(ws, T0 + 2000, T0 + 7999).action).toBeNull();
  });

  it('gives a fresh idle period after a start: old activity does not count', () => {
    const ws = subject({ idle: 5000, lastActivityAt: iso(1000), statusChangedAt: iso(60_000) });
    expect(lifecycleDecision(ws, T0 + 1000, T0 + 64_999).action).toBeNull();
    expect(lifecycleDecision(ws, T0 + 1000, T0 + 65_000).action).toBe('stop');
  });

  it('only stops workspaces that run and are meant to', () => {
    const late = T0 + 1e9;
    expect(lifecycleDecision(subject({ idle: 1000, status: 'unresponsive' }), null, late).action).toBe(
      'stop',
    );
    for (const status of ['provisioning', 'starting', 'stopping', 'stopped', 'failed'] as const) {
      expect(lifecycleDecision(subject({ idle: 1000, status }), null, late).action, status).toBeNull();
    }
    expect(lifecycleDecision(subject({ idle: 1000, desiredState: 'stopped' }), null, late).action).toBeNull();
  });

  it('deletes at the ttl, counted from creation, in any live status', () => {
    for (const status of [
      'provisioning',
      'starting',
      'running',
      'unresponsive',
      'stopped',
      'failed',
    ] as const) {
      const ws = subject({ ttl: 10_000, status, desiredState: status === 'stopped' ? 'stopped' : 'running' });
      expect(lifecycleDecision(ws, null, T0 + 9999).action, status).toBeNull();
      expect(lifecycleDecision(ws, null, T0 + 10_000), status).toMatchObject({
        action: 'delete',
        ageMs: 10_000,
      });
    }
  });

  it('ttl wins over idle, and over recent activity', () => {
    const ws = subject({ idle: 1000, ttl: 10_000 });
    expect(lifecycleDecision(ws, T0 + 20_000, T0 + 20_000).action).toBe('delete');
    expect(lifecycleDecision(ws, null, T0 + 9000).action).toBe('stop');
  });

  it('leaves workspaces being deleted alone', () => {
    const late = T0 + 1e9;
    expect(lifecycleDecision(subject({ ttl: 1000, status: 'deleting' }), null, late).action).toBeNull();
    expect(lifecycleDecision(subject({ ttl: 1000, desiredState: 'deleted' }), null, late).action).toBeNull();
    expect(lifecycleDecision(subject({ ttl: 1000, status: 'deleted' }), null, late).action).toBeNull();
  });
});

describe('ActivityTracker', () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const store = (live = true) => {
    const writes: [string, string][] = [];
    return {
      writes,
      touchActivity: (id: string, at: string) => (writes.push([id, at]), Promise.resolve(live)),
    };
  };

  it('writes the first touch at once, then at most once per interval, with the latest time', async () => {
    const s = store();
    const tracker = new ActivityTracker(s, { persistEveryMs: 100 });
    tracker.touch('ws_a');
    await sleep(0);
    expect(s.writes).toHaveLength(1);
    for (let i = 0; i < 5; i++) tracker.touch('ws_a');
    await sleep(0);
    expect(s.writes).toHaveLength(1);
    await sleep(150);
    expect(s.writes).toHaveLength(2);
    expect(Date.parse(s.writes[1]![1])).toBeGreaterThanOrEqual(Date.parse(s.writes[0]![1]));
    tracker.touch('ws_b');
    await tracker.close();
    expect(s.writes.map(([id]) => id)).toEqual(['ws_a', 'ws_a', 'ws_b']);
  });

  it('counts open sessions as activity now, until each is ended (once)', async () => {
    const tracker = new ActivityTracker(store(), { persistEveryMs: 1000 });
    expect(tracker.lastActiveAt('ws_a')).toBeNull();
    const end1 = tracker.begin('ws_a');
    const end2 = tracker.begin('ws_a');
    await sleep(30);
    expect(tracker.lastActiveAt('ws_a', 123)).toBe(123);
    end1();
    end1();
    expect(tracker.openSessions('ws_a')).toBe(1);
    end2();
    expect(tracker.openSessions('ws_a')).toBe(0);
    await sleep(30);
    const now = Date.now();
    expect(now - tracker.lastActiveAt('ws_a', now)!).toBeGreaterThanOrEqual(20);
    await tracker.close();
  });

  it('forgets a workspace the store no longer has', async () => {
    const tracker = new ActivityTracker(store(false), { persistEveryMs: 1000 });
    tracker.touch('ws_gone');
    await sleep(0);
    expect(tracker.lastActiveAt('ws_gone')).toBeNull();
    await tracker.close();
  });
});
