import type { Workspace as WorkspaceData } from '@berth/protocol';
import { describe, expect, it } from 'vitest';
import { renderWorkspaceDetails, renderWorkspaceTable } from './workspace.js';

const now = new Date('2025-01-10T12:00:00Z');
const base: WorkspaceData = {
  id: 'ws_01',
  name: 'brave-lynx',
  owner: 'tok_admin',
  runtime: 'shell',
  image: 'berth/shell:0.1.0',
  tier: 2,
  engineRuntime: 'runc',
  status: 'running',
  desiredState: 'running',
  error: null,
  env: { SECRET_KEY: 'do-not-print' },
  workspace: { access: 'read_write', hostPath: null },
  ports: [{ port: 8080, name: 'agent' }],
  endpoints: [
    {
      name: 'agent',
      containerPort: 8080,
      protocol: 'tcp',
      hostIp: '127.0.0.1',
      hostPort: 49153,
      url: 'http://127.0.0.1:49153',
    },
  ],
  resources: { memoryMb: 512, cpus: 1, pidsLimit: 256 },
  labels: { team: 'infra' },
  files: ['config.yaml'],
  template: null,
  readiness: null,
  specHash: 'abc',
  generation: 1,
  containerId: '0123456789abcdef',
  progress: null,
  restartPolicy: 'on-failure',
  idleTimeoutMs: null,
  ttlMs: null,
  restarts: { count: 0, recentFailures: 0, lastExitCode: null, nextAttemptAt: null },
  agent: null,
  lastActivityAt: null,
  egress: { mode: 'open', allow: [], deny: [] },
  grants: [],
  secretEnv: {},
  agentConfig: null,
  createdAt: '2025-01-10T11:55:00Z',
  updatedAt: '2025-01-10T11:56:00Z',
  statusChangedAt: '2025-01-10T11:56:00Z',
};

describe('renderWorkspaceTable', () => {
  it('has the ls columns and shows failure codes', () => {
    const failed: WorkspaceData = {
      ...base,
      id: 'ws_02',
      name: 'x',
      status: 'failed',
      endpoints: [],
      error: { code: 'image_not_found', message: 'm' },
      createdAt: '2025-01-10T09:00:00Z',
    };
    expect(renderWorkspaceTable([base, failed], now).split('\n')).toEqual([
      'NAME        ID     RUNTIME  TIER  STATUS                    AGE  ENDPOINTS',
      'brave-lynx  ws_01  shell    2     running                   5m   agent=http://127.0.0.1:49153',
      'x           ws_02  shell    2     failed (image_not_found)  3h',
    ]);
  });
});

describe('renderWorkspaceDetails', () => {
  it('shows endpoints and env keys but not env values', () => {
    const text = renderWorkspaceDetails(base, now);
    expect(text).toContain('Name:          brave-lynx');
    expect(text).toContain('Tier:          2 (standard)');
    expect(text).toContain('http://127.0.0.1:49153');
    expect(text).toContain('SECRET_KEY');
    expect(text).not.toContain('do-not-print');
    expect(text).not.toContain('Error:');
  });
  it('shows the error code and message of a failed workspace and the desired state when it differs', () => {
    const text = renderWorkspaceDetails(
      { ...base, status: 'failed', error: { code: 'engine_error', message: 'container create refused' } },
      now,
    );
    expect(text).toContain('Status:        failed (desired: running)');
    expect(text).toContain('Error:         engine_error: container create refused');
  });
});

describe('restarts and agent', () => {
  it('shows the restart policy, failures and next attempt, and what the agent reported', () => {
    const text = renderWorkspaceDetails(
      {
        ...base,
        status: 'starting',
        restarts: { count: 2, recentFailures: 3, lastExitCode: 137, nextAttemptAt: '2025-01-10T12:00:04Z' },
        agent: {
          registeredAt: '2025-01-10T11:58:00Z',
          lastHeartbeatAt: '2025-01-10T11:59:30Z',
          status: 'error',
          task: 'indexing',
          error: 'disk full',
          agent: 'berth-helper 0.1.0',
        },
        idleTimeoutMs: 60_000,
      },
      now,
    );
    expect(text).toContain(
      'Restarts:      2 (policy on-failure, 3 recent failures, last exit 137, next at 2025-01-10T12:00:04Z)',
    );
    expect(text).toContain(
      'Agent:         error: disk full, task: indexing, heartbeat 30s ago, berth-helper 0.1.0',
    );
    expect(text).toContain('Lifecycle:     stop after 60000 ms idle');
    expect(renderWorkspaceDetails(base, now)).toContain('Agent:         -');
  });
});
