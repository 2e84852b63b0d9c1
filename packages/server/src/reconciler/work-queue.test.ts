import { describe, expect, it } from 'vitest';
import { WorkQueue } from './work-queue.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const opts = { concurrency: 2, baseDelayMs: 10, maxDelayMs: 80, passTimeoutMs: 1000, random: () => 0.5 };

describe('keyed work queue', () => {
  it('runs nothing before start, then each queued key once', async () => {
    const runs: string[] = [];
    const q = new WorkQueue((k) => Promise.resolve(void runs.push(k)), opts);
    const a1 = q.add('a');
    const a2 = q.add('a');
    void q.add('b');
    await sleep(20);
    expect(runs).toEqual([]);
    q.start();
    await Promise.all([a1, a2]);
    await sleep(10);
    expect(runs.sort()).toEqual(['a', 'b']);
  });

  it('never runs one key twice at once, and reruns a key queued while it ran', async () => {
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    const q = new WorkQueue(async () => {
      active++;
      runs++;
      maxActive = Math.max(maxActive, active);
      await sleep(30);
      active--;
    }, opts);
    q.start();
    const first = q.add('k');
    await sleep(5);
    const second = q.add('k'); // while the first pass runs
    const third = q.add('k');
    await first;
    await Promise.all([second, third]);
    expect(runs).toBe(2); // coalesced into one more pass
    expect(maxActive).toBe(1);
  });

  it('bounds concurrency across keys', async () => {
    let active = 0;
    let maxActive = 0;
    const q = new WorkQueue(async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      await sleep(20);
      active--;
    }, opts);
    q.start();
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((k) => q.add(k)));
    expect(maxActive).toBe(2);
  });

  it('retries a failing key with exponential, capped, jittered backoff and reports the error', async () => {
    const times: number[] = [];
    let fails = 3;
    const q = new WorkQueue(() => {
      times.push(Date.now());
      return fails-- > 0 ? Promise.reject(new Error('engine down')) : Promise.resolve();
    }, opts);
    q.start();
    const result = await q.add('k');
    expect(result).toBeInstanceOf(Error);
    while (times.length < 4) await sleep(5);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    // random 0.5 → 75% of the cap: caps 10, 20, 40 → 7.5, 15, 30 ms
    expect(gaps[0]).toBeGreaterThanOrEqual(6);
    expect(gaps[1]).toBeGreaterThan(gaps[0]!);
    expect(gaps[2]).toBeGreaterThan(gaps[1]!);
    await sleep(50);
    expect(times).toHaveLength(4); // success ends the retries
    expect(q.failureCount('k')).toBe(0);
  });

  it('caps the backoff and keeps it within [cap/2, cap)', () => {
    const low = new WorkQueue(() => Promise.resolve(), { ...opts, random: () => 0 });
    const high = new WorkQueue(() => Promise.resolve(), { ...opts, random: () => 0.999 });
    expect(low.backoff(1)).toBe(5);
    expect(high.backoff(1)).toBeLessThan(10);
    expect(low.backoff(30)).toBe(40);
    expect(high.backoff(30)).toBeLessThanOrEqual(80);
  });

  it('aborts a pass that exceeds its deadline and counts it as failed', async () => {
    let sawAbort = false;
    const q = new WorkQueue(
      async (_k, signal) => {
        await sleep(60);
        sawAbort = signal.aborted;
      },
      { ...opts, passTimeoutMs: 20, baseDelayMs: 10_000, maxDelayMs: 10_000 },
    );
    q.start();
    const result = await q.add('slow');
    expect(sawAbort).toBe(true);
    expect(String(result)).toMatch(/exceeded 20 ms/);
    expect(q.failureCount('slow')).toBe(1);
    await q.stop(100);
  });

  it('delays a key; an earlier request wins over a later one', async () => {
    const runs: number[] = [];
    const start = Date.now();
    const q = new WorkQueue(() => Promise.resolve(void runs.push(Date.now() - start)), opts);
    q.start();
    q.addAfter('k', 200);
    q.addAfter('k', 30);
    await sleep(120);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toBeLessThan(110);
    await q.stop(100);
  });

  it('answers waiters with an error once stopped', async () => {
    const q = new WorkQueue(() => Promise.resolve(), opts);
    const pending = q.add('never-started');
    await q.stop(10);
    expect(String(await pending)).toMatch(/stopped/);
  });
});
