import type { Progress, WorkspaceData } from '@berth/sdk';
import { progressText } from '../format.js';

/** A status as a word with a colour and a shape: never colour alone. */
export function StatusBadge({ status }: { status: WorkspaceData['status'] }) {
  return (
    <span className={`badge status-${status}`} data-status={status}>
      {status}
    </span>
  );
}

/** What a workspace's long operation is doing (see ProgressView). */
export function ProgressLine({ ws }: { ws: Pick<WorkspaceData, 'progress' | 'status'> }) {
  return <ProgressView progress={ws.progress} />;
}

/** What a long operation is doing: a bar when the API reports a measure, else a spinner and its words. */
export function ProgressView({ progress }: { progress: Progress | null }) {
  if (!progress) return null;
  const measured = progress.current !== undefined && progress.total;
  return (
    <span className="progress" role="status">
      {measured ? (
        <progress max={progress.total} value={progress.current} aria-label={progress.message} />
      ) : (
        <span className="spinner" aria-hidden="true" />
      )}
      <span className="progress-text">{progressText(progress)}</span>
    </span>
  );
}
