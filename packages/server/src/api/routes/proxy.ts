import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { WebSocket } from 'ws';
import { z } from 'zod';
import type { Authenticator } from '../../auth/authenticator.js';
import { PREVIEW_COOKIE, PREVIEW_QUERY, type PreviewTokens } from '../../auth/preview.js';
import type { WorkspaceRecord } from '../../domain/workspace.js';
import { AppError } from '../../errors.js';
import type { ActivitySink } from '../../workspaces/activity.js';
import { parseWith } from '../../workspaces/validate.js';
import type { WorkspaceService } from '../../workspaces/workspace-service.js';
import { principalOf } from '../app.js';

export interface ProxyRouteDeps {
  workspaces: WorkspaceService;
  authenticator: Authenticator;
  previews: PreviewTokens;
  /** Longest life of a preview token. */
  previewMaxTtlMs: number;
  /** A proxied request or WebSocket is a session while open; each WebSocket frame is activity. */
  activity: ActivitySink;
}

const PortParams = z.object({
  id: z.string().min(1).max(128),
  port: z.coerce.number().int().min(1).max(65535),
});
const PreviewBody = z.strictObject({
  port: z.number().int().min(1).max(65535),
  ttlMs: z.number().int().min(1000).optional(),
});

/** Requests under this prefix are proxied; the global auth hook leaves them to this module. */
export const PROXY_PATH = /^\/v1\/workspaces\/[^/]+\/ports\/\d+(\/|$)/;

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);

const prefixOf = (id: string, port: number) => `/v1/workspaces/${id}/ports/${port}`;

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

/** Request headers for the workspace: no hop-by-hop ones, and none of Berth's credentials. */
function forwardHeaders(req: FastifyRequest, usedBearer: boolean, prefix: string): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (HOP_BY_HOP.has(name) || name.startsWith('sec-websocket-')) continue;
    if (name === 'authorization' && usedBearer) continue;
    if (name === 'cookie') {
      const kept = String(value)
        .split(';')
        .map((c) => c.trim())
        .filter((c) => c && !c.startsWith(`${PREVIEW_COOKIE}=`));
      if (kept.length > 0) out.cookie = kept.join('; ');
      continue;
    }
    out[name] = value;
  }
  out['x-forwarded-for'] = req.ip;
  out['x-forwarded-host'] = req.headers.host;
  out['x-forwarded-proto'] = 'http';
  out['x-forwarded-prefix'] = prefix;
  return out;
}

/** The path and query below the port prefix, without Berth's preview parameter. */
function upstreamPath(req: FastifyRequest, prefix: string): string {
  const url = new URL(req.url, 'http://berth');
  url.searchParams.delete(PREVIEW_QUERY);
  const rest = url.pathname.slice(prefix.length) || '/';
  return `${rest}${url.search}`;
}

export function registerProxyRoutes(app: FastifyInstance, deps: ProxyRouteDeps): void {
  /** Who may use this port: an API token that sees the workspace, or a preview token for it. */
  const authorize = async (
    req: FastifyRequest,
  ): Promise<{ ws: WorkspaceRecord; port: number; usedBearer: boolean }> => {
    const { id, port } = parseWith(PortParams, req.params, 'path');
    if (req.headers.authorization) {
      const principal = await deps.authenticator.authenticate(req.headers.authorization);
      return { ws: await deps.workspaces.resolve(principal, id), port, usedBearer: true };
    }
    const token =
      new URL(req.url, 'http://berth').searchParams.get(PREVIEW_QUERY) ??
      cookieValue(req.headers.cookie, PREVIEW_COOKIE);
    const claims = token ? deps.previews.verify(token) : null;
    if (!claims || claims.workspaceId !== id || claims.port !== port) {
      throw new AppError(
        'unauthenticated',
        'send Authorization: Bearer <token>, or open a preview URL (POST /v1/workspaces/:id/previews)',
      );
    }
    return {
      ws: await deps.workspaces.resolve({ id: 'admin', scope: 'admin' }, id),
      port,
      usedBearer: false,
    };
  };

  /** Where the declared port is published (loopback), while the workspace runs. */
  const target = (ws: WorkspaceRecord, port: number): { host: string; port: number } => {
    if (!ws.spec.ports.some((p) => p.port === port)) {
      throw new AppError(
        'port_not_declared',
        `port ${port} is not declared by workspace ${ws.name}; declared: ${ws.spec.ports.map((p) => p.port).join(', ')}`,
      );
    }
    if (ws.status !== 'running') throw new AppError('invalid_state', `workspace ${ws.name} is ${ws.status}`);
    if (ws.spec.tier === 4) return { host: '127.0.0.1', port };
    const endpoint = ws.endpoints.find((e) => e.containerPort === port);
    if (!endpoint)
      throw new AppError('port_not_declared', `port ${port} of workspace ${ws.name} is not published`);
    return { host: endpoint.hostIp, port: endpoint.hostPort };
  };

  app.post('/v1/workspaces/:id/previews', async (req, reply) => {
    const { id } = parseWith(z.object({ id: z.string().min(1).max(128) }), req.params, 'path');
    const body = parseWith(PreviewBody, req.body ?? {}, 'body');
    const ws = await deps.workspaces.resolve(principalOf(req), id);
    target(ws, body.port);
    const expiresAt = Date.now() + Math.min(body.ttlMs ?? deps.previewMaxTtlMs, deps.previewMaxTtlMs);
    const token = deps.previews.issue({ workspaceId: ws.id, port: body.port, expiresAt });
    const path = `${prefixOf(ws.id, body.port)}/?${PREVIEW_QUERY}=${encodeURIComponent(token)}`;
    return reply.status(201).send({ path, token, expiresAt: new Date(expiresAt).toISOString() });
  });

  const proxyHttp = async (req: FastifyRequest, reply: FastifyReply) => {
    const { ws, port, usedBearer } = await authorize(req);
    const prefix = prefixOf(parseWith(PortParams, req.params, 'path').id, port);
    const query = new URL(req.url, 'http://berth').searchParams;
    const token = query.get(PREVIEW_QUERY);
    if (token && (req.method === 'GET' || req.method === 'HEAD')) {
      // Trade the one-time URL for a cookie scoped to this port, and drop the token from the URL.
      const claims = deps.previews.verify(token)!;
      const maxAge = Math.max(1, Math.floor((claims.expiresAt - Date.now()) / 1000));
      void reply.header(
        'set-cookie',
        `${PREVIEW_COOKIE}=${token}; Path=${prefix}/; Max-Age=${maxAge}; HttpOnly; SameSite=Lax`,
      );
      return reply.redirect(`${prefix}${upstreamPath(req, prefix)}`, 302);
    }
    const to = target(ws, port);
    if (!reply.raw.closed) reply.raw.on('close', deps.activity.begin(ws.id));
    reply.hijack();
    const upstream = httpRequest({
      host: to.host,
      port: to.port,
      // Apps answer with LF-only header lines at times (busybox CGI does); browsers and nginx accept
      // them, so the proxy does too — on a fresh connection per request, so a lenient parse can
      // never desynchronise a reused one.
      insecureHTTPParser: true,
      agent: false,
      method: req.method,
      path: upstreamPath(req, prefix),
      headers: { ...forwardHeaders(req, usedBearer, prefix), host: `${to.host}:${to.port}` },
    });
    upstream.on('response', (res) => {
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(res.headers)) {
        if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
      }
      reply.raw.writeHead(res.statusCode ?? 502, headers);
      res.pipe(reply.raw);
    });
    upstream.on('error', (err) => {
      if (reply.raw.headersSent) {
        reply.raw.destroy();
        return;
      }
      reply.raw.writeHead(502, { 'content-type': 'application/json' });
      reply.raw.end(
        JSON.stringify({
          code: 'engine_error',
          message: `nothing answered on port ${port} of workspace ${ws.name} (${(err as NodeJS.ErrnoException).code ?? err.message})`,
          requestId: req.id,
        }),
      );
    });
    const body = req.body as Readable | undefined;
    if (body && typeof body.pipe === 'function') body.pipe(upstream);
    else upstream.end();
  };

  const proxyWebSocket = async (socket: WebSocket, req: FastifyRequest) => {
    try {
      const { ws, port, usedBearer } = await authorize(req);
      const to = target(ws, port);
      const prefix = prefixOf(parseWith(PortParams, req.params, 'path').id, port);
      const protocols = String(req.headers['sec-websocket-protocol'] ?? '')
        .split(',')
        .map((p) => p.trim())
        .filter((p) => p && !p.startsWith('berth.'));
      const upstream = new WebSocket(`ws://${to.host}:${to.port}${upstreamPath(req, prefix)}`, protocols, {
        headers: forwardHeaders(req, usedBearer, prefix) as Record<string, string>,
      });
      const pending: [Buffer, boolean][] = [];
      if (socket.readyState !== WebSocket.CLOSED) socket.on('close', deps.activity.begin(ws.id));
      socket.on('message', (data: Buffer, isBinary: boolean) => {
        deps.activity.touch(ws.id);
        if (upstream.readyState === WebSocket.OPEN) upstream.send(data, { binary: isBinary });
        else pending.push([data, isBinary]);
      });
      upstream.on('open', () => {
        for (const [data, binary] of pending.splice(0)) upstream.send(data, { binary });
      });
      upstream.on('message', (data: Buffer, isBinary: boolean) => {
        deps.activity.touch(ws.id);
        socket.send(data, { binary: isBinary });
      });
      const closeCode = (code: number) =>
        code >= 1000 && code < 5000 && code !== 1005 && code !== 1006 ? code : 1000;
      upstream.on('close', (code, reason) => socket.close(closeCode(code), reason));
      upstream.on('error', () => socket.close(1011, 'upstream error'));
      socket.on('close', (code, reason) => upstream.close(closeCode(code), reason));
    } catch (err) {
      socket.close(
        err instanceof AppError && err.status < 500 ? 1008 : 1011,
        err instanceof AppError ? err.code : 'internal',
      );
    }
  };

  // In its own scope, every content type is passed through untouched: the body is the app's.
  void app.register((scope, _options, done) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
    // The bare port path (with or without its slash) and everything below it.
    for (const url of ['/v1/workspaces/:id/ports/:port', '/v1/workspaces/:id/ports/:port/*']) {
      scope.route({ method: 'GET', url, handler: proxyHttp, wsHandler: proxyWebSocket });
      scope.route({ method: ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'], url, handler: proxyHttp });
    }
    done();
  });
}
