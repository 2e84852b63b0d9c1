import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page, Workspace, WorkspaceEvent } from '@berth/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { removeLabeled, RUN_LABEL } from '../../server/test/harness.js';
import { BIN, startServe, stopServe } from './serve.js';

const runId = `t-cli-ev-${randomUUID().slice(0, 8)}`;
let dataDir: string;
let serve: ChildProcess;
let url: string;
const children: ChildProcess[] = [];

const args = (...rest: string[]) => ['--url', url, '--data-dir', dataDir, ...rest];
const cliEnv = () => ({ ...process.env, BERTH_TOKEN: '', BERTH_URL: '' });

function berth(...rest: string[]): { code: number; stdout: string; stderr: string } {
  const res = spawnSync(BIN, args(...rest), { env: cliEnv(), encoding: 'utf8', timeout: 120_000 });
  return { code: res.status ?? -1, stdout: res.stdout, stderr: res.stderr };
}

/** Starts `berth` in the background and collects its output. */
function background(...rest: string[]): {
  child: ChildProcess;
  out: () => string;
  exit: Promise<number | null>;
} {
  const child = spawn(BIN, args(...rest), { env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, out: () => out, exit };
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'berth-cli-ev-'));
  writeFileSync(join(dataDir, 'berth.yaml'), stringify({ engine: { labels: { [RUN_LABEL]: runId } } }));
  ({ child: serve, url } = await startServe(dataDir));
});

afterAll(async () => {
  try {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (serve) await stopServe(serve);
  } finally {
    await removeLabeled(runId);
    rmSync(dataDir, { recursive: true, force: true });
  }
});

describe('berth events', () => {
  it('follows every workspace as NDJSON with -f --json and exits 0 on Ctrl-C', async () => {
    const follow = background('events', '-f', '--json');
    const created = berth('create', 'cli-events', '--json');
    expect(created.code, created.stderr).toBe(0);
    const ws = JSON.parse(created.stdout) as Workspace;
    const lines = () =>
      follow
        .out()
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as WorkspaceEvent);
    await waitFor(() => lines().some((e) => e.type === 'workspace.running'), 'workspace.running');
    follow.child.kill('SIGINT');
    expect(await follow.exit).toBe(0);
    const events = lines();
    expect(events[0]).toMatchObject({ type: 'workspace.created', workspaceId: ws.id });
    expect(events.every((e, i) => i === 0 || e.id > events[i - 1]!.id)).toBe(true);

    // Without -f: one page of every workspace, as JSON or as a table naming the workspace.
    const page = berth('events', '--json');
    expect(page.code).toBe(0);
    expect((JSON.parse(page.stdout) as Page<WorkspaceEvent>).items.slice(0, events.length)).toEqual(events);
    const table = berth('events');
    expect(table.stdout).toMatch(/^ID +TIME +WORKSPACE +TYPE +STATUS +MESSAGE/);
    expect(table.stdout).toMatch(/ cli-events +workspace\.running +running /);
    expect(berth('events', '--after', 'now').code).toBe(2);
  });

  it('follows one workspace as lines until it is deleted', async () => {
    expect(berth('create', 'cli-events-one', '--json').code).toBe(0);
    const follow = background('events', 'cli-events-one', '-f');
    await waitFor(() => follow.out().includes('workspace.running'), 'workspace.running');
    expect(berth('rm', 'cli-events-one').code).toBe(0);
    expect(await follow.exit).toBe(0);
    const lines = follow.out().trim().split('\n');
    expect(lines[0]).toMatch(
      /^\d{4}-\d\d-\d\dT\S+ {2}cli-events-one {2}workspace\.created {2}provisioning {2}/,
    );
    expect(lines.at(-1)).toMatch(/ {2}workspace\.deleted {2}deleted {2}/);
  });
});
