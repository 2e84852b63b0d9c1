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
  deleteWorkspace: { method: 'DELETE', path: '/v1/workspaces/:id' },
  listWorkspaceEvents: { method: 'GET', path: '/v1/workspaces/:id/events' },
  createToken: { method: 'POST', path: '/v1/tokens' },
  listTokens: { method: 'GET', path: '/v1/tokens' },
  revokeToken: { method: 'DELETE', path: '/v1/tokens/:id' },
} as const;
export type RouteName = keyof typeof ROUTES;
