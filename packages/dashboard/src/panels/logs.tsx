import type { Berth, LogLine } from '@berth/sdk';
import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import { ErrorBox } from '../components/error-box.js';

const TAIL = 500;
const KEEP = 5000;

interface Line extends LogLine {
  n: number;
}

type FollowState = 'connecting' | 'following' | 'ended';

/**
 * The workspace process's output, followed live (`GET …/logs?follow=true`, NDJSON over fetch).
 * Pause holds new lines back (they are kept and shown on resume); search filters what is shown.
 */
export function LogsPanel({ berth, id, running }: { berth: Berth; id: string; running: boolean }) {
  const [lines, setLines] = useState<Line[]>([]);
  const [paused, setPaused] = useState(false);
  const [held, setHeld] = useState(0);
  const [search, setSearch] = useState('');
  const [state, setState] = useState<FollowState>('connecting');
  const [error, setError] = useState<unknown>(null);
  const [attempt, setAttempt] = useState(0);
  const pausedRef = useRef(false);
  const buffer = useRef<Line[]>([]);
  const box = useRef<HTMLPreElement>(null);
  const stick = useRef(true);

  useEffect(() => {
    const abort = new AbortController();
    let n = 0;
    setLines([]);
    buffer.current = [];
    setHeld(0);
    setError(null);
    setState('connecting');
    const flush = (): void => {
      const batch = buffer.current;
      buffer.current = [];
      setHeld(0);
      if (batch.length > 0) setLines((all) => [...all, ...batch].slice(-KEEP));
    };
    // Lines arrive in bursts: render at most every 100 ms.
    const timer = setInterval(() => {
      if (pausedRef.current) setHeld(buffer.current.length);
      else flush();
    }, 100);
    berth.workspaces
      .ref(id)
      .logs({
        follow: true,
        tail: TAIL,
        timestamps: true,
        signal: abort.signal,
        timeoutMs: 30_000,
        onLine: (line) => {
          setState('following');
          buffer.current.push({ ...line, n: n++ });
          if (buffer.current.length > KEEP) buffer.current.splice(0, buffer.current.length - KEEP);
        },
      })
      .then(() => {
        flush();
        setState('ended');
      })
      .catch((err: unknown) => {
        if (abort.signal.aborted) return;
        flush();
        setError(err);
        setState('ended');
      });
    // Following starts once the response is open, even before the first line.
    const opened = setTimeout(() => setState((s) => (s === 'connecting' ? 'following' : s)), 800);
    return () => {
      abort.abort();
      clearInterval(timer);
      clearTimeout(opened);
    };
    // A workspace that runs again (start, restart) gets a new follow.
  }, [berth, id, running, attempt]);

  useLayoutEffect(() => {
    const el = box.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [lines]);

  const needle = search.trim().toLowerCase();
  const shown = needle ? lines.filter((l) => l.text.toLowerCase().includes(needle)) : lines;
  const togglePause = (): void => {
    pausedRef.current = !paused;
    setPaused(!paused);
  };
  return (
    <div className="logs">
      <div className="row between wrap">
        <h2>Logs</h2>
        <div className="row wrap">
          <span className="muted" role="status">
            {state === 'following'
              ? paused
                ? `Paused${held ? `, ${held} new lines held` : ''}`
                : 'Following'
              : state === 'ended'
                ? 'Stream ended (the process is not running)'
                : 'Connecting…'}
          </span>
          <button type="button" onClick={togglePause} aria-pressed={paused}>
            {paused ? 'Resume' : 'Pause'}
          </button>
          {state === 'ended' ? (
            <button type="button" onClick={() => setAttempt((a) => a + 1)}>
              Reconnect
            </button>
          ) : null}
          <button type="button" onClick={() => setLines([])}>
            Clear
          </button>
          <label className="inline">
            <span className="sr-only">Search logs</span>
            <input
              type="search"
              placeholder="Search logs"
              value={search}
              onChange={(e) => setSearch(e.target.value)}
            />
          </label>
        </div>
      </div>
      <ErrorBox error={error} />
      {needle ? (
        <p className="muted small">
          {shown.length} of {lines.length} lines match
        </p>
      ) : null}
      <pre
        ref={box}
        className="log-lines"
        role="log"
        aria-live="off"
        aria-label="Log lines"
        tabIndex={0}
        onScroll={(e) => {
          const el = e.currentTarget;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
        }}
      >
        {shown.map((l) => (
          <div key={l.n} className={`log-line ${l.stream}`}>
            {l.time ? <span className="log-time">{l.time.slice(11, 23)} </span> : null}
            {l.text}
          </div>
        ))}
      </pre>
    </div>
  );
}
