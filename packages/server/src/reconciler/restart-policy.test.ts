import { describe, expect, it } from 'vitest';
import { classifyExit, decideRestart } from './restart-policy.js';

const settings = { maxFailures: 3, windowMs: 60_000, backoffBaseMs: 1000, backoffMaxMs: 3000 };
const now = Date.parse('2026-12-01T12:00:00Z');
const ago = (ms: number) => new Date(now - ms).toISOString();

describe('exit classification', () => {
  it('tells completion, errors, OOM kills and outside signals apart', () => {
    expect(classifyExit({ exitCode: 0, oomKilled: false })).toBe('completed');
    expect(classifyExit({ exitCode: 1, oomKilled: false })).toBe('error');
    expect(classifyExit({ exitCode: 137, oomKilled: true })).toBe('oom');
    expect(classifyExit({ exitCode: 137, oomKilled: false })).toBe('killed');
    expect(classifyExit({ exitCode: 143, oomKilled: false })).toBe('killed');
    expect(classifyExit({ exitCode: null, oomKilled: false })).toBe('error');
  });
});

describe('restart decisions', () => {
  it('never: a clean exit stops the workspace, any other fails it with container_exited', () => {
    expect(decideRestart('never', 'completed', [], now, settings)).toEqual({ action: 'stop' });
    expect(decideRestart('never', 'oom', [], now, settings)).toMatchObject({
      action: 'fail',
      code: 'container_exited',
    });
  });

  it('on-failure: restarts errors, OOM and kills but not a clean exit', () => {
    expect(decideRestart('on-failure', 'completed', [], now, settings)).toEqual({ action: 'stop' });
    for (const exit of ['error', 'oom', 'killed'] as const) {
      expect(decideRestart('on-failure', exit, [], now, settings)).toMatchObject({
        action: 'restart',
        attempt: 1,
        delayMs: 1000,
      });
    }
  });

  it('always: restarts a clean exit too, and counts it towards a crash loop', () => {
    expect(decideRestart('always', 'completed', [ago(1000)], now, settings)).toMatchObject({
      action: 'restart',
      attempt: 2,
    });
  });

  it('backs off exponentially up to the cap', () => {
    const delays = [[], [ago(1)], [ago(2), ago(1)]].map(
      (prev) =>
        (decideRestart('always', 'error', prev, now, { ...settings, maxFailures: 9 }) as { delayMs: number })
          .delayMs,
    );
    expect(delays).toEqual([1000, 2000, 3000]);
  });

  it('makes the maxFailures-th failure inside the window a crash_loop', () => {
    const d = decideRestart('on-failure', 'error', [ago(2000), ago(1000)], now, settings);
    expect(d).toMatchObject({ action: 'fail', code: 'crash_loop' });
    expect((d as { failureTimes: string[] }).failureTimes).toHaveLength(3);
  });

  it('forgets failures older than the window', () => {
    const d = decideRestart('on-failure', 'error', [ago(120_000), ago(90_000), ago(61_000)], now, settings);
    expect(d).toMatchObject({ action: 'restart', attempt: 1, failureTimes: [new Date(now).toISOString()] });
  });
});
