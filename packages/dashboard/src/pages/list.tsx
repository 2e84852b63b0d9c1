import { WORKSPACE_STATUSES } from '@berth/protocol';
import type { Berth, WorkspaceData, WorkspaceStats, WorkspaceStatus } from '@berth/sdk';
import { useEffect, useState } from 'react';
import { ActionButtons, useActions } from '../components/actions.js';
import { ConfirmDialog } from '../components/confirm.js';
import { ErrorBox } from '../components/error-box.js';
import { Link } from '../components/link.js';
import { ProgressLine, StatusBadge } from '../components/status.js';
import { percent } from '../chart.js';
import { age, bytes, limits } from '../format.js';
import { NO_FILTER, visible, type ListFilter } from '../live-state.js';
import type { Live } from '../live.js';
import { workspacePath } from '../router.js';
import { useCurrentStats } from '../stats.js';

const isRunning = (ws: WorkspaceData): boolean => ws.status === 'running' || ws.status === 'unresponsive';

/** Re-renders every few seconds so ages move. */
function useNow(everyMs: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

function Endpoints({ ws }: { ws: WorkspaceData }) {
  if (ws.endpoints.length === 0) return <span className="muted">none</span>;
  return (
    <ul className="plain">
      {ws.endpoints.map((e) => (
        <li key={e.name}>
          <a
            href={e.url}
            target="_blank"
            rel="noreferrer noopener"
            title={`${e.name}: container port ${e.containerPort}`}
          >
            {e.name} :{e.hostPort}
          </a>
        </li>
      ))}
    </ul>
  );
}

function InUse({ stats }: { stats: WorkspaceStats | undefined }) {
  if (!stats) return null;
  return (
    <div className="muted" data-usage>
      in use: {percent(stats.cpu.percent)} CPU, {bytes(stats.memory.usageBytes)}
    </div>
  );
}

function Filters({
  filter,
  setFilter,
  runtimes,
}: {
  filter: ListFilter;
  setFilter: (f: ListFilter) => void;
  runtimes: string[];
}) {
  return (
    <form
      className="filters"
      role="search"
      aria-label="Filter workspaces"
      onSubmit={(e) => e.preventDefault()}
    >
      <label>
        Search
        <input
          type="search"
          value={filter.text}
          placeholder="name or id"
          onChange={(e) => setFilter({ ...filter, text: e.target.value })}
        />
      </label>
      <label>
        Status
        <select
          value={filter.status}
          onChange={(e) => setFilter({ ...filter, status: e.target.value as WorkspaceStatus | '' })}
        >
          <option value="">any</option>
          {WORKSPACE_STATUSES.filter((s) => s !== 'deleted').map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </label>
      <label>
        Runtime
        <select value={filter.runtime} onChange={(e) => setFilter({ ...filter, runtime: e.target.value })}>
          <option value="">any</option>
          {runtimes.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
      </label>
      <label>
        Label
        <input
          value={filter.label}
          placeholder="key=value"
          onChange={(e) => setFilter({ ...filter, label: e.target.value })}
        />
      </label>
    </form>
  );
}

export function WorkspaceList({ berth, live }: { berth: Berth; live: Live }) {
  const [filter, setFilter] = useState<ListFilter>(NO_FILTER);
  const actions = useActions(berth, (id) => live.refresh(id));
  const now = useNow(5000);
  const all = Object.values(live.state.items);
  const runtimes = [...new Set(all.map((ws) => ws.runtime))].sort();
  const rows = visible(live.state, filter);
  // What the running rows use now (a sample every few seconds, for the first rows only).
  const usage = useCurrentStats(
    berth,
    rows.filter(isRunning).map((ws) => ws.id),
  );
  return (
    <main>
      <div className="row between">
        <h1>Workspaces</h1>
        <Link href="/new" className="button primary">
          New workspace
        </Link>
      </div>
      <Filters filter={filter} setFilter={setFilter} runtimes={runtimes} />
      <ErrorBox error={live.error} title="Could not list workspaces" />
      <ErrorBox error={actions.error} />
      <div className="table-wrap">
        <table className="workspaces">
          <caption className="sr-only">
            Workspaces, newest first; {rows.length} of {all.length} shown
          </caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Runtime</th>
              <th scope="col">Tier</th>
              <th scope="col">Status</th>
              <th scope="col">Age</th>
              <th scope="col" className="wide">
                Resources (limits; in use)
              </th>
              <th scope="col" className="wide">
                Endpoints
              </th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((ws) => (
              <tr key={ws.id} data-workspace={ws.name}>
                <th scope="row">
                  <Link href={workspacePath(ws.id)}>{ws.name}</Link>
                  <div className="muted small">{ws.id}</div>
                </th>
                <td>{ws.runtime}</td>
                <td>{ws.tier}</td>
                <td>
                  <StatusBadge status={ws.status} />
                  <ProgressLine ws={ws} />
                  {ws.error ? <div className="small error-text">{ws.error.code}</div> : null}
                </td>
                <td>
                  <time dateTime={ws.createdAt} title={ws.createdAt}>
                    {age(ws.createdAt, now)}
                  </time>
                </td>
                <td className="wide small">
                  {limits(ws)}
                  {isRunning(ws) ? <InUse stats={usage[ws.id]} /> : null}
                </td>
                <td className="wide">
                  <Endpoints ws={ws} />
                </td>
                <td>
                  <ActionButtons ws={ws} compact onAsk={(action) => actions.ask(ws, action)} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {live.loaded && rows.length === 0 ? (
          <p className="empty">
            {all.length === 0
              ? 'No workspaces yet. Create one with “New workspace”.'
              : 'No workspace matches these filters.'}
          </p>
        ) : null}
        {!live.loaded && !live.error ? <p className="empty">Loading…</p> : null}
      </div>
      <ConfirmDialog request={actions.request} onClose={actions.close} />
    </main>
  );
}
