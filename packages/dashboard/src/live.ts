import type { Berth, WorkspaceData } from '@berth/sdk';
import { NotFoundError } from '@berth/sdk';
import { TRANSITIONAL_STATUSES } from '@berth/protocol';
import { useEffect, useRef, useState } from 'react';
import { EMPTY, applyEvent, remove, upsert, type LiveState } from './live-state.js';

export type StreamState = 'connecting' | 'live' | 'reconnecting';

export interface Live {
  state: LiveState;
  stream: StreamState;
  /** The first list failed (e.g. the server went away); the stream keeps trying. */
  error: unknown;
  loaded: boolean;
  /** Re-reads one workspace now (after an action). */
  refresh(id: string): void;
}

const RELIST_MS = 30_000;
const PROGRESS_POLL_MS = 700;

/**
 * Every workspace the token may see, live: the event stream (`GET /v1/events`, SSE over fetch with
 * the bearer header) moves statuses at once and triggers a re-read of the workspace; workspaces in a
 * transitional status are re-read often, for their `progress`; a re-list every 30 s closes any gap
 * between the first list and the stream.
 */
export function useLiveWorkspaces(berth: Berth): Live {
  const [state, setState] = useState<LiveState>(EMPTY);
  const [stream, setStream] = useState<StreamState>('connecting');
  const [error, setError] = useState<unknown>(null);
  const [loaded, setLoaded] = useState(false);
  const refreshRef = useRef<(id: string) => void>(() => undefined);
  const stateRef = useRef(state);
  stateRef.current = state;

  useEffect(() => {
    const abort = new AbortController();
    const { signal } = abort;
    const pending = new Map<string, ReturnType<typeof setTimeout>>();

    const fetchOne = (id: string, delayMs = 100): void => {
      if (pending.has(id) || signal.aborted) return;
      pending.set(
        id,
        setTimeout(() => {
          pending.delete(id);
          berth.workspaces
            .get(id, { signal })
            .then((ws) => setState((s) => upsert(s, ws.data)))
            .catch((err: unknown) => {
              if (err instanceof NotFoundError) setState((s) => remove(s, id));
            });
        }, delayMs),
      );
    };
    refreshRef.current = (id) => fetchOne(id, 0);

    const list = async (): Promise<void> => {
      const seen: WorkspaceData[] = [];
      for await (const ws of berth.workspaces.listAll({ signal })) seen.push(ws.data);
      setState((s) => {
        let next = s;
        for (const ws of seen) next = upsert(next, ws);
        // Held workspaces the list no longer has were deleted while nobody watched.
        const ids = new Set(seen.map((ws) => ws.id));
        for (const id of Object.keys(next.items)) if (!ids.has(id)) next = remove(next, id);
        return next;
      });
      setLoaded(true);
      setError(null);
      setStream('live');
    };

    const follow = async (): Promise<void> => {
      const events = berth.events.stream({
        after: 'now',
        signal,
        // Back after an outage: what changed meanwhile comes with a fresh list.
        onReconnect: () => {
          setStream('reconnecting');
          setTimeout(() => void list().catch(() => undefined), 1000);
        },
      });
      // Statuses come in the event; the rest of the document with the re-read it triggers.
      for await (const event of events) {
        setStream('live');
        setState((s) => applyEvent(s, event).state);
        if (event.type !== 'workspace.deleted' && event.status !== 'deleted') fetchOne(event.workspaceId);
      }
    };

    follow().catch(() => setStream('reconnecting'));
    list().catch((err: unknown) => {
      if (!signal.aborted) setError(err);
    });
    const relist = setInterval(() => void list().catch(() => undefined), RELIST_MS);
    const poll = setInterval(() => {
      for (const ws of Object.values(stateRef.current.items)) {
        if (TRANSITIONAL_STATUSES.includes(ws.status)) fetchOne(ws.id, 0);
      }
    }, PROGRESS_POLL_MS);
    return () => {
      abort.abort();
      clearInterval(relist);
      clearInterval(poll);
      for (const timer of pending.values()) clearTimeout(timer);
    };
  }, [berth]);

  return { state, stream, error, loaded, refresh: (id) => refreshRef.current(id) };
}
