import { existsSync } from 'node:fs';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * The web dashboard (packages/dashboard), built by `npm run build` into the server package's
 * `assets/dashboard`, served at `/`. It talks only to the public `/v1` API, with the token in the
 * tab's sessionStorage; these routes carry no data and need no token.
 */
export const DASHBOARD_DIR = fileURLToPath(new URL('../../../assets/dashboard/', import.meta.url));

/**
 * Scripts, connections, fonts and images from this origin only; nothing framed, no plugins, no
 * `<base>`. Styles also allow inline `<style>` elements because xterm.js (the terminal) creates them
 * at run time for its DOM renderer; no script can be injected that way.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

const LANDING = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Berth</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;line-height:1.5">
<h1>Berth is running</h1>
<p>The API is at <code>/v1</code>; its OpenAPI document is at <a href="/v1/openapi.json">/v1/openapi.json</a>.
Use the <code>berth</code> CLI or the TypeScript SDK. The web dashboard is not built: run <code>npm run build</code>.</p>
</body></html>`;

export interface Dashboard {
  /** Whether the built dashboard was found (else `/` answers a short landing page). */
  readonly built: boolean;
  /** For the not-found handler: a page route of the single-page app (not the API, not a file). */
  isPage(req: FastifyRequest): boolean;
  sendIndex(reply: FastifyReply): FastifyReply;
}

function securityHeaders(reply: FastifyReply): void {
  void reply.header('content-security-policy', DASHBOARD_CSP);
  void reply.header('x-content-type-options', 'nosniff');
  void reply.header('x-frame-options', 'DENY');
  void reply.header('referrer-policy', 'no-referrer');
}

/** Serves the built dashboard's files (one route per file, found at start) and `/`. */
export function registerDashboard(app: FastifyInstance, dir = DASHBOARD_DIR): Dashboard {
  const built = existsSync(join(dir, 'index.html'));
  const hashed = join(dir, 'assets') + sep;
  const dashboard: Dashboard = {
    built,
    isPage(req) {
      if (!built || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
      const path = req.url.split('?')[0] ?? '';
      if (path === '/v1' || path.startsWith('/v1/') || path === '/healthz') return false;
      // A missing file (`/assets/x.js`) stays a 404; only extension-less paths are app routes.
      return !(path.split('/').pop() ?? '').includes('.');
    },
    sendIndex(reply) {
      securityHeaders(reply);
      void reply.header('cache-control', 'no-cache');
      return reply.sendFile('index.html');
    },
  };
  if (!built) {
    app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(LANDING));
    return dashboard;
  }
  void app.register(fastifyStatic, {
    root: dir,
    prefix: '/',
    // Only files present at start get a route: nothing outside `dir` is ever looked up.
    wildcard: false,
    index: false,
    cacheControl: false,
    setHeaders(reply, path) {
      securityHeaders(reply);
      // Vite names every asset by its content hash; index.html must be re-read each time.
      void reply.header(
        'cache-control',
        path.startsWith(hashed) ? 'public, max-age=31536000, immutable' : 'no-cache',
      );
    },
  });
  app.get('/', (_req, reply) => dashboard.sendIndex(reply));
  return dashboard;
}
