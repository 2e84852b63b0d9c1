import { describe, expect, it } from 'vitest';
import { EventNotifier } from './event-notifier.js';

describe('EventNotifier', () => {
  it('calls every subscriber until it unsubscribes, and survives a throwing one', () => {
    const notifier = new EventNotifier();
    const calls: string[] = [];
    const listener = () => calls.push('a');
    const offA = notifier.subscribe(listener);
    const offB = notifier.subscribe(listener);
    const offC = notifier.subscribe(() => {
      throw new Error('not my problem');
    });
    expect(notifier.listenerCount).toBe(3);
    notifier.notify();
    expect(calls).toEqual(['a', 'a']);
    offA();
    offA();
    offC();
    notifier.notify();
    expect(calls).toEqual(['a', 'a', 'a']);
    offB();
    expect(notifier.listenerCount).toBe(0);
    expect(notifier.sequence).toBe(2);
  });

  it('waits for the next signal, a timeout or an abort, and always unsubscribes', async () => {
    const notifier = new EventNotifier();
    const notified = notifier.wait({ timeoutMs: 5_000 });
    expect(notifier.listenerCount).toBe(1);
    notifier.notify();
    expect(await notified).toBe(true);
    expect(await notifier.wait({ timeoutMs: 10 })).toBe(false);
    const abort = new AbortController();
    const aborted = notifier.wait({ signal: abort.signal });
    abort.abort();
    expect(await aborted).toBe(false);
    expect(await notifier.wait({ signal: abort.signal })).toBe(false);
    expect(notifier.listenerCount).toBe(0);
  });
});
