import type { Berth, WorkspaceEvent } from '@berth/sdk';
import { useEffect, useState } from 'react';
import { ErrorBox } from '../components/error-box.js';
import { StatusBadge } from '../components/status.js';
import { time } from '../format.js';

const KEEP = 1000;

/** The workspace's event history, then live events (SSE over fetch), newest first. */
export function EventsPanel({ berth, id }: { berth: Berth; id: string }) {
  const [events, setEvents] = useState<WorkspaceEvent[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [statusOnly, setStatusOnly] = useState(false);
  useEffect(() => {
    const abort = new AbortController();
    setEvents([]);
    (async () => {
      for await (const event of berth.workspaces.streamEvents(id, { after: 0, signal: abort.signal })) {
        setEvents((list) => [event, ...list].slice(0, KEEP));
      }
    })().catch((err: unknown) => {
      if (!abort.signal.aborted) setError(err);
    });
    return () => abort.abort();
  }, [berth, id]);
  const shown = statusOnly
    ? events.filter((e, i) => e.status !== null && e.status !== events[i + 1]?.status)
    : events;
  return (
    <div>
      <div className="row between">
        <h2>Events</h2>
        <label className="inline">
          <input type="checkbox" checked={statusOnly} onChange={(e) => setStatusOnly(e.target.checked)} />{' '}
          Status changes only
        </label>
      </div>
      <ErrorBox error={error} />
      <div className="table-wrap">
        <table className="events">
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Event</th>
              <th scope="col">Status</th>
              <th scope="col">Message</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((e) => (
              <tr key={e.id}>
                <td className="nowrap">
                  <time dateTime={e.at}>{time(e.at)}</time>
                </td>
                <td>
                  <code>{e.type}</code>
                </td>
                <td>{e.status ? <StatusBadge status={e.status} /> : null}</td>
                <td>{e.message}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {shown.length === 0 && !error ? <p className="empty">No events yet.</p> : null}
      </div>
    </div>
  );
}
