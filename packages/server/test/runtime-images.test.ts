import { once } from 'node:events';
import { rmSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import type { ImageInfo, Progress, RuntimeInfo, Workspace } from '@berth/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkspaceCa, LeafIssuer } from '../src/egress/ca.js';
import { PLACEHOLDERS } from '../src/egress/grants.js';
import { BERTH_VERSION } from '../src/version.js';
import { startDnsStub, type DnsStub } from './dns-stub.js';
import { docker, RUN_LABEL, withBerth, type TestBerth } from './harness.js';

/**
 * Issue 6: Berth's runtime images, built for real by Berth's own builder (Debian made with
 * debootstrap when no registry answers, as here), then started as workspaces: the agent shim
 * heartbeats, each CLI runs as uid 1000, its config files come from the spec, and a headless run
 * goes out through the egress gateway, which injects the real key. The model APIs are fakes on
 * 127.0.0.3 (the gateway's one private exception here), reached through a stub DNS server.
 * The same test runs on Docker and on Podman's compat API (CI runs both).
 */

const UPSTREAM_IP = '127.0.0.3';
const ANTHROPIC_KEY = `sk-ant-real-${Math.random().toString(36).slice(2)}`;
const OPENAI_KEY = `sk-openai-real-${Math.random().toString(36).slice(2)}`;
const REPLY = 'hello from the fake model';
const API_HOSTS = ['api.anthropic.com', 'api.openai.com'];

interface Seen {
  host: string;
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

const seen: Seen[] = [];
let dns: DnsStub;
let upstream: https.Server;
let upstreamCaFile = '';

/** Anthropic's Messages API, streamed as server-sent events, just enough for `claude -p`. */
function anthropicStream(res: http.ServerResponse): void {
  const events: [string, unknown][] = [
    [
      'message_start',
      {
        type: 'message_start',
        message: {
          id: 'msg_fake',
          type: 'message',
          role: 'assistant',
          model: 'claude-fake',
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: 3, output_tokens: 1 },
        },
      },
    ],
    [
      'content_block_start',
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
    ],
    [
      'content_block_delta',
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: REPLY } },
    ],
    ['content_block_stop', { type: 'content_block_stop', index: 0 }],
    [
      'message_delta',
      {
        type: 'message_delta',
        delta: { stop_reason: 'end_turn', stop_sequence: null },
        usage: { output_tokens: 5 },
      },
    ],
    ['message_stop', { type: 'message_stop' }],
  ];
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  for (const [event, data] of events) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  res.end();
}

function upstreamHandler(req: http.IncomingMessage, res: http.ServerResponse): void {
  const host = String(req.headers.host ?? '').replace(/:\d+$/, '');
  seen.push({ host, method: req.method ?? '', url: req.url ?? '', headers: req.headers });
  req.resume();
  req.on('end', () => {
    if (host === 'api.anthropic.com' && req.method === 'POST' && req.url?.startsWith('/v1/messages')) {
      anthropicStream(res);
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { type: 'not_found', message: 'fake upstream' } }));
  });
}

beforeAll(async () => {
  dns = await startDnsStub((name) => (API_HOSTS.includes(name.toLowerCase()) ? UPSTREAM_IP : null), 60);

  // The "real" model APIs: certificates from a CA of the test's, which the gateway trusts.
  const ca = await createWorkspaceCa('upstream', 3_600_000);
  const issuer = new LeafIssuer(ca.certPem, ca.keyPem, ca.notAfter);
  const leaves = new Map<string, { cert: string; key: string }>();
  for (const host of API_HOSTS) leaves.set(host, await issuer.issue(host));
  upstreamCaFile = join(tmpdir(), `berth-runtime-ca-${process.pid}.pem`);
  writeFileSync(upstreamCaFile, ca.certPem);
  const first = leaves.get(API_HOSTS[0]!)!;
  upstream = https.createServer(
    {
      cert: first.cert,
      key: first.key,
      SNICallback: (name, cb) => {
        const leaf = leaves.get(name);
        cb(null, leaf ? tls.createSecureContext(leaf) : undefined);
      },
    },
    upstreamHandler,
  );
  upstream.listen(443, UPSTREAM_IP);
  await once(upstream, 'listening');
});

afterAll(() => {
  dns?.close();
  upstream?.close();
  if (upstreamCaFile) rmSync(upstreamCaFile, { force: true });
});

/** Removes the images a run built: every image carrying its run label, then its Debian root. */
async function removeImages(berth: TestBerth, repository: string): Promise<void> {
  const images = await docker.listImages({
    all: true,
    filters: JSON.stringify({ label: [`${RUN_LABEL}=${berth.runId}`] }),
  });
  // Children first: newest first is a safe order for a chain.
  for (const image of images.sort((a, b) => b.Created - a.Created)) {
    await docker
      .getImage(image.Id)
      .remove({ force: true })
      .catch(() => {});
  }
  await docker
    .getImage(`${repository}-debian:bookworm`)
    .remove({ force: true })
    .catch(() => {});
}

async function waitRunning(berth: TestBerth, id: string, timeoutMs = 240_000): Promise<Workspace> {
  const deadline = Date.now() + timeoutMs;
  let ws: Workspace | undefined;
  while (Date.now() < deadline) {
    ws = (await berth.api<Workspace>('GET', `/v1/workspaces/${id}`)).body;
    if (ws.status === 'running' || ws.status === 'failed') return ws;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`workspace ${id} did not settle: ${JSON.stringify(ws)}`);
}

async function sh(berth: TestBerth, id: string, script: string, timeoutMs = 60_000) {
  const res = await berth.api<{ exitCode: number; stdout: string; stderr: string }>(
    'POST',
    `/v1/workspaces/${id}/exec`,
    { body: { cmd: ['sh', '-c', script], timeoutMs } },
  );
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

describe('runtime images (issue 6)', () => {
  it('builds the base, claude-code, codex and gemini offline; each starts, heartbeats as uid 1000 and reaches the gateway', async () => {
    const repository = `berth-t${Math.random().toString(36).slice(2, 10)}`;
    await withBerth(
      {
        config: {
          images: { repository },
          agents: { heartbeatIntervalMs: 500 },
          egress: {
            dnsServers: [dns.address],
            allowCidrs: [`${UPSTREAM_IP}/32`],
            upstreamCaFile,
          },
        },
      },
      async (berth) => {
        try {
          const tag = (name: string) => `${repository}-${name}:${BERTH_VERSION}`;
          const runtimes = (await berth.api<{ items: RuntimeInfo[] }>('GET', '/v1/runtimes')).body.items;
          const claudeRt = runtimes.find((r) => r.name === 'claude-code');
          expect(claudeRt).toMatchObject({
            image: tag('claude-code'),
            source: 'build',
            agent: true,
            configFormat: 'claude-code',
            imagePresent: false,
            requiredEnv: ['ANTHROPIC_API_KEY|ANTHROPIC_AUTH_TOKEN|CLAUDE_CODE_OAUTH_TOKEN'],
          });
          expect(runtimes.map((r) => r.name)).toEqual(
            expect.arrayContaining([
              'shell',
              'debian',
              'node',
              'python',
              'codex',
              'gemini',
              'langgraph',
              'crewai',
            ]),
          );
          for (const [name, value] of [
            ['ANTHROPIC_API_KEY', ANTHROPIC_KEY],
            ['OPENAI_API_KEY', OPENAI_KEY],
          ] as const) {
            expect((await berth.api('PUT', `/v1/secrets/${name}`, { body: { value } })).status).toBe(201);
          }

          // A missing image fails the workspace with the command that builds it; nothing is built.
          const early = await berth.api<Workspace>('POST', '/v1/workspaces', {
            body: { runtime: 'claude-code', grants: ['anthropic'] },
          });
          expect(early.body.status).toBe('failed');
          expect(early.body.error?.code).toBe('image_not_found');
          expect(early.body.error?.message).toContain('berth images build claude-code');
          expect(await docker.listImages({ filters: JSON.stringify({ reference: [tag('base')] }) })).toEqual(
            [],
          );

          // Build through the API (what `berth images build` calls), watching its progress.
          const progress: Progress[] = [];
          let building = true;
          const watch = (async () => {
            while (building) {
              const items = (await berth.api<{ items: ImageInfo[] }>('GET', '/v1/images')).body.items;
              const p = items.find((i) => i.runtime === 'claude-code')?.progress;
              if (p) progress.push(p);
              await new Promise((r) => setTimeout(r, 200));
            }
          })();
          const built = await berth
            .api<ImageInfo>('POST', '/v1/images/claude-code/build')
            .finally(() => (building = false));
          await watch;
          expect(built.status, JSON.stringify(built.body)).toBe(200);
          expect(built.body).toMatchObject({ present: true, upToDate: true, image: tag('claude-code') });
          expect(progress.some((p) => p.message.includes(`building ${tag('base')}`))).toBe(true);
          expect(progress.some((p) => p.unit === 'steps' && (p.total ?? 0) > 1)).toBe(true);

          // Labels: Berth's, the recipe chain, and the Debian root pinned by id or digest.
          const root = await docker.getImage(`${repository}-debian:bookworm`).inspect();
          const base = await docker.getImage(tag('base')).inspect();
          const node = await docker.getImage(tag('node')).inspect();
          const claude = await docker.getImage(tag('claude-code')).inspect();
          expect(base.Config.Labels).toMatchObject({
            'berth.managed': 'true',
            'berth.image-recipe': 'base',
            'berth.parent-id': root.Id,
            'berth.base-digest': root.Id,
            [RUN_LABEL]: berth.runId,
          });
          expect(claude.Config.Labels).toMatchObject({
            'berth.image-recipe': 'claude-code',
            'berth.parent': tag('node'),
            'berth.parent-id': node.Id,
            'berth.base-digest': root.Id,
          });
          expect(claude.Config.User).toBe('1000:1000');
          expect(built.body.baseDigest).toBe(root.Id);
          expect(built.body.digest).toBe(claude.RepoDigests?.[0] ?? claude.Id);

          // Asked to build: codex and gemini are built on create, reusing base and node.
          const codexCreate = berth.api<Workspace>('POST', '/v1/workspaces?wait=false', {
            body: {
              runtime: 'codex',
              grants: ['openai'],
              buildImage: true,
              agentConfig: { model: 'gpt-fake', instructions: 'Be brief.' },
            },
          });
          const codexWs = await waitRunning(berth, (await codexCreate).body.id);
          expect(codexWs.status, JSON.stringify(codexWs.error)).toBe('running');
          expect((await docker.getImage(tag('codex')).inspect()).Config.Labels?.['berth.parent-id']).toBe(
            node.Id,
          );
          const geminiWs = await waitRunning(
            berth,
            (
              await berth.api<Workspace>('POST', '/v1/workspaces?wait=false', {
                body: { runtime: 'gemini', env: { GEMINI_API_KEY: 'unused' }, buildImage: true },
              })
            ).body.id,
          );
          expect(geminiWs.status, JSON.stringify(geminiWs.error)).toBe('running');

          // Required env is checked before start: codex without a key fails with the list.
          const keyless = await berth.api<Workspace>('POST', '/v1/workspaces', {
            body: { runtime: 'codex' },
          });
          expect(keyless.body.status).toBe('failed');
          expect(keyless.body.error).toMatchObject({ code: 'env_missing' });
          expect(keyless.body.error?.message).toContain('OPENAI_API_KEY, CODEX_API_KEY');

          // Claude Code: config from the spec, the shim heartbeating, the CLI as uid 1000.
          const cc = await berth.api<Workspace>('POST', '/v1/workspaces', {
            body: {
              runtime: 'claude-code',
              grants: ['anthropic'],
              agentConfig: {
                model: 'claude-fake',
                instructions: 'Answer in one line.',
                mcpServers: {
                  files: { command: 'npx', args: ['-y', 'mcp-files'], env: { ROOT: '/workspace' } },
                },
              },
            },
          });
          expect(cc.body.status, JSON.stringify(cc.body.error)).toBe('running');
          expect(cc.body.agentConfig?.model).toBe('claude-fake');
          const firstBeat = cc.body.agent?.lastHeartbeatAt;
          await new Promise((r) => setTimeout(r, 1500));
          const later = (await berth.api<Workspace>('GET', `/v1/workspaces/${cc.body.id}`)).body;
          expect(later.agent?.status).toBe('ok');
          expect(later.agent?.agent).toContain('berth-helper');
          expect(later.agent?.lastHeartbeatAt).not.toBe(firstBeat);

          const who = await sh(
            berth,
            cc.body.id,
            'id -u; claude --version; readlink ~/.claude; ps -o user= -p 1',
          );
          expect(who.exitCode, who.stderr).toBe(0);
          const [uid, version, link] = who.stdout.split('\n');
          expect(uid).toBe('1000');
          expect(version).toMatch(/\(Claude Code\)/);
          expect(link).toBe('/configs/claude');
          const files = await sh(
            berth,
            cc.body.id,
            'cat /configs/claude/settings.json; cat /configs/claude/CLAUDE.md; cat /configs/claude/.claude.json',
          );
          expect(files.stdout).toContain('"model": "claude-fake"');
          expect(files.stdout).toContain('Answer in one line.');
          expect(files.stdout).toContain('"mcp-files"');

          // Headless: the CLI goes through the gateway, which swaps the placeholder for the key.
          const run = await sh(berth, cc.body.id, 'claude -p "say hello" < /dev/null', 90_000);
          expect(run.stdout + run.stderr).toContain(REPLY);
          const toAnthropic = seen.filter(
            (s) => s.host === 'api.anthropic.com' && s.url.startsWith('/v1/messages'),
          );
          expect(toAnthropic.length).toBeGreaterThan(0);
          for (const s of toAnthropic) {
            expect(s.headers['x-api-key']).toBe(ANTHROPIC_KEY);
            expect(JSON.stringify(s.headers)).not.toContain(PLACEHOLDERS.anthropic);
          }

          // Codex: its config.toml from the spec, and `codex exec` reaching the API with the real key.
          const codexFiles = await sh(
            berth,
            codexWs.id,
            'id -u; codex --version; cat $CODEX_HOME/config.toml; cat $CODEX_HOME/AGENTS.md',
          );
          expect(codexFiles.stdout).toMatch(/^1000\ncodex-cli \d/);
          expect(codexFiles.stdout).toContain('model = "gpt-fake"');
          expect(codexFiles.stdout).toContain('Be brief.');
          await sh(
            berth,
            codexWs.id,
            'timeout 45 codex exec --skip-git-repo-check "say hello" < /dev/null',
            60_000,
          );
          const toOpenai = seen.filter((s) => s.host === 'api.openai.com');
          expect(toOpenai.length, JSON.stringify(seen.map((s) => `${s.host}${s.url}`))).toBeGreaterThan(0);
          for (const s of toOpenai) expect(s.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);

          // Every agent runtime runs the shim under tini, the image's init, and it heartbeats.
          for (const ws of [codexWs, geminiWs]) {
            const now = (await berth.api<Workspace>('GET', `/v1/workspaces/${ws.id}`)).body;
            expect(now.agent, ws.runtime).toMatchObject({
              status: 'ok',
              agent: expect.stringContaining('berth-helper') as unknown,
            });
            const tree = await sh(berth, ws.id, 'ps -eo args');
            expect(tree.stdout).toContain('/usr/bin/tini -- /.berth/bin/berth-helper agent');
          }
          const gem = await sh(berth, geminiWs.id, 'id -u; gemini --version; readlink ~/.gemini');
          expect(gem.stdout).toMatch(/^1000\n\d+\.\d+\.\d+\n\/configs\/gemini\n$/);

          const listed = (await berth.api<{ items: ImageInfo[] }>('GET', '/v1/images')).body.items;
          for (const name of ['claude-code', 'codex', 'gemini', 'debian']) {
            expect(listed.find((i) => i.runtime === name)).toMatchObject({
              present: true,
              upToDate: true,
              baseDigest: root.Id,
            });
          }
          expect(listed.find((i) => i.runtime === 'langgraph')).toMatchObject({
            present: false,
            upToDate: null,
          });
        } finally {
          // Workspaces first (the harness removes labelled containers), then the images.
          for (const ws of (await berth.api<{ items: Workspace[] }>('GET', '/v1/workspaces')).body.items) {
            await berth.api('DELETE', `/v1/workspaces/${ws.id}?wait=true`).catch(() => {});
          }
          await removeImages(berth, repository);
        }
      },
    );
  }, 900_000);
});
