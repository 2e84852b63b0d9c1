import { ConflictError, type Berth, type WorkspaceStats } from '@berth/sdk';
import { useEffect, useState } from 'react';
import { appendSample } from './chart.js';

/** How often a workspace page samples its workspace, and how far back its chart goes. */
export const STATS_POLL_MS = 5000;
export const STATS_WINDOW_MS = 5 * 60_000;
/** The list samples fewer workspaces, less often, a few at a time. */
const LIST_POLL_MS = 10_000;
const LIST_MAX = 50;
const LIST_CONCURRENCY = 4;

/**
 * Samples of one workspace's resource use (`GET /v1/workspaces/{id}/stats`) over the last few
 * minutes, taken every few seconds while it runs and the page is visible. Each request takes about
 * a second (the engine measures CPU over that time), so the next one waits for the last.
 */
export function useStatsHistory(
  berth: Berth,
  id: string,
  running: boolean,
): { samples: WorkspaceStats[]; error: unknown } {
  const [samples, setSamples] = useState<WorkspaceStats[]>([]);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    if (!running) return;
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async (): Promise<void> => {
      if (!document.hidden) {
        try {
          const sample = await berth.workspaces.stats(id, { signal: abort.signal });
          setSamples((history) => appendSample(history, sample, STATS_WINDOW_MS));
          setError(null);
        } catch (err) {
          // Stopped meanwhile: the status says so; the chart keeps what it has.
          if (!abort.signal.aborted && !(err instanceof ConflictError)) setError(err);
        }
      }
      if (!abort.signal.aborted) timer = setTimeout(() => void tick(), STATS_POLL_MS);
    };
    void tick();
    return () => {
      abort.abort();
      clearTimeout(timer);
    };
  }, [berth, id, running]);
  return { samples, error };
}

/**
 * The latest sample of each of these (running) workspaces, for the list: the first 50, four
 * requests at a time, every 10 seconds while the page is visible. Failures leave a gap.
 */
export function useCurrentStats(
  berth: Berth,
  ids: readonly string[],
): Readonly<Record<string, WorkspaceStats>> {
  const key = ids.slice(0, LIST_MAX).join(',');
  const [stats, setStats] = useState<Record<string, WorkspaceStats>>({});
  useEffect(() => {
    const wanted = key ? key.split(',') : [];
    if (wanted.length === 0) return;
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const round = async (): Promise<void> => {
      if (!document.hidden) {
        const queue = [...wanted];
        const worker = async (): Promise<void> => {
          for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
            try {
              const sample = await berth.workspaces.stats(id, { signal: abort.signal });
              setStats((all) => ({ ...all, [sample.workspaceId]: sample }));
            } catch {
              // not running any more, or gone: the row says so
            }
          }
        };
        await Promise.all(Array.from({ length: Math.min(LIST_CONCURRENCY, queue.length) }, worker));
      }
      if (!abort.signal.aborted) timer = setTimeout(() => void round(), LIST_POLL_MS);
    };
    void round();
    return () => {
      abort.abort();
      clearTimeout(timer);
    };
  }, [berth, key]);
  return stats;
}
