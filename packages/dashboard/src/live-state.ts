import type { WorkspaceData, WorkspaceEvent, WorkspaceStatus } from '@berth/sdk';

/**
 * The workspace list as the dashboard holds it: documents from `GET /v1/workspaces/:id`, kept
 * current by the event stream. Pure functions of plain data (unit-tested in live-state.test.ts).
 */
export interface LiveState {
  items: Readonly<Record<string, WorkspaceData>>;
  /** Ids seen deleted: a late fetch or list page must not bring them back. */
  gone: Readonly<Record<string, true>>;
}

export const EMPTY: LiveState = { items: {}, gone: {} };

/** Takes a fetched document unless it is older than what is held, or the workspace is gone. */
export function upsert(state: LiveState, ws: WorkspaceData): LiveState {
  if (state.gone[ws.id] || ws.status === 'deleted') return remove(state, ws.id);
  const held = state.items[ws.id];
  if (held && Date.parse(held.updatedAt) > Date.parse(ws.updatedAt)) return state;
  return { ...state, items: { ...state.items, [ws.id]: ws } };
}

export function remove(state: LiveState, id: string): LiveState {
  if (state.gone[id] && !state.items[id]) return state;
  const items = { ...state.items };
  delete items[id];
  return { items, gone: { ...state.gone, [id]: true } };
}

/**
 * Applies an event at once (its status), before the refetch it triggers brings the rest
 * (endpoints, error, progress). Returns whether the workspace needs fetching.
 */
export function applyEvent(state: LiveState, event: WorkspaceEvent): { state: LiveState; refetch: boolean } {
  if (event.type === 'workspace.deleted' || event.status === 'deleted') {
    return { state: remove(state, event.workspaceId), refetch: false };
  }
  if (state.gone[event.workspaceId]) return { state, refetch: false };
  const held = state.items[event.workspaceId];
  if (!held || event.status === null || held.status === event.status) return { state, refetch: true };
  const next: WorkspaceData = { ...held, status: event.status, statusChangedAt: event.at };
  return { state: { ...state, items: { ...state.items, [held.id]: next } }, refetch: true };
}

export interface ListFilter {
  status: WorkspaceStatus | '';
  runtime: string;
  /** `key=value` or `key` (label present). */
  label: string;
  /** Part of the name or id. */
  text: string;
}

export const NO_FILTER: ListFilter = { status: '', runtime: '', label: '', text: '' };

export function matches(ws: WorkspaceData, filter: ListFilter): boolean {
  if (filter.status && ws.status !== filter.status) return false;
  if (filter.runtime && ws.runtime !== filter.runtime) return false;
  const label = filter.label.trim();
  if (label) {
    const at = label.indexOf('=');
    const key = at < 0 ? label : label.slice(0, at).trim();
    if (!(key in ws.labels)) return false;
    if (at >= 0 && ws.labels[key] !== label.slice(at + 1).trim()) return false;
  }
  const text = filter.text.trim().toLowerCase();
  if (text && !ws.name.toLowerCase().includes(text) && !ws.id.toLowerCase().includes(text)) return false;
  return true;
}

/** Newest first, as the API lists them. */
export function visible(state: LiveState, filter: ListFilter): WorkspaceData[] {
  return Object.values(state.items)
    .filter((ws) => matches(ws, filter))
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));
}
