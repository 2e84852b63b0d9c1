import type { AgentAck } from '@berth/protocol';
import type { FastifyInstance } from 'fastify';
import type { AgentService } from '../../workspaces/agents.js';

export interface AgentRouteDeps {
  agents: AgentService;
}

/** Paths of the agent contract: authenticated by a workspace's agent token, not an API token. */
export const AGENT_PATH = /^\/v1\/agent\//;

/**
 * `POST /v1/agent/register` and `/v1/agent/heartbeat`. Served on the API and on Berth's agent
 * socket, which agent workspaces see at $BERTH_AGENT_SOCKET (the API itself stays on loopback).
 */
export function registerAgentRoutes(app: FastifyInstance, deps: AgentRouteDeps): void {
  app.post('/v1/agent/register', async (req): Promise<AgentAck> => {
    const ws = await deps.agents.authenticate(req.headers.authorization);
    return deps.agents.register(ws, req.body);
  });
  app.post('/v1/agent/heartbeat', async (req): Promise<AgentAck> => {
    const ws = await deps.agents.authenticate(req.headers.authorization);
    return deps.agents.heartbeat(ws, req.body);
  });
}
