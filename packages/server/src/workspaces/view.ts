import type { Progress, Workspace } from '@berth/protocol';
import type { WorkspaceRecord } from '../domain/workspace.js';

/** A workspace as the API shows it. File contents are not echoed, only their paths. */
export function toWireWorkspace(ws: WorkspaceRecord, progress: Progress | null): Workspace {
  return {
    id: ws.id,
    name: ws.name,
    owner: ws.ownerId,
    runtime: ws.runtime,
    image: ws.image,
    tier: ws.tier,
    engineRuntime: ws.engineRuntime,
    status: ws.status,
    desiredState: ws.desiredState,
    error: ws.error,
    env: ws.spec.env,
    workspace: ws.spec.workspace,
    ports: ws.spec.ports,
    endpoints: ws.status === 'running' || ws.status === 'unresponsive' ? ws.endpoints : [],
    resources: ws.spec.resources,
    labels: ws.labels,
    files: Object.keys(ws.spec.files).sort(),
    template: ws.spec.template,
    readiness: ws.spec.readiness ?? null,
    specHash: ws.specHash,
    generation: ws.generation,
    containerId: ws.containerId,
    progress,
    restartPolicy: ws.spec.lifecycle.restartPolicy,
    idleTimeoutMs: ws.spec.lifecycle.idleTimeoutMs,
    ttlMs: ws.spec.lifecycle.ttlMs,
    restarts: {
      count: ws.restartCount,
      recentFailures: ws.failureTimes.length,
      lastExitCode: ws.lastExitCode,
      nextAttemptAt: ws.nextAttemptAt,
    },
    agent: ws.agent,
    lastActivityAt: ws.lastActivityAt,
    egress: ws.spec.egress,
    grants: ws.spec.grants,
    secretEnv: ws.spec.secretEnv,
    agentConfig: ws.spec.agentConfig ?? null,
    createdAt: ws.createdAt,
    updatedAt: ws.updatedAt,
    statusChangedAt: ws.statusChangedAt,
  };
}
