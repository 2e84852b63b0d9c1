import type { Berth, Endpoint, PreviewUrl, WorkspaceData } from '@berth/sdk';
import { useState } from 'react';
import { ErrorBox } from '../components/error-box.js';
import { limits, time } from '../format.js';
import { ResourceUse } from './resources.js';

function Preview({ berth, ws, endpoint }: { berth: Berth; ws: WorkspaceData; endpoint: Endpoint }) {
  const [preview, setPreview] = useState<PreviewUrl | null>(null);
  const [error, setError] = useState<unknown>(null);
  return (
    <li>
      <strong>{endpoint.name}</strong> — container port {endpoint.containerPort}, on the host{' '}
      <a href={endpoint.url} target="_blank" rel="noreferrer noopener">
        {endpoint.url}
      </a>{' '}
      {preview ? (
        <a className="button" href={preview.url} target="_blank" rel="noreferrer noopener">
          Open preview of {endpoint.name} (until {time(preview.expiresAt)})
        </a>
      ) : (
        <button
          type="button"
          disabled={ws.status !== 'running'}
          onClick={() => {
            setError(null);
            berth.workspaces
              .ref(ws.id)
              .getPreviewUrl(endpoint.containerPort)
              .then(setPreview)
              .catch((err: unknown) => setError(err));
          }}
        >
          Preview link for {endpoint.name}
        </button>
      )}
      <ErrorBox error={error} />
    </li>
  );
}

/** Details, endpoints with preview links through Berth's proxy, and resource use over time. */
export function OverviewPanel({ berth, ws }: { berth: Berth; ws: WorkspaceData }) {
  const rows: Array<[string, string]> = [
    ['Id', ws.id],
    ['Runtime', ws.runtime],
    ['Image', ws.image],
    ['Tier', `${ws.tier}${ws.engineRuntime ? ` (${ws.engineRuntime})` : ''}`],
    ['Resources (limits)', limits(ws)],
    [
      '/workspace',
      ws.workspace.hostPath
        ? `${ws.workspace.hostPath} (${ws.workspace.access})`
        : ws.tier === 1
          ? 'none (tier 1)'
          : 'isolated volume',
    ],
    ['Restart policy', ws.restartPolicy],
    [
      'Egress',
      ws.egress
        ? `${ws.egress.mode}${ws.egress.allow.length > 0 ? `: ${ws.egress.allow.join(', ')}` : ''}`
        : '—',
    ],
    ['Grants', ws.grants?.map((g) => `${g.name} (${g.hosts.join(', ')})`).join('; ') || '—'],
    [
      'Restarts',
      `${ws.restarts.count}${ws.restarts.lastExitCode !== null ? `, last exit code ${ws.restarts.lastExitCode}` : ''}`,
    ],
    ['Created', time(ws.createdAt)],
    ['Status since', time(ws.statusChangedAt)],
    ['Last activity', ws.lastActivityAt ? time(ws.lastActivityAt) : '—'],
    [
      'Labels',
      Object.entries(ws.labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ') || '—',
    ],
    ['Environment', Object.keys(ws.env).join(', ') || '—'],
  ];
  if (ws.agent)
    rows.push([
      'Agent',
      `${ws.agent.status}${ws.agent.task ? `: ${ws.agent.task}` : ''}${ws.agent.error ? ` (${ws.agent.error})` : ''}`,
    ]);
  return (
    <div className="overview">
      <section aria-labelledby="details-title">
        <h2 id="details-title">Details</h2>
        <dl className="details">
          {rows.map(([k, v]) => (
            <div key={k}>
              <dt>{k}</dt>
              <dd>{v}</dd>
            </div>
          ))}
        </dl>
      </section>
      <ResourceUse berth={berth} ws={ws} />
      <section aria-labelledby="endpoints-title">
        <h2 id="endpoints-title">Endpoints</h2>
        {ws.endpoints.length === 0 ? (
          <p className="muted">No published ports.</p>
        ) : (
          <ul className="endpoints">
            {ws.endpoints.map((e) => (
              <Preview key={e.name} berth={berth} ws={ws} endpoint={e} />
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}
