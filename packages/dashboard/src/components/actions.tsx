import type { Berth, WorkspaceData } from '@berth/sdk';
import { useState } from 'react';
import type { ConfirmRequest } from './confirm.js';

export type Action = 'stop' | 'start' | 'restart' | 'delete';

const COPY: Record<Action, { title: string; body: string; confirm: string; danger?: boolean }> = {
  stop: {
    title: 'Stop',
    body: 'The container stops; files in /workspace are kept and Start resumes it.',
    confirm: 'Stop',
  },
  start: { title: 'Start', body: 'The workspace starts again with its data.', confirm: 'Start' },
  restart: {
    title: 'Restart',
    body: 'The process restarts: open terminals and running commands end.',
    confirm: 'Restart',
  },
  delete: {
    title: 'Delete',
    body: 'The container and its volumes are removed, with every file in /workspace. This cannot be undone.',
    confirm: 'Delete',
    danger: true,
  },
};

export function actionsFor(ws: Pick<WorkspaceData, 'status'>): Action[] {
  switch (ws.status) {
    case 'running':
    case 'unresponsive':
      return ['stop', 'restart', 'delete'];
    case 'stopped':
    case 'failed':
      return ['start', 'delete'];
    case 'deleting':
    case 'deleted':
      return [];
    default:
      return ['delete'];
  }
}

/** Runs lifecycle actions after confirmation; the result shows through the live status. */
export function useActions(berth: Berth, after?: (id: string, action: Action) => void) {
  const [request, setRequest] = useState<ConfirmRequest | null>(null);
  const [error, setError] = useState<unknown>(null);
  const ask = (ws: Pick<WorkspaceData, 'id' | 'name'>, action: Action): void => {
    const copy = COPY[action];
    setRequest({
      ...copy,
      title: `${copy.title} ${ws.name}?`,
      run: async () => {
        setError(null);
        try {
          const options = { wait: false };
          if (action === 'delete') await berth.workspaces.delete(ws.id, options);
          else await berth.workspaces[action](ws.id, options);
          after?.(ws.id, action);
        } catch (err) {
          setError(err);
        }
      },
    });
  };
  return { request, close: () => setRequest(null), ask, error, clearError: () => setError(null) };
}

export function ActionButtons({
  ws,
  onAsk,
  compact,
}: {
  ws: Pick<WorkspaceData, 'id' | 'name' | 'status'>;
  onAsk: (action: Action) => void;
  compact?: boolean;
}) {
  return (
    <div className="row actions">
      {actionsFor(ws).map((action) => (
        <button
          key={action}
          type="button"
          className={action === 'delete' ? 'danger-outline' : undefined}
          aria-label={compact ? `${COPY[action].title} ${ws.name}` : undefined}
          onClick={() => onAsk(action)}
        >
          {COPY[action].title}
        </button>
      ))}
    </div>
  );
}
