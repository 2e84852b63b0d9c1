import type { AgentAck, AgentInfo, WorkspaceStatus } from '@berth/protocol';
import { z } from 'zod';
import type { ResolvedConfig } from '../config/load.js';
import type { WorkspaceRecord } from '../domain/workspace.js';
import { AppError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { WorkspaceRepo } from '../store/workspace-repo.js';
import { bearerToken } from '../util/bearer.js';
import { sha256Hex } from '../util/canonical-json.js';
import { parseWith } from './validate.js';

export const AgentRegisterSchema = z.strictObject({
  agent: z.string().max(200).optional(),
  version: z.string().max(100).optional(),
  pid: z.number().int().min(0).optional(),
});

export const AgentHeartbeatSchema = z.strictObject({
  status: z.enum(['ok', 'error']).optional(),
  task: z.string().max(1024).nullable().optional(),
  error: z.string().max(4096).nullable().optional(),
});

/** Statuses in which an agent's word counts; anything else (stopped, deleted, failed…) changes nothing. */
const LISTENING: WorkspaceStatus[] = ['starting', 'running', 'unresponsive'];

/**
 * The agent contract: an agent authenticates with the per-workspace token Berth wrote into
 * /configs (only its hash is stored), registers once, then heartbeats. Registration (or a first
 * heartbeat) moves a starting workspace to running; a heartbeat revives an unresponsive one. A
 * workspace that is stopped, failed or deleted ignores its agent (409), so a late heartbeat can
 * never resurrect it.
 */
export class AgentService {
  private readonly log: Logger;

  constructor(
    private readonly repo: WorkspaceRepo,
    private readonly config: Pick<ResolvedConfig, 'agents'>,
    private readonly onChange: (workspaceId: string) => void,
    logger: Logger,
  ) {
    this.log = logger.child({ component: 'agents' });
  }

  /** The workspace whose agent token this is; 401 otherwise (the token is never logged). */
  async authenticate(authorization: string | undefined): Promise<WorkspaceRecord> {
    const token = bearerToken(authorization);
    if (token === null) {
      throw new AppError(
        'unauthenticated',
        'send Authorization: Bearer <agent token>; the token is in the file $BERTH_AGENT_TOKEN_FILE',
      );
    }
    const ws = await this.repo.findByAgentTokenHash(sha256Hex(token));
    if (!ws)
      throw new AppError(
        'unauthenticated',
        'the agent token is unknown (its workspace was deleted or recreated)',
      );
    return ws;
  }

  async register(ws: WorkspaceRecord, body: unknown): Promise<AgentAck> {
    const input = parseWith(AgentRegisterSchema, body ?? {}, 'body');
    const now = new Date().toISOString();
    const agent: AgentInfo = {
      registeredAt: now,
      lastHeartbeatAt: now,
      status: 'ok',
      task: null,
      error: null,
      agent: [input.agent, input.version].filter(Boolean).join(' ') || null,
    };
    return this.report(ws, agent, 'registered', input.pid);
  }

  async heartbeat(ws: WorkspaceRecord, body: unknown): Promise<AgentAck> {
    const input = parseWith(AgentHeartbeatSchema, body ?? {}, 'body');
    const now = new Date().toISOString();
    const previous = ws.agent;
    const agent: AgentInfo = {
      registeredAt: previous?.registeredAt ?? now,
      lastHeartbeatAt: now,
      status: input.status ?? (input.error ? 'error' : 'ok'),
      task: input.task ?? null,
      error: input.error ?? null,
      agent: previous?.agent ?? null,
    };
    if (agent.status === 'error' && (previous?.status !== 'error' || previous.error !== agent.error)) {
      await this.repo.appendEvent(ws.id, {
        type: 'workspace.agent_error',
        message: `the agent reports an error: ${agent.error ?? '(no message)'}`,
        data: { task: agent.task },
      });
    } else if (agent.status === 'ok' && previous?.status === 'error') {
      await this.repo.appendEvent(ws.id, {
        type: 'workspace.agent_ok',
        message: 'the agent reports ok again',
      });
    }
    return this.report(ws, agent, 'heartbeat');
  }

  private async report(
    ws: WorkspaceRecord,
    agent: AgentInfo,
    kind: 'registered' | 'heartbeat',
    pid?: number,
  ): Promise<AgentAck> {
    if (!LISTENING.includes(ws.status) || ws.desiredState !== 'running') {
      throw new AppError(
        'invalid_state',
        `workspace ${ws.name} is ${ws.status} (desired ${ws.desiredState}); agent reports change nothing now`,
      );
    }
    if (!(await this.repo.recordAgent(ws.id, agent, LISTENING))) {
      throw new AppError(
        'invalid_state',
        `workspace ${ws.name} changed state; agent reports change nothing now`,
      );
    }
    let status = ws.status;
    if (ws.status === 'starting' || ws.status === 'unresponsive') {
      const moved = await this.repo.transition(ws.id, 'running', {
        from: [ws.status],
        event:
          ws.status === 'starting'
            ? {
                type: 'workspace.running',
                message: `the agent ${kind === 'registered' ? 'registered' : 'sent its first heartbeat'}`,
                data: { agent: agent.agent, ...(pid !== undefined ? { pid } : {}) },
              }
            : { type: 'workspace.agent_recovered', message: 'the agent heartbeats again' },
      });
      if (moved) {
        status = 'running';
        this.log.info({ workspaceId: ws.id, kind }, 'agent is up');
        this.onChange(ws.id);
      }
    }
    return { workspaceId: ws.id, status, heartbeatIntervalMs: this.config.agents.heartbeatIntervalMs };
  }
}
