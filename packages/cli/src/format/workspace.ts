import { TIER_NAMES, type Workspace as WorkspaceData, type WorkspaceEvent } from '@berth/protocol';
import { formatProgress } from './progress.js';
import { renderKeyValues, renderTable } from './table.js';
import { formatAge } from './units.js';

export const WORKSPACE_COLUMNS = ['NAME', 'ID', 'RUNTIME', 'TIER', 'STATUS', 'AGE', 'ENDPOINTS'] as const;

/** `failed (image_not_found)` for failed workspaces, the bare status otherwise. */
export function formatStatus(ws: WorkspaceData): string {
  return ws.status === 'failed' && ws.error ? `failed (${ws.error.code})` : ws.status;
}

export function formatEndpoints(ws: WorkspaceData): string {
  return ws.endpoints.map((e) => `${e.name}=${e.url}`).join(', ');
}

/** The `berth ls` table. */
export function renderWorkspaceTable(items: readonly WorkspaceData[], now: Date): string {
  return renderTable(
    WORKSPACE_COLUMNS,
    items.map((ws) => [
      ws.name,
      ws.id,
      ws.runtime,
      String(ws.tier),
      formatStatus(ws),
      formatAge(ws.createdAt, now),
      formatEndpoints(ws),
    ]),
  );
}

function list(values: readonly string[]): string {
  return values.length === 0 ? '-' : values.join(', ');
}

function labels(record: Readonly<Record<string, string>>): string {
  return list(Object.entries(record).map(([k, v]) => `${k}=${v}`));
}

/** The `berth get` view. Environment values are not shown (they may be secrets); `--json` has them. */
export function renderWorkspaceDetails(ws: WorkspaceData, now: Date): string {
  const pairs: [string, string][] = [
    ['Name', ws.name],
    ['ID', ws.id],
    ['Status', ws.status === ws.desiredState ? ws.status : `${ws.status} (desired: ${ws.desiredState})`],
  ];
  if (ws.error) pairs.push(['Error', `${ws.error.code}: ${ws.error.message}`]);
  if (ws.progress) pairs.push(['Progress', formatProgress(ws.progress)]);
  pairs.push(
    ['Runtime', ws.runtime],
    ['Image', ws.image],
    ['Tier', `${ws.tier} (${TIER_NAMES[ws.tier] ?? 'unknown'})`],
    ['OCI runtime', ws.engineRuntime ?? '-'],
    [
      'Workspace',
      ws.workspace.hostPath === null
        ? `volume (${ws.workspace.access})`
        : `${ws.workspace.hostPath} (${ws.workspace.access})`,
    ],
    [
      'Resources',
      `${ws.resources.memoryMb} MB memory, ${ws.resources.cpus} ${ws.resources.cpus === 1 ? 'CPU' : 'CPUs'}, ${ws.resources.pidsLimit} pids`,
    ],
    ['Env', list(Object.keys(ws.env))],
    ['Egress', formatEgress(ws)],
    ['Grants', list(ws.grants.map((g) => `${g.name} (${g.hosts.join(', ')})`))],
    ['Secret env', list(Object.entries(ws.secretEnv).map(([k, name]) => `${k} ← ${name}`))],
    ['Labels', labels(ws.labels)],
    ['Files', list(ws.files.map((f) => `/configs/${f}`))],
    ['Template', ws.template ?? '-'],
    ['Owner', ws.owner],
    ['Container', ws.containerId ? ws.containerId.slice(0, 12) : '-'],
    ['Restarts', formatRestarts(ws)],
    ['Agent', formatAgent(ws, now)],
    [
      'Lifecycle',
      [
        ws.idleTimeoutMs !== null ? `stop after ${ws.idleTimeoutMs} ms idle` : '',
        ws.ttlMs !== null ? `delete ${ws.ttlMs} ms after creation` : '',
      ]
        .filter(Boolean)
        .join('; ') || '-',
    ],
    ['Created', `${ws.createdAt} (${formatAge(ws.createdAt, now)} ago)`],
    ['Status since', `${ws.statusChangedAt} (${formatAge(ws.statusChangedAt, now)} ago)`],
  );
  pairs.push([
    'Endpoints',
    ws.endpoints.length === 0
      ? '-'
      : renderTable(
          ['NAME', 'URL', 'PORT'],
          ws.endpoints.map((e) => [e.name, e.url, `${e.containerPort}/${e.protocol}`]),
        ),
  ]);
  return renderKeyValues(pairs);
}

/** `allowlist: allow a.com, *.b.com; deny c.com`. */
export function formatEgress(ws: WorkspaceData): string {
  const parts: string[] = [];
  if (ws.egress.allow.length > 0) parts.push(`allow ${ws.egress.allow.join(', ')}`);
  if (ws.egress.deny.length > 0) parts.push(`deny ${ws.egress.deny.join(', ')}`);
  return parts.length > 0 ? `${ws.egress.mode}: ${parts.join('; ')}` : ws.egress.mode;
}

/** `2 (policy on-failure, last exit 3, next at …)`. */
export function formatRestarts(ws: WorkspaceData): string {
  const r = ws.restarts;
  const parts = [`policy ${ws.restartPolicy}`];
  if (r.recentFailures > 0)
    parts.push(`${r.recentFailures} recent failure${r.recentFailures === 1 ? '' : 's'}`);
  if (r.lastExitCode !== null) parts.push(`last exit ${r.lastExitCode}`);
  if (r.nextAttemptAt) parts.push(`next at ${r.nextAttemptAt}`);
  return `${r.count} (${parts.join(', ')})`;
}

/** What the agent last reported, or `-` without one. */
export function formatAgent(ws: WorkspaceData, now: Date): string {
  const a = ws.agent;
  if (!a) return '-';
  const parts = [a.status === 'error' ? `error: ${a.error ?? '?'}` : 'ok'];
  if (a.task) parts.push(`task: ${a.task}`);
  if (a.lastHeartbeatAt) parts.push(`heartbeat ${formatAge(a.lastHeartbeatAt, now)} ago`);
  if (a.agent) parts.push(a.agent);
  return parts.join(', ');
}

/** The `berth events` table. */
export function renderEventTable(items: readonly WorkspaceEvent[]): string {
  return renderTable(
    ['ID', 'TIME', 'TYPE', 'STATUS', 'MESSAGE'],
    items.map((e) => [String(e.id), e.at, e.type, e.status ?? '-', e.message]),
  );
}
