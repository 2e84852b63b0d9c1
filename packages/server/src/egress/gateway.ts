import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { promises as dns } from 'node:dns';
import { chmodSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import net, { type Socket } from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import type { Grant } from '@berth/protocol';
import type { ConfigFile, NormalizedSpec } from '../domain/workspace.js';
import { AppError, errorMessage } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { EgressIdentityRepo } from '../store/egress-identity-repo.js';
import { createWorkspaceCa, LeafIssuer } from './ca.js';
import { CA_BUNDLE_FILE, CA_FILE, CONFIG_FILES, PREAMBLE, SOCKET_NAME } from './files.js';
import { ALL_PLACEHOLDERS, grantFor, placeholderEnv } from './grants.js';
import type { AddressPolicy } from './policy.js';
import { decide, parseAuthority, parseRule, type CompiledPolicy, type Target } from './policy.js';

/**
 * The egress gateway (X1-X8): the only way out of a workspace whose policy is `allowlist`. Such a
 * workspace has no network interface but loopback; berth-helper inside it forwards
 * 127.0.0.1:<listenPort> to a Unix socket that only this workspace's directory holds, so the socket
 * itself says which workspace is calling, and the token in the preamble must match it (X6, B29).
 *
 * On each connection the gateway speaks HTTP proxy: CONNECT tunnels and plain-HTTP forwarding.
 * Policy is decided on the name before anything is resolved (X2, E9); only allowed names are
 * resolved, and every resolved address is checked at dial time (X3, E10, B19, B20). For hosts a
 * grant covers, the gateway terminates TLS with the workspace's own CA (X5) and overwrites the
 * grant's header with the real credential (X4); it never follows redirects, so a redirect is a new
 * request, checked again. Every decision becomes a workspace event, with grant names, never values (X8).
 */

const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-authorization',
  'proxy-authenticate',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
];

export interface EgressEvent {
  type: 'egress.allowed' | 'egress.denied' | 'egress.injected';
  message: string;
  data: Record<string, unknown>;
}

export interface GatewayDeps {
  socketDir: string;
  identities: EgressIdentityRepo;
  /** Seals the CA keys at rest (the secrets key). */
  cipher: { seal(plain: string): string; open(sealed: string): Buffer };
  /** Credential lookup: workspace scope first, then (when `global`) the global scope. */
  resolveSecret(workspaceId: string, name: string, global: boolean): Promise<string | null>;
  /** The workspace's current spec and owner, or null once it is gone (read per connection). */
  loadWorkspace(workspaceId: string): Promise<{ spec: NormalizedSpec; ownerIsAdmin: boolean } | null>;
  recordEvent(workspaceId: string, event: EgressEvent): Promise<void>;
  addresses: AddressPolicy;
  dnsServers: string[];
  upstreamCa: string | null;
  caTtlMs: number;
  connectTimeoutMs: number;
  logger: Logger;
}

interface Binding {
  workspaceId: string;
  server: net.Server;
  tokenHash: Buffer;
  issuer: LeafIssuer;
  /** Parses proxy requests arriving on this workspace's socket. */
  proxy: http.Server;
  /** Parses requests inside TLS sessions the gateway terminated (granted hosts). */
  intercept: http.Server;
  sockets: Set<Socket>;
}

const WORKSPACE_ID = /^ws_[0-9a-z]{16}$/;
/** Upstream silence tolerated mid-request (model APIs stream slowly). */
const IDLE_TIMEOUT_MS = 300_000;
const sha256 = (s: string) => createHash('sha256').update(s).digest();

export class EgressGateway {
  private readonly bindings = new Map<string, Binding>();
  private readonly log: Logger;
  private readonly resolver: dns.Resolver | null;
  private readonly upstreamAgent: https.Agent;
  /** The CONNECT target a terminated TLS session belongs to. */
  private readonly interceptTargets = new WeakMap<object, Target>();

  constructor(private readonly deps: GatewayDeps) {
    this.log = deps.logger.child({ component: 'egress' });
    if (deps.dnsServers.length > 0) {
      this.resolver = new dns.Resolver({ timeout: 3000, tries: 2 });
      this.resolver.setServers(deps.dnsServers);
    } else {
      this.resolver = null;
    }
    this.upstreamAgent = new https.Agent({
      keepAlive: true,
      maxSockets: 64,
      ca: deps.upstreamCa ? [...tls.rootCertificates, deps.upstreamCa] : [...tls.rootCertificates],
    });
    mkdirSync(deps.socketDir, { recursive: true, mode: 0o711 });
  }

  /** Host directory bind-mounted into the workspace (holds only its socket). */
  dirOf(workspaceId: string): string {
    return join(this.deps.socketDir, workspaceId);
  }

  /**
   * Before every start: a fresh token and CA, stored (key sealed), the socket listening, and the
   * files to write into /configs. Fails — and so does the start — if any step fails (X7, P5).
   */
  async attach(
    workspaceId: string,
    spec: NormalizedSpec,
    ownerIsAdmin: boolean,
  ): Promise<Record<string, ConfigFile>> {
    const token = `bex_${randomBytes(24).toString('base64url')}`;
    const ca = await createWorkspaceCa(workspaceId, this.deps.caTtlMs);
    await this.deps.identities.put({
      workspaceId,
      tokenHash: sha256(token).toString('hex'),
      caCertPem: ca.certPem,
      caKeySealed: this.deps.cipher.seal(ca.keyPem),
      notAfter: ca.notAfter.toISOString(),
    });
    await this.listen(workspaceId, sha256(token), new LeafIssuer(ca.certPem, ca.keyPem, ca.notAfter));
    // The CA certificate goes where the workspace cannot change it: its read-only socket directory.
    writeAtomic(join(this.dirOf(workspaceId), CA_FILE), ca.certPem);
    writeAtomic(
      join(this.dirOf(workspaceId), CA_BUNDLE_FILE),
      `${tls.rootCertificates.join('\n')}\n${ca.certPem}`,
    );
    const file = (text: string, mode: number): ConfigFile => ({
      contentBase64: Buffer.from(text).toString('base64'),
      mode,
    });
    return {
      [CONFIG_FILES.token]: file(`${token}\n`, 0o400),
      ...(await this.envFile(workspaceId, spec, ownerIsAdmin)),
    };
  }

  /**
   * `/configs/.berth/env` for berth-helper boot/run: grant placeholders and, when the user asked
   * for them, secret values (NUL-terminated `KEY=value` records). Never in the container config.
   */
  async envFile(
    workspaceId: string,
    spec: NormalizedSpec,
    ownerIsAdmin: boolean,
  ): Promise<Record<string, ConfigFile>> {
    const env: Record<string, string> = { ...placeholderEnv(spec.grants) };
    const missing: string[] = [];
    for (const [key, name] of Object.entries(spec.secretEnv)) {
      // The value enters the workspace: global secrets only for workspaces an admin made.
      const value = await this.deps.resolveSecret(workspaceId, name, ownerIsAdmin);
      if (value === null) missing.push(name);
      else env[key] = value;
    }
    if (missing.length > 0) {
      throw new AppError(
        'secret_missing',
        `secretEnv names secrets that do not exist: ${missing.join(', ')}; set them with berth secrets set <name> (global or --workspace)`,
        { details: { missing } },
      );
    }
    const body = Object.entries(env)
      .map(([k, v]) => `${k}=${v}\0`)
      .join('');
    return { [CONFIG_FILES.env]: { contentBase64: Buffer.from(body).toString('base64'), mode: 0o400 } };
  }

  /**
   * After a daemon restart: listen again for a workspace that is running, with its stored identity.
   * False when there is none to use (never attached, or its CA key no longer opens after a key
   * rotation): the caller restarts the workspace, which issues a new one.
   */
  async ensureListening(workspaceId: string): Promise<boolean> {
    if (this.bindings.has(workspaceId)) return true;
    const identity = await this.deps.identities.get(workspaceId);
    if (!identity) return false;
    let keyPem: string;
    try {
      keyPem = this.deps.cipher.open(identity.caKeySealed).toString('utf8');
    } catch (err) {
      this.log.warn(
        { workspaceId, err: errorMessage(err) },
        'stored workspace CA does not open; restarting it',
      );
      return false;
    }
    await this.listen(
      workspaceId,
      Buffer.from(identity.tokenHash, 'hex'),
      new LeafIssuer(identity.caCertPem, keyPem, new Date(identity.notAfter)),
    );
    return true;
  }

  /** Key rotation: every stored CA key sealed again with the active key. Returns how many. */
  async resealIdentities(): Promise<number> {
    let count = 0;
    for (const row of await this.deps.identities.listSealed()) {
      let plain: Buffer;
      try {
        plain = this.deps.cipher.open(row.caKeySealed);
      } catch {
        continue; // no longer opens: the workspace gets a new CA at its next start
      }
      if (
        await this.deps.identities.reseal(
          row.workspaceId,
          row.caKeySealed,
          this.deps.cipher.seal(plain.toString('utf8')),
        )
      )
        count++;
    }
    return count;
  }

  /** Workspaces with gateway state on disk (their socket directories). */
  attachedIds(): string[] {
    try {
      return readdirSync(this.deps.socketDir).filter((name) => WORKSPACE_ID.test(name));
    } catch {
      return [];
    }
  }

  /** On delete: stop listening, remove the socket directory and destroy the CA (X5). */
  async detach(workspaceId: string): Promise<void> {
    await this.unlisten(workspaceId);
    rmSync(this.dirOf(workspaceId), { recursive: true, force: true });
    await this.deps.identities.delete(workspaceId);
  }

  async close(): Promise<void> {
    await Promise.all([...this.bindings.keys()].map((id) => this.unlisten(id)));
    this.upstreamAgent.destroy();
  }

  private async unlisten(workspaceId: string): Promise<void> {
    const binding = this.bindings.get(workspaceId);
    if (!binding) return;
    this.bindings.delete(workspaceId);
    for (const s of binding.sockets) s.destroy();
    await new Promise<void>((resolve) => binding.server.close(() => resolve()));
  }

  private async listen(workspaceId: string, tokenHash: Buffer, issuer: LeafIssuer) {
    const existing = this.bindings.get(workspaceId);
    if (existing) {
      // A restart: same socket, new token and CA from now on.
      existing.tokenHash = tokenHash;
      existing.issuer = issuer;
      return;
    }
    const dir = this.dirOf(workspaceId);
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    chmodSync(dir, 0o755);
    const path = join(dir, SOCKET_NAME);
    if (existsSync(path)) rmSync(path, { force: true });
    const binding: Binding = {
      workspaceId,
      // Clients may half-close after their request (nc, some HTTP/1.0 clients): the response
      // must still go back, so neither the socket nor the HTTP layer ends on the client's end.
      server: net.createServer({ allowHalfOpen: true }),
      tokenHash,
      issuer,
      proxy: http.createServer({ maxHeaderSize: 16 * 1024, requestTimeout: 0 }),
      intercept: http.createServer({ maxHeaderSize: 16 * 1024, requestTimeout: 0 }),
      sockets: new Set(),
    };
    for (const server of [binding.proxy, binding.intercept]) {
      (server as http.Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
    }
    binding.server.on('connection', (socket) => this.accept(binding, socket));
    binding.proxy.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      this.onConnect(binding, req, socket, head).catch((err: unknown) => {
        this.log.warn({ workspaceId, err: errorMessage(err) }, 'CONNECT failed');
        socket.destroy();
      });
    });
    binding.proxy.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.onForward(binding, req, res).catch((err: unknown) => this.failResponse(res, err));
    });
    binding.proxy.on('upgrade', (_req: IncomingMessage, socket: Socket) => {
      rawDeny(
        socket,
        501,
        'upgrade',
        'the egress gateway does not forward protocol upgrades over plain HTTP',
      );
    });
    binding.intercept.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.onIntercepted(binding, req, res).catch((err: unknown) => this.failResponse(res, err));
    });
    binding.intercept.on('upgrade', (_req: IncomingMessage, socket: Socket) => {
      rawDeny(socket, 501, 'upgrade', 'protocol upgrades are not forwarded on hosts with a grant');
    });
    for (const server of [binding.proxy, binding.intercept]) {
      server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
        // Malformed framing, smuggling attempts, oversized headers (B26): 400 and close.
        if (socket.writable) {
          const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
          socket.end(`HTTP/1.1 ${status} Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
        }
        socket.destroy();
      });
    }
    await new Promise<void>((resolve, reject) => {
      binding.server.once('error', reject);
      binding.server.listen(path, () => {
        binding.server.off('error', reject);
        resolve();
      });
    });
    chmodSync(path, 0o666); // the workspace user (any uid) connects; the token authenticates it
    binding.server.on('error', (err) =>
      this.log.error({ workspaceId, err: errorMessage(err) }, 'socket error'),
    );
    this.bindings.set(workspaceId, binding);
  }

  /** Reads the preamble, checks the token in constant time, then hands the stream to HTTP. */
  private accept(binding: Binding, socket: Socket): void {
    binding.sockets.add(socket);
    socket.on('close', () => binding.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setTimeout(10_000, () => socket.destroy());
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const nl = buffered.indexOf(0x0a);
      if (nl < 0) {
        if (buffered.length > 1024) socket.destroy();
        return;
      }
      socket.off('data', onData);
      socket.pause();
      const line = buffered.subarray(0, nl).toString('latin1');
      const rest = buffered.subarray(nl + 1);
      const token = line.startsWith(PREAMBLE) ? line.slice(PREAMBLE.length).trim() : '';
      const current = this.bindings.get(binding.workspaceId);
      if (!current || !timingSafeEqual(sha256(token), current.tokenHash)) {
        void this.event(
          binding.workspaceId,
          'egress.denied',
          'a connection presented a wrong gateway token',
          {
            reason: 'bad-token',
          },
        );
        rawDeny(socket, 407, 'bad-token', "the gateway token is not this workspace's");
        return;
      }
      socket.setTimeout(0);
      if (rest.length > 0) socket.unshift(rest);
      binding.proxy.emit('connection', socket);
      socket.resume();
    };
    socket.on('data', onData);
  }

  private policyOf(spec: NormalizedSpec): CompiledPolicy {
    return {
      mode: spec.egress.mode,
      allow: spec.egress.allow.map(parseRule),
      deny: spec.egress.deny.map(parseRule),
      grantedHosts: spec.grants.flatMap((g) => g.hosts),
    };
  }

  /**
   * Policy, then resolution, then the X3 check of every address. Returns the addresses that may be
   * dialled, or a denial already recorded.
   */
  private async admit(
    binding: Binding,
    target: Target,
    via: string,
  ): Promise<
    | { ok: true; spec: NormalizedSpec; ownerIsAdmin: boolean; addresses: string[] }
    | { ok: false; status: number; reason: string; message: string }
  > {
    const ws = await this.deps.loadWorkspace(binding.workspaceId);
    const spec = ws?.spec;
    const where = `${target.host}:${target.port}`;
    if (!spec || spec.egress.mode !== 'allowlist') {
      return this.deny(
        binding,
        target,
        via,
        403,
        'mode-none',
        `egress is not allowed for this workspace (${where})`,
      );
    }
    const decision = decide(this.policyOf(spec), target);
    if (!decision.allowed) {
      const why =
        decision.reason === 'deny-rule'
          ? `${where} matches the deny rule ${decision.rule}`
          : `${where} is not in this workspace's egress allowlist`;
      return this.deny(binding, target, via, 403, decision.reason, why, decision.rule);
    }
    let resolved: string[];
    if (target.ip) {
      resolved = [target.host];
    } else {
      try {
        resolved = await this.resolve(target.host);
      } catch (err) {
        return this.deny(
          binding,
          target,
          via,
          502,
          'dns',
          `${target.host} did not resolve (${errorMessage(err)})`,
        );
      }
    }
    const allowed = resolved
      .filter((a) => this.deps.addresses.deniedAddress(a) === null)
      .sort((a, b) => net.isIP(a) - net.isIP(b));
    if (allowed.length === 0) {
      const reason = this.deps.addresses.deniedAddress(resolved[0] ?? '') ?? 'no address';
      return this.deny(
        binding,
        target,
        via,
        403,
        'address',
        `${where} resolves to a refused address: ${reason}`,
        null,
        {
          addresses: resolved,
        },
      );
    }
    return { ok: true, spec, ownerIsAdmin: ws?.ownerIsAdmin ?? false, addresses: allowed };
  }

  private async deny(
    binding: Binding,
    target: Target,
    via: string,
    status: number,
    reason: string,
    message: string,
    rule: string | null = null,
    extra: Record<string, unknown> = {},
  ): Promise<{ ok: false; status: number; reason: string; message: string }> {
    await this.event(binding.workspaceId, 'egress.denied', message, {
      host: target.host,
      port: target.port,
      via,
      reason,
      ...(rule ? { rule } : {}),
      ...extra,
    });
    return { ok: false, status, reason, message };
  }

  private async resolve(host: string): Promise<string[]> {
    if (this.resolver) {
      const [v4, v6] = await Promise.all([
        this.resolver.resolve4(host).catch(() => [] as string[]),
        this.resolver.resolve6(host).catch(() => [] as string[]),
      ]);
      const all = [...v4, ...v6];
      if (all.length === 0) throw new Error('no A or AAAA records');
      return all;
    }
    const found = await dns.lookup(host, { all: true, verbatim: true });
    return found.map((a) => a.address);
  }

  /** The checked addresses in order until one answers (IPv4 first: hosts often lack an IPv6 route). */
  private async dial(addresses: string[], port: number): Promise<Socket> {
    let last: unknown = new Error('no address to dial');
    for (const address of addresses) {
      try {
        return await this.dialOne(address, port);
      } catch (err) {
        last = err;
      }
    }
    throw last;
  }

  private dialOne(address: string, port: number): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: address, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${address}:${port} timed out`));
      }, this.deps.connectTimeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(socket);
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  private async onConnect(binding: Binding, req: IncomingMessage, client: Socket, head: Buffer) {
    const target = parseAuthority(req.url ?? '', null);
    if (!target) {
      await this.event(binding.workspaceId, 'egress.denied', 'CONNECT to a malformed authority', {
        reason: 'malformed',
      });
      rawDeny(client, 400, 'malformed', 'CONNECT needs host:port (no userinfo, no path)');
      return;
    }
    const admitted = await this.admit(binding, target, 'connect');
    if (!admitted.ok) {
      rawDeny(client, admitted.status, admitted.reason, admitted.message);
      return;
    }
    const grant = target.port === 443 ? grantFor(admitted.spec.grants, target.host) : undefined;
    if (grant) {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      this.terminate(binding, client, head, target);
      return;
    }
    let upstream: Socket;
    try {
      upstream = await this.dial(admitted.addresses, target.port);
    } catch (err) {
      await this.event(binding.workspaceId, 'egress.denied', `could not connect: ${errorMessage(err)}`, {
        host: target.host,
        port: target.port,
        via: 'connect',
        reason: 'unreachable',
      });
      rawDeny(client, 502, 'unreachable', `${target.host}:${target.port} is unreachable`);
      return;
    }
    await this.event(binding.workspaceId, 'egress.allowed', `tunnel to ${target.host}:${target.port}`, {
      host: target.host,
      port: target.port,
      via: 'connect',
    });
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length > 0) upstream.write(head);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    // Either side gone for good (a reset, the gateway closing): the other goes too.
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.pipe(client);
    client.pipe(upstream);
  }

  /** TLS with the workspace CA for a granted host; SNI must name the CONNECT target (B22). */
  private terminate(binding: Binding, client: Socket, head: Buffer, target: Target): void {
    if (head.length > 0) client.unshift(head);
    const secure = new tls.TLSSocket(client, {
      isServer: true,
      ALPNProtocols: ['http/1.1'],
      SNICallback: (servername, cb) => {
        const sni = parseAuthority(servername, 443);
        if (!sni || sni.host !== target.host) {
          void this.event(
            binding.workspaceId,
            'egress.denied',
            `TLS SNI ${servername} does not name ${target.host}`,
            {
              host: target.host,
              port: target.port,
              via: 'tls',
              reason: 'sni-mismatch',
            },
          );
          cb(new Error('SNI mismatch'));
          return;
        }
        binding.issuer
          .issue(target.host)
          .then((leaf) => cb(null, tls.createSecureContext({ cert: leaf.cert, key: leaf.key })))
          .catch((err: unknown) => cb(err as Error));
      },
    });
    secure.on('error', () => secure.destroy());
    this.interceptTargets.set(secure, target);
    binding.intercept.emit('connection', secure);
  }

  /** A request inside a terminated TLS session: Host must match, then the grant's header is overwritten. */
  private async onIntercepted(binding: Binding, req: IncomingMessage, res: ServerResponse) {
    const target = this.interceptTargets.get(req.socket);
    if (!target) {
      denyResponse(res, 400, 'malformed', 'no tunnel');
      return;
    }
    const host = parseAuthority(req.headers.host ?? '', 443);
    if (!host || host.host !== target.host || host.port !== target.port || !(req.url ?? '').startsWith('/')) {
      await this.event(
        binding.workspaceId,
        'egress.denied',
        `Host ${req.headers.host ?? '(none)'} inside a tunnel to ${target.host}`,
        {
          host: target.host,
          port: target.port,
          via: 'https',
          reason: 'host-mismatch',
        },
      );
      denyResponse(res, 421, 'host-mismatch', `requests in this tunnel must be for ${target.host}`);
      return;
    }
    // Policy may have changed since the tunnel opened: decide again for every request (B28).
    const admitted = await this.admit(binding, target, 'https');
    if (!admitted.ok) {
      denyResponse(res, admitted.status, admitted.reason, admitted.message);
      return;
    }
    const grant = grantFor(admitted.spec.grants, target.host);
    const headers = forwardHeaders(req.headers, grant?.header);
    let injected: Grant | null = null;
    if (grant) {
      // A global secret goes to a built-in grant's genuine hosts for anyone; to a custom grant's
      // hosts only for workspaces an admin made (a user could name their own server there).
      const builtin = grant.placeholderEnv !== null;
      const secret = await this.deps.resolveSecret(
        binding.workspaceId,
        grant.secret,
        builtin || admitted.ownerIsAdmin,
      );
      if (secret === null) {
        await this.event(
          binding.workspaceId,
          'egress.denied',
          `grant ${grant.name} has no secret ${grant.secret}`,
          {
            host: target.host,
            via: 'https',
            reason: 'grant-secret-missing',
            grant: grant.name,
          },
        );
        denyResponse(
          res,
          503,
          'grant-secret-missing',
          `grant ${grant.name} needs the secret ${grant.secret}; set it with: berth secrets set ${grant.secret}`,
        );
        return;
      }
      headers[grant.header] = `${grant.prefix}${secret}`;
      injected = grant;
    }
    const upstream = https.request({
      host: admitted.addresses[0],
      port: target.port,
      servername: target.host,
      method: req.method,
      path: req.url,
      headers: { ...headers, host: req.headers.host },
      agent: this.upstreamAgent,
      timeout: IDLE_TIMEOUT_MS,
    });
    await this.event(
      binding.workspaceId,
      injected ? 'egress.injected' : 'egress.allowed',
      injected
        ? `${req.method} https://${target.host}${pathOnly(req.url)} with grant ${injected.name}`
        : `${req.method} https://${target.host}${pathOnly(req.url)}`,
      {
        host: target.host,
        port: target.port,
        via: 'https',
        method: req.method,
        path: pathOnly(req.url),
        ...(injected ? { grant: injected.name } : {}),
      },
    );
    this.relay(req, res, upstream);
  }

  /** Plain-HTTP forwarding (absolute-form requests): policy applies; never any credential (B23). */
  private async onForward(binding: Binding, req: IncomingMessage, res: ServerResponse) {
    let url: URL;
    try {
      url = new URL(req.url ?? '');
    } catch {
      denyResponse(res, 400, 'malformed', 'send absolute-form requests (http://host/path) or CONNECT');
      return;
    }
    if (url.protocol !== 'http:') {
      denyResponse(res, 400, 'malformed', 'only http:// is forwarded; use CONNECT for https');
      return;
    }
    const target = parseAuthority(url.host, 80);
    if (!target || url.username || url.password) {
      denyResponse(res, 400, 'malformed', 'the request URL has no valid host (or carries credentials)');
      return;
    }
    if (carriesPlaceholder(req)) {
      await this.event(
        binding.workspaceId,
        'egress.denied',
        `a grant placeholder was sent to ${target.host}`,
        {
          host: target.host,
          port: target.port,
          via: 'http',
          reason: 'placeholder',
        },
      );
      denyResponse(
        res,
        403,
        'placeholder',
        'grant placeholders are only replaced over HTTPS to the granted host',
      );
      return;
    }
    const admitted = await this.admit(binding, target, 'http');
    if (!admitted.ok) {
      denyResponse(res, admitted.status, admitted.reason, admitted.message);
      return;
    }
    await this.event(
      binding.workspaceId,
      'egress.allowed',
      `${req.method} http://${target.host}${pathOnly(url.pathname)}`,
      {
        host: target.host,
        port: target.port,
        via: 'http',
        method: req.method,
        path: url.pathname,
      },
    );
    const upstream = http.request({
      host: admitted.addresses[0],
      port: target.port,
      method: req.method,
      path: `${url.pathname}${url.search}`,
      headers: { ...forwardHeaders(req.headers), host: url.host },
      timeout: IDLE_TIMEOUT_MS,
    });
    this.relay(req, res, upstream);
  }

  private relay(req: IncomingMessage, res: ServerResponse, upstream: http.ClientRequest): void {
    upstream.on('response', (up) => {
      const headers: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(up.headers)) {
        if (v !== undefined && !HOP_BY_HOP.includes(k)) headers[k] = v;
      }
      res.writeHead(up.statusCode ?? 502, up.statusMessage, headers);
      up.pipe(res);
    });
    upstream.on('timeout', () => upstream.destroy(new Error('upstream timed out')));
    upstream.on('error', (err) => {
      if (!res.headersSent) denyResponse(res, 502, 'upstream', `upstream failed: ${err.message}`);
      else res.destroy();
    });
    req.pipe(upstream);
  }

  private failResponse(res: ServerResponse, err: unknown): void {
    this.log.warn({ err: errorMessage(err) }, 'egress request failed');
    if (!res.headersSent) denyResponse(res, 502, 'gateway', 'the egress gateway failed on this request');
    else res.destroy();
  }

  private async event(
    workspaceId: string,
    type: EgressEvent['type'],
    message: string,
    data: Record<string, unknown>,
  ) {
    try {
      await this.deps.recordEvent(workspaceId, { type, message, data });
    } catch (err) {
      this.log.warn({ workspaceId, err: errorMessage(err) }, 'could not record an egress event');
    }
  }
}

/** Headers to send upstream: no hop-by-hop, no proxy credentials (X4), and no agent copy of `dropped`. */
function forwardHeaders(headers: IncomingHttpHeaders, dropped?: string): Record<string, string | string[]> {
  const connectionListed = String(headers.connection ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase());
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || k === 'host' || HOP_BY_HOP.includes(k) || connectionListed.includes(k)) continue;
    if (dropped && k === dropped) continue;
    out[k] = v;
  }
  return out;
}

function carriesPlaceholder(req: IncomingMessage): boolean {
  const haystack = [req.url ?? '', ...req.rawHeaders].join('\n');
  return ALL_PLACEHOLDERS.some((p) => haystack.includes(p));
}

const pathOnly = (url: string | undefined) => (url ?? '/').split('?')[0] ?? '/';

/** A denial the agent can read: status, `X-Berth-Egress-Denied: <reason>`, a one-line body. */
function denyResponse(res: ServerResponse, status: number, reason: string, message: string): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'x-berth-egress-denied': reason,
    'x-berth-policy': 'egress',
    connection: 'close',
  });
  res.end(`berth egress: ${message}\n`);
}

function rawDeny(socket: Socket, status: number, reason: string, message: string): void {
  const body = `berth egress: ${message}\n`;
  const text = http.STATUS_CODES[status] ?? 'Denied';
  if (socket.writable) {
    socket.end(
      `HTTP/1.1 ${status} ${text}\r\nContent-Type: text/plain; charset=utf-8\r\nX-Berth-Egress-Denied: ${reason}\r\nX-Berth-Policy: egress\r\n${status === 407 ? 'Proxy-Authenticate: Berth\r\n' : ''}Connection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  setTimeout(() => socket.destroy(), 1000).unref();
}

/** Readers (the workspace) never see a half-written certificate. */
function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o444 });
  renameSync(tmp, path);
}
