import type { WorkspaceStatus } from '@berth/protocol';

/**
 * Which status may follow which. Every status change in the store is a conditional update
 * `... WHERE status IN (allowedFrom(to))`, so a late writer can never move a workspace backwards —
 * in particular nothing leaves `deleting` except to `deleted`, and nothing leaves `deleted`.
 */
const NEXT: Record<WorkspaceStatus, readonly WorkspaceStatus[]> = {
  provisioning: ['starting', 'stopping', 'failed', 'deleting'],
  // `stopped` straight from starting/running/unresponsive: the process finished cleanly on its own.
  starting: ['running', 'provisioning', 'failed', 'stopping', 'stopped', 'deleting'],
  running: ['unresponsive', 'stopping', 'stopped', 'starting', 'provisioning', 'failed', 'deleting'],
  unresponsive: ['running', 'starting', 'provisioning', 'failed', 'stopping', 'stopped', 'deleting'],
  stopping: ['stopped', 'failed', 'deleting'],
  stopped: ['provisioning', 'starting', 'stopping', 'deleting'],
  failed: ['provisioning', 'starting', 'stopping', 'failed', 'deleting'],
  deleting: ['deleted'],
  deleted: [],
};

export function canTransition(from: WorkspaceStatus, to: WorkspaceStatus): boolean {
  return NEXT[from].includes(to);
}

/** The statuses from which `to` may be entered. */
export function allowedFrom(to: WorkspaceStatus): WorkspaceStatus[] {
  return (Object.keys(NEXT) as WorkspaceStatus[]).filter((from) => NEXT[from].includes(to));
}
