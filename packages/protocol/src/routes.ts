/**
 * The HTTP API, route by route. The server registers exactly these; the SDK calls exactly these;
 * the OpenAPI document is generated from the server's schemas for them.
 */
export const ROUTES = {
  health: { method: 'GET', path: '/healthz' },
  openapi: { method: 'GET', path: '/v1/openapi.json' },
  systemInfo: { method: 'GET', path: '/v1/system' },
  listRuntimes: { method: 'GET', path: '/v1/runtimes' },
  listImages: { method: 'GET', path: '/v1/images' },
  buildImage: { method: 'POST', path: '/v1/images/:runtime/build' },
  createWorkspace: { method: 'POST', path: '/v1/workspaces' },
  listWorkspaces: { method: 'GET', path: '/v1/workspaces' },
  getWorkspace: { method: 'GET', path: '/v1/workspaces/:id' },
  stopWorkspace: { method: 'POST', path: '/v1/workspaces/:id/stop' },
  startWorkspace: { method: 'POST', path: '/v1/workspaces/:id/start' },
  restartWorkspace: { method: 'POST', path: '/v1/workspaces/:id/restart' },
  /** Records activity: resets the idle timeout of a running workspace. */
  keepaliveWorkspace: { method: 'POST', path: '/v1/workspaces/:id/keepalive' },
  deleteWorkspace: { method: 'DELETE', path: '/v1/workspaces/:id' },
  /** One sample of a running workspace's CPU, memory, pids and network use. */
  workspaceStats: { method: 'GET', path: '/v1/workspaces/:id/stats' },
  /** Egress rules and grants change in place; the gateway applies them to the next connection. */
  updateEgress: { method: 'PATCH', path: '/v1/workspaces/:id/egress' },
  listWorkspaceEvents: { method: 'GET', path: '/v1/workspaces/:id/events' },
  listEvents: { method: 'GET', path: '/v1/events' },
  exec: { method: 'POST', path: '/v1/workspaces/:id/exec' },
  startCommand: { method: 'POST', path: '/v1/workspaces/:id/commands' },
  listCommands: { method: 'GET', path: '/v1/workspaces/:id/commands' },
  getCommand: { method: 'GET', path: '/v1/workspaces/:id/commands/:cid' },
  killCommand: { method: 'POST', path: '/v1/workspaces/:id/commands/:cid/kill' },
  streamNewCommand: { method: 'GET', path: '/v1/workspaces/:id/commands/stream', websocket: true },
  streamCommand: { method: 'GET', path: '/v1/workspaces/:id/commands/:cid/stream', websocket: true },
  listTerminals: { method: 'GET', path: '/v1/workspaces/:id/terminals' },
  killTerminal: { method: 'DELETE', path: '/v1/workspaces/:id/terminals/:tid' },
  streamNewTerminal: { method: 'GET', path: '/v1/workspaces/:id/terminals/stream', websocket: true },
  streamTerminal: { method: 'GET', path: '/v1/workspaces/:id/terminals/:tid/stream', websocket: true },
  listFiles: { method: 'GET', path: '/v1/workspaces/:id/files' },
  statFile: { method: 'GET', path: '/v1/workspaces/:id/files/stat' },
  readFile: { method: 'GET', path: '/v1/workspaces/:id/files/content' },
  writeFile: { method: 'PUT', path: '/v1/workspaces/:id/files/content' },
  makeDir: { method: 'POST', path: '/v1/workspaces/:id/files/mkdir' },
  moveFile: { method: 'POST', path: '/v1/workspaces/:id/files/move' },
  removeFile: { method: 'DELETE', path: '/v1/workspaces/:id/files' },
  downloadArchive: { method: 'GET', path: '/v1/workspaces/:id/files/archive' },
  uploadArchive: { method: 'PUT', path: '/v1/workspaces/:id/files/archive' },
  logs: { method: 'GET', path: '/v1/workspaces/:id/logs' },
  createPreview: { method: 'POST', path: '/v1/workspaces/:id/previews' },
  proxy: { method: 'GET', path: '/v1/workspaces/:id/ports/:port/*' },
  /** Agent contract: authenticated by the workspace's agent token (in /configs), not an API token. */
  agentRegister: { method: 'POST', path: '/v1/agent/register' },
  agentHeartbeat: { method: 'POST', path: '/v1/agent/heartbeat' },
  createToken: { method: 'POST', path: '/v1/tokens' },
  listTokens: { method: 'GET', path: '/v1/tokens' },
  revokeToken: { method: 'DELETE', path: '/v1/tokens/:id' },
  /** Secrets are write-only: lists carry names and metadata, never values. */
  listSecrets: { method: 'GET', path: '/v1/secrets' },
  putSecret: { method: 'PUT', path: '/v1/secrets/:name' },
  deleteSecret: { method: 'DELETE', path: '/v1/secrets/:name' },
  rekeySecrets: { method: 'POST', path: '/v1/secrets/rekey' },
  listWorkspaceSecrets: { method: 'GET', path: '/v1/workspaces/:id/secrets' },
  putWorkspaceSecret: { method: 'PUT', path: '/v1/workspaces/:id/secrets/:name' },
  deleteWorkspaceSecret: { method: 'DELETE', path: '/v1/workspaces/:id/secrets/:name' },
} as const;
export type RouteName = keyof typeof ROUTES;

/** WebSocket message kinds (docs/streams.md). */
export const STREAM_BYTES = { stdout: 1, stderr: 2 } as const;
/** Subprotocol of Berth's streams; the token can ride along as `berth.bearer.<base64url(token)>`. */
export const STREAM_PROTOCOL = 'berth.v1';
export const BEARER_PROTOCOL_PREFIX = 'berth.bearer.';
