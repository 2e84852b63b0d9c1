import type { CommandInfo, ExecResult, Workspace } from '@berth/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecResultSchema } from '../src/api/schemas.js';
import { execIn, startBerth, type TestBerth } from './harness.js';
import { StreamClient } from './ws-client.js';

let berth: TestBerth;
let ws: Workspace;
let tier1: Workspace;
beforeAll(async () => {
  berth = await startBerth();
  ws = (await berth.api<Workspace>('POST', '/v1/workspaces', { body: { name: 'cmds' } })).body;
  tier1 = (await berth.api<Workspace>('POST', '/v1/workspaces', { body: { name: 'cmds-t1', tier: 1 } })).body;
  expect(ws.status).toBe('running');
  expect(tier1.status).toBe('running');
});
afterAll(async () => {
  await berth.cleanup();
});

const exec = async (body: Record<string, unknown>, target: Workspace = ws) => {
  const res = await berth.api<ExecResult>('POST', `/v1/workspaces/${target.id}/exec`, { body });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return ExecResultSchema.parse(res.body);
};

/** Processes of the workspace user other than the container's own idle process. */
const strayProcesses = async (target: Workspace, marker: string) =>
  (
    await execIn(target.containerId!, [
      'sh',
      '-c',
      `ps -o pid,args | grep "${marker}" | grep -v grep || true`,
    ])
  ).stdout.trim();

describe('one-shot exec', () => {
  it('runs argv without a shell, with cwd, env, user and stdin', async () => {
    const argv = await exec({ cmd: ['printf', '%s|%s', 'a b', '$HOME; rm -rf /'] });
    expect(argv).toMatchObject({ exitCode: 0, stdout: 'a b|$HOME; rm -rf /', timedOut: false });
    const all = await exec({
      command: 'pwd; echo "$GREETING"; id -u; cat',
      cwd: '/tmp',
      env: { GREETING: 'hello there' },
      user: '1234:1234',
      stdin: 'from stdin\n',
    });
    expect(all.stdout).toBe('/tmp\nhello there\n1234\nfrom stdin\n');
    const binaryIn = await exec({
      cmd: ['od', '-An', '-tx1'],
      stdin: Buffer.from([0, 255, 10]).toString('base64'),
      stdinEncoding: 'base64',
    });
    expect(binaryIn.stdout.trim()).toBe('00 ff 0a');
    expect(all.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('reports exit codes and a program that does not exist', async () => {
    expect((await exec({ command: 'echo oops >&2; exit 7' })).exitCode).toBe(7);
    const missing = await exec({ cmd: ['/no/such/program'] });
    expect(missing.exitCode).toBe(127);
    expect(missing.stderr).toMatch(/no\/such\/program/);
  });

  it('keeps each stream in order and complete when they interleave', async () => {
    const result = await exec({
      command: 'i=0; while [ $i -lt 300 ]; do echo out$i; echo err$i >&2; i=$((i+1)); done',
    });
    const expected = (prefix: string) =>
      Array.from({ length: 300 }, (_, i) => `${prefix}${i}`).join('\n') + '\n';
    expect(result.stdout).toBe(expected('out'));
    expect(result.stderr).toBe(expected('err'));
  });

  it('truncates output beyond the cap and says so', async () => {
    const result = await exec({ command: 'head -c 100000 /dev/zero | tr "\\0" x', maxOutputBytes: 1000 });
    expect(result.stdout).toHaveLength(1000);
    expect(result.truncated).toEqual({ stdout: true, stderr: false });
    expect(result.exitCode).toBe(0);
  });

  it('kills the whole process tree on timeout and says timedOut', async () => {
    const marker = `sleep ${3000 + Math.floor(Math.random() * 5000)}`;
    // A child, and a grandchild that double-forks away from its parent, all sleeping.
    const result = await exec({ command: `(${marker} &) ; ${marker} & ${marker}`, timeoutMs: 1500 });
    expect(result.timedOut).toBe(true);
    expect(result.exitCode).not.toBe(0);
    expect(result.durationMs).toBeLessThan(10_000);
    expect(await strayProcesses(ws, marker)).toBe('');
  });

  it('refuses bad commands with 400 and root in tiers 1-2 with 403', async () => {
    const bad = [
      { cmd: [] },
      { cmd: ['x'], command: 'x' },
      {},
      { cmd: ['x\u0000y'] },
      { cmd: ['ls'], cwd: 'relative' },
      { cmd: ['ls'], cwd: '/proc/self/fd/7' },
      { cmd: ['ls'], user: 'root' },
      { cmd: ['ls'], env: { 'A=B': 'x' } },
      { cmd: ['ls'], privileged: true },
    ];
    for (const body of bad) {
      const res = await berth.api('POST', `/v1/workspaces/${ws.id}/exec`, { body });
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
    const reserved = await berth.api('POST', `/v1/workspaces/${ws.id}/exec`, {
      body: { cmd: ['ls'], env: { LD_PRELOAD: '/x' } },
    });
    expect(reserved.body).toMatchObject({ code: 'reserved_env_key' });
    for (const user of ['0', '0:0', '1000:0']) {
      const res = await berth.api('POST', `/v1/workspaces/${ws.id}/exec`, { body: { cmd: ['id'], user } });
      expect(res.status, user).toBe(403);
    }
  });

  it('works in tier 1 (read-only rootfs, gVisor where available)', async () => {
    const result = await exec(
      { command: 'id -u; echo hi > /tmp/x && cat /tmp/x; touch /usr/x 2>/dev/null || echo ro' },
      tier1,
    );
    expect(result.stdout).toBe('1000\nhi\nro\n');
  });
});

describe('streamed commands', () => {
  it('streams stdout and stderr, takes stdin and signals, and ends with the exit code', async () => {
    const client = await StreamClient.open(berth, `/v1/workspaces/${ws.id}/commands/stream`);
    client.send({
      type: 'start',
      command:
        // The trap is set before `warn` is printed: the test signals once it sees `warn`.
        'echo ready; read line; echo "got:$line"; trap "echo term; exit 9" TERM; echo warn >&2; sleep 60 & wait',
    });
    const started = await client.waitFor('started');
    expect((started.command as CommandInfo).id).toMatch(/^cmd_/);
    await client.until(() => client.text().includes('ready'));
    client.sendBytes('hello\n');
    await client.until(() => client.text().includes('got:hello') && client.text('stderr').includes('warn'));
    client.send({ type: 'signal', signal: 'SIGTERM' });
    const exit = await client.waitFor('exit');
    expect(exit).toMatchObject({ exitCode: 9, timedOut: false });
    expect(client.text()).toBe('ready\ngot:hello\nterm\n');
    await client.until(() => client.closeCode !== null);
    expect(client.closeCode).toBe(1000);
  });

  it('kills a foreground command when the client disconnects', async () => {
    const marker = `sleep ${8000 + Math.floor(Math.random() * 1000)}`;
    const client = await StreamClient.open(berth, `/v1/workspaces/${ws.id}/commands/stream`);
    client.send({ type: 'start', command: `exec ${marker}` });
    await client.waitFor('started');
    await waitUntil(async () => (await strayProcesses(ws, marker)) !== '');
    client.close();
    await waitUntil(async () => (await strayProcesses(ws, marker)) === '');
  });

  it('keeps a background command after disconnect; it can be listed, re-attached and killed', async () => {
    const client = await StreamClient.open(berth, `/v1/workspaces/${ws.id}/commands/stream`);
    client.send({
      type: 'start',
      command: 'i=0; while :; do echo tick$i; i=$((i+1)); sleep 0.2; done',
      background: true,
    });
    const id = ((await client.waitFor('started')).command as CommandInfo).id;
    await client.until(() => client.text().includes('tick1'));
    client.close();
    await new Promise((r) => setTimeout(r, 600));

    const listed = await berth.api<{ items: CommandInfo[] }>('GET', `/v1/workspaces/${ws.id}/commands`);
    expect(listed.body.items.find((c) => c.id === id)).toMatchObject({ running: true, background: true });

    const again = await StreamClient.open(berth, `/v1/workspaces/${ws.id}/commands/${id}/stream`);
    await again.until(() => /tick0[\s\S]*tick4/.test(again.text()), 10_000, 'replayed and live ticks');
    const killed = await berth.api<CommandInfo>('POST', `/v1/workspaces/${ws.id}/commands/${id}/kill`);
    expect(killed.body.running).toBe(false);
    await again.waitFor('exit');
    const gone = await berth.api('GET', `/v1/workspaces/${ws.id}/commands/cmd_doesnotexist`);
    expect(gone.status).toBe(404);
    expect(gone.body).toMatchObject({ code: 'command_not_found' });
  });

  it('starts background commands over HTTP too', async () => {
    const res = await berth.api<CommandInfo>('POST', `/v1/workspaces/${ws.id}/commands`, {
      body: { cmd: ['sleep', '30'] },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ running: true, background: true });
    const killed = await berth.api<CommandInfo>(
      'POST',
      `/v1/workspaces/${ws.id}/commands/${res.body.id}/kill`,
      { body: { signal: 'SIGKILL' } },
    );
    expect(killed.body.running).toBe(false);
  });

  it('streams 50 MB of output to a slow client without buffering it (backpressure)', async () => {
    const client = await StreamClient.open(berth, `/v1/workspaces/${ws.id}/commands/stream`);
    let received = 0;
    let rssAtPause = 0;
    client.socket.removeAllListeners('message');
    client.socket.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) {
        client.messages.push(JSON.parse(data.toString()) as { type: string });
        return;
      }
      if (data[0] !== 1) return;
      received += data.length - 1;
      if (rssAtPause === 0) {
        // The client stops reading at its first chunk. Were Berth buffering instead of pushing
        // back, the 50 MB would pile up in this process (client and daemon share it).
        rssAtPause = process.memoryUsage().rss;
        client.socket.pause();
      }
    });
    client.send({ type: 'start', command: 'head -c 52428800 /dev/zero; echo done >&2' });
    await client.until(() => rssAtPause > 0, 10_000, 'the first bytes');
    await new Promise((r) => setTimeout(r, 3000));
    const grown = process.memoryUsage().rss - rssAtPause;
    client.socket.resume();
    await client.until(() => client.messages.some((m) => m.type === 'exit'), 120_000, 'the end of 50 MB');
    expect(received).toBe(52_428_800);
    expect(grown).toBeLessThan(24 * 1024 * 1024);
  });
});

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}
