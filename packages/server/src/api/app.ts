import { ERROR_CODES, type ErrorBody, type ErrorCode } from '@berth/protocol';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyRequest,
} from 'fastify';
import type { Authenticator } from '../auth/authenticator.js';
import { AppError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { newRequestId } from '../util/ids.js';
import { parseStrictJson, StrictJsonError } from '../util/strict-json.js';
import type { Principal } from '../workspaces/spec.js';
import websocket from '@fastify/websocket';
import { AGENT_PATH, registerAgentRoutes, type AgentRouteDeps } from './routes/agent.js';
import { registerCommandRoutes, type CommandRouteDeps } from './routes/commands.js';
import { registerDashboard } from './routes/dashboard.js';
import { registerEventRoutes, type EventRouteDeps } from './routes/events.js';
import { registerFileRoutes, type FileRouteDeps } from './routes/files.js';
import { registerLogRoutes, type LogRouteDeps } from './routes/logs.js';
import { PROXY_PATH, registerProxyRoutes, type ProxyRouteDeps } from './routes/proxy.js';
import { registerSecretRoutes, type SecretRouteDeps } from './routes/secrets.js';
import { registerSystemRoutes, type SystemRouteDeps } from './routes/system.js';
import { registerTerminalRoutes, type TerminalRouteDeps } from './routes/terminals.js';
import { registerTokenRoutes, type TokenRouteDeps } from './routes/tokens.js';
import { registerWorkspaceRoutes, type WorkspaceRouteDeps } from './routes/workspaces.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

export interface AppDeps
  extends
    WorkspaceRouteDeps,
    SystemRouteDeps,
    TokenRouteDeps,
    CommandRouteDeps,
    TerminalRouteDeps,
    FileRouteDeps,
    LogRouteDeps,
    EventRouteDeps,
    AgentRouteDeps,
    SecretRouteDeps,
    Omit<ProxyRouteDeps, 'authenticator'> {
  logger: Logger;
  authenticator: Authenticator;
  bodyLimitBytes: number;
  /** Where the built dashboard is (default: the server package's assets/dashboard). */
  dashboardDir?: string;
}

/** Fastify's own error codes, mapped onto Berth's stable codes. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
};

const PUBLIC_PATHS = new Set(['/healthz', '/v1/openapi.json', '/']);

export function principalOf(req: FastifyRequest): Principal {
  if (!req.principal) throw new AppError('unauthenticated', 'authentication is required');
  return req.principal;
}

export function requireAdmin(req: FastifyRequest): Principal {
  const principal = principalOf(req);
  if (principal.scope !== 'admin') throw new AppError('forbidden', 'this needs an admin token');
  return principal;
}

/** Builds the HTTP API: strict JSON in, `{ code, message, requestId }` errors out, bearer auth. */
export function buildApp(deps: AppDeps): FastifyInstance {
  const log = deps.logger.child({ component: 'api' });
  // Typed as Fastify's base logger so routes and plugins get the default instance type.
  const baseLogger: FastifyBaseLogger = log;
  const app = Fastify({
    loggerInstance: baseLogger,
    // One line per request comes from the onResponse hook below, with Berth's field names.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.bodyLimitBytes,
    genReqId: () => newRequestId(),
    requestIdHeader: false,
    return503OnClosing: true,
    // On shutdown, end every connection (log follows, terminals, uploads) instead of waiting.
    forceCloseConnections: true,
    // Path parameters up to 256 characters (the default 100 would answer a 128-character secret
    // name with 414); longer ones are still refused, by each route's own validation.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 256 },
  });

  // Only JSON bodies, parsed strictly (B13): duplicate keys, deep nesting, trailing garbage -> 400.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    try {
      done(null, parseStrictJson(text));
    } catch (err) {
      done(
        new AppError(
          'invalid_json',
          `the body is not valid JSON: ${err instanceof StrictJsonError ? err.message : 'parse error'}`,
        ),
        undefined,
      );
    }
  });

  app.addHook('onRequest', async (req, reply) => {
    void reply.header('x-request-id', req.id);
    const path = req.url.split('?')[0] ?? '';
    // The port proxy authenticates itself (API token or preview token).
    // Agents authenticate with their workspace's agent token (routes/agent.ts).
    if (PUBLIC_PATHS.has(path) || !path.startsWith('/v1/') || PROXY_PATH.test(path) || AGENT_PATH.test(path))
      return;
    req.principal = await deps.authenticator.authenticate(
      req.headers.authorization ?? bearerFromSubprotocols(req.headers['sec-websocket-protocol']),
    );
  });

  app.addHook('onResponse', async (req, reply) => {
    // An upgrade that was refused (401, 404, ...) must not leave its socket open.
    if (req.headers.upgrade?.toLowerCase() === 'websocket' && reply.statusCode !== 101)
      req.raw.socket?.destroy();
    log.info(
      {
        requestId: req.id,
        method: req.method,
        route: req.routeOptions.url ?? req.url.split('?')[0],
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
        principal: req.principal?.id,
      },
      'request',
    );
  });

  app.setErrorHandler((err: FastifyError | AppError, req, reply) => {
    const body = toErrorBody(err, req.id);
    // A refused upload leaves its body unread: close the connection rather than read it all.
    if (!req.raw.complete) void reply.header('connection', 'close');
    const status = ERROR_CODES[body.code].status;
    if (status >= 500) log.error({ requestId: req.id, err }, 'request failed');
    else log.info({ requestId: req.id, code: body.code }, 'request refused');
    void reply.status(status).send(body);
  });

  // The dashboard (a single-page app) answers its own routes (`/workspaces/ws_…`) with index.html.
  const dashboard = registerDashboard(app, deps.dashboardDir);
  app.setNotFoundHandler((req, reply) => {
    if (dashboard.isPage(req)) return dashboard.sendIndex(reply);
    void reply.status(404).send({
      code: 'route_not_found',
      message: `no route ${req.method} ${req.url.split('?')[0]}; see GET /v1/openapi.json`,
      requestId: req.id,
    } satisfies ErrorBody);
  });

  void app.register(websocket, {
    options: {
      maxPayload: 16 * 1024 * 1024,
      // Answer the protocol the client asked for: `berth.v1` for Berth's own streams, else the
      // first one (proxied apps); never echo the token-carrying `berth.bearer.*` entry.
      handleProtocols: (protocols: Set<string>) => {
        if (protocols.has('berth.v1')) return 'berth.v1';
        for (const p of protocols) if (!p.startsWith('berth.')) return p;
        return false;
      },
    },
  });
  // Routes go in a child scope registered after the WebSocket plugin, so they see its route option.
  void app.register((scope, _options, done) => {
    registerSystemRoutes(scope, deps);
    registerWorkspaceRoutes(scope, deps);
    registerEventRoutes(scope, deps);
    registerAgentRoutes(scope, deps);
    registerTokenRoutes(scope, deps);
    registerSecretRoutes(scope, deps);
    registerCommandRoutes(scope, deps);
    registerTerminalRoutes(scope, deps);
    registerFileRoutes(scope, deps);
    registerLogRoutes(scope, deps);
    registerProxyRoutes(scope, deps);
    done();
  });
  return app;
}

/**
 * Browsers cannot set headers on a WebSocket, so the token may come as a subprotocol:
 * `new WebSocket(url, ['berth.v1', 'berth.bearer.' + base64url(token)])`.
 */
function bearerFromSubprotocols(header: string | string[] | undefined): string | undefined {
  for (const protocol of String(header ?? '').split(',')) {
    const p = protocol.trim();
    if (p.startsWith('berth.bearer.')) {
      try {
        return `Bearer ${Buffer.from(p.slice('berth.bearer.'.length), 'base64url').toString('utf8')}`;
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

function toErrorBody(err: FastifyError | AppError, requestId: string): ErrorBody {
  if (err instanceof AppError) {
    const internal = err.code === 'internal';
    return {
      code: err.code,
      // Never echo internal messages on 5xx (they may carry engine or SQL detail).
      message: internal ? 'internal error; the requestId finds the details in the server log' : err.message,
      requestId,
      ...(err.details && !internal ? { details: err.details } : {}),
    };
  }
  const mapped = err.code ? FASTIFY_CODES[err.code] : undefined;
  if (mapped) {
    const message =
      mapped === 'payload_too_large'
        ? 'the body is larger than the server body limit (bodyLimitBytes)'
        : mapped === 'unsupported_media_type'
          ? 'send the body as Content-Type: application/json'
          : 'the body is not valid JSON';
    return { code: mapped, message, requestId };
  }
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return { code: 'validation_failed', message: err.message, requestId };
  }
  return {
    code: 'internal',
    message: 'internal error; the requestId finds the details in the server log',
    requestId,
  };
}
