import type { Berth, WorkspaceData } from '@berth/sdk';
import { NotFoundError } from '@berth/sdk';
import { useEffect, useState } from 'react';
import { ActionButtons, useActions } from '../components/actions.js';
import { ConfirmDialog } from '../components/confirm.js';
import { ErrorBox } from '../components/error-box.js';
import { Link } from '../components/link.js';
import { ProgressLine, StatusBadge } from '../components/status.js';
import { TabList, TabPanel, type Tab } from '../components/tabs.js';
import type { Live } from '../live.js';
import { EventsPanel } from '../panels/events.js';
import { FilesPanel } from '../panels/files.js';
import { LogsPanel } from '../panels/logs.js';
import { OverviewPanel } from '../panels/overview.js';
import { TerminalPanel } from '../panels/terminal.js';
import { navigate, workspacePath } from '../router.js';

const TABS: Tab[] = [
  { id: 'overview', label: 'Overview' },
  { id: 'events', label: 'Events' },
  { id: 'logs', label: 'Logs' },
  { id: 'terminal', label: 'Terminal' },
  { id: 'files', label: 'Files' },
];

/** The workspace by id or name: from the live list, else fetched once (then the list keeps it current). */
function useWorkspace(
  berth: Berth,
  live: Live,
  idOrName: string,
): { ws: WorkspaceData | undefined; error: unknown } {
  const fromLive =
    live.state.items[idOrName] ?? Object.values(live.state.items).find((w) => w.name === idOrName);
  const [fetched, setFetched] = useState<WorkspaceData | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    setError(null);
    berth.workspaces
      .get(idOrName)
      .then((ws) => setFetched(ws.data))
      .catch((err: unknown) => setError(err));
    // Fetched once per workspace; the live list keeps it current from then on.
  }, [berth, idOrName]);
  const gone = fetched ? live.state.gone[fetched.id] : false;
  if (gone)
    return {
      ws: undefined,
      error: new NotFoundError({ code: 'workspace_not_found', message: `workspace ${idOrName} was deleted` }),
    };
  return { ws: fromLive ?? fetched, error: fromLive ? null : error };
}

export function WorkspacePage({
  berth,
  live,
  id,
  tab,
}: {
  berth: Berth;
  live: Live;
  id: string;
  tab: string | undefined;
}) {
  const { ws, error } = useWorkspace(berth, live, id);
  const active = TABS.some((t) => t.id === tab) ? (tab as string) : 'overview';
  const [visited, setVisited] = useState<Set<string>>(() => new Set([active]));
  const actions = useActions(berth, (wsId, action) => {
    if (action === 'delete') navigate('/');
    else live.refresh(wsId);
  });
  useEffect(() => {
    setVisited((v) => (v.has(active) ? v : new Set([...v, active])));
  }, [active]);
  if (!ws) {
    return (
      <main>
        <p>
          <Link href="/">← Workspaces</Link>
        </p>
        {error ? <ErrorBox error={error} /> : <p className="empty">Loading…</p>}
      </main>
    );
  }
  const running = ws.status === 'running' || ws.status === 'unresponsive';
  return (
    <main>
      <p>
        <Link href="/">← Workspaces</Link>
      </p>
      <div className="row between wrap ws-header">
        <div>
          <h1>
            {ws.name} <StatusBadge status={ws.status} />
          </h1>
          <p className="muted small">
            {ws.id} · {ws.runtime} · tier {ws.tier}
          </p>
          <ProgressLine ws={ws} />
        </div>
        <ActionButtons ws={ws} onAsk={(action) => actions.ask(ws, action)} />
      </div>
      <ErrorBox error={actions.error} />
      {ws.error ? (
        <div className="error-box" role="alert" aria-labelledby="last-error">
          <strong id="last-error">Last error </strong>
          <code className="error-code">{ws.error.code}</code> <span>{ws.error.message}</span>
        </div>
      ) : null}
      <TabList
        tabs={TABS}
        active={active}
        label="Workspace views"
        onSelect={(t) => navigate(workspacePath(id, t === 'overview' ? undefined : t), { replace: true })}
      />
      <TabPanel id="overview" active={active === 'overview'}>
        <OverviewPanel berth={berth} ws={ws} />
      </TabPanel>
      <TabPanel id="events" active={active === 'events'}>
        {visited.has('events') ? <EventsPanel berth={berth} id={ws.id} /> : null}
      </TabPanel>
      <TabPanel id="logs" active={active === 'logs'}>
        {visited.has('logs') ? <LogsPanel berth={berth} id={ws.id} running={running} /> : null}
      </TabPanel>
      <TabPanel id="terminal" active={active === 'terminal'}>
        {visited.has('terminal') ? (
          <TerminalPanel berth={berth} id={ws.id} running={running} visible={active === 'terminal'} />
        ) : null}
      </TabPanel>
      <TabPanel id="files" active={active === 'files'}>
        {visited.has('files') ? <FilesPanel berth={berth} id={ws.id} /> : null}
      </TabPanel>
      <ConfirmDialog request={actions.request} onClose={actions.close} />
    </main>
  );
}
