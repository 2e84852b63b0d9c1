import type { LogLine, TerminalInfo, Workspace } from '@berth/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LogLineSchema } from '../src/api/schemas.js';
import { startBerth, withBerth, type TestBerth } from './harness.js';
import { StreamClient } from './ws-client.js';

let berth: TestBerth;
let ws: Workspace;
beforeAll(async () => {
  berth = await startBerth({
    config: {
      runtimes: {
        chatty: {
          image: 'berth-shell:0.1.0',
          command: [
            'sh',
            '-c',
            'echo started-out; echo started-err >&2; i=0; while :; do echo beat$i; i=$((i+1)); sleep 0.3; done',
          ],
        },
      },
    },
  });
  ws = (await berth.api<Workspace>('POST', '/v1/workspaces', { body: { name: 'term', runtime: 'chatty' } }))
    .body;
  expect(ws.status).toBe('running');
});
afterAll(async () => {
  await berth.cleanup();
});

const sizeOf = async (client: StreamClient, tag: string): Promise<string> => {
  client.sendBytes(`echo ${tag}=$(stty size)\n`);
  await client.until(() => new RegExp(`${tag}=\\d+ \\d+`).test(client.text('raw')), 10_000, `${tag} size`);
  return new RegExp(`${tag}=(\\d+ \\d+)`).exec(client.text('raw'))![1]!;
};

describe('terminals', () => {
  it('gives an interactive PTY that follows resizes and ends cleanly', async () => {
    const client = await StreamClient.open(berth, `/v1/workspaces/${ws.id}/terminals/stream`, {
      prefixed: false,
    });
    client.send({ type: 'start', cols: 80, rows: 24 });
    const started = (await client.waitFor('started')).terminal as TerminalInfo;
    expect(started.id).toMatch(/^term_/);
    expect(await sizeOf(client, 'first')).toBe('24 80');
    client.send({ type: 'resize', cols: 132, rows: 43 });
    expect(await sizeOf(client, 'second')).toBe('43 132');
    // It is a real TTY: the line discipline echoes what is typed.
    client.sendBytes('echo $((6*7))\n');
    await client.until(() => client.text('raw').includes('42'));
    client.sendBytes('exit 3\n');
    expect(await client.waitFor('exit')).toMatchObject({ exitCode: 3 });
  });

  it('delivers Ctrl-C to the workspace and survives a reconnect', async () => {
    const client = await StreamClient.open(berth, `/v1/workspaces/${ws.id}/terminals/stream`, {
      prefixed: false,
    });
    client.send({ type: 'start', cols: 100, rows: 30 });
    const { id } = (await client.waitFor('started')).terminal as TerminalInfo;
    client.sendBytes('sleep 100; echo after-sleep\n');
    await new Promise((r) => setTimeout(r, 300));
    client.sendBytes('\x03'); // Ctrl-C interrupts the sleep, not the terminal
    client.sendBytes('echo still-here\n');
    await client.until(() => client.text('raw').includes('still-here'));
    client.close();

    const listed = await berth.api<{ items: TerminalInfo[] }>('GET', `/v1/workspaces/${ws.id}/terminals`);
    expect(listed.body.items.find((t) => t.id === id)).toMatchObject({ running: true });

    const again = await StreamClient.open(berth, `/v1/workspaces/${ws.id}/terminals/${id}/stream`, {
      prefixed: false,
    });
    await again.waitFor('started');
    await again.until(() => again.text('raw').includes('still-here'), 10_000, 'replayed output');
    again.sendBytes('echo reconnected\n');
    await again.until(() => again.text('raw').includes('reconnected'));
    expect((await berth.api('DELETE', `/v1/workspaces/${ws.id}/terminals/${id}`)).status).toBe(204);
    await again.waitFor('exit');
    const missing = await berth.api('DELETE', `/v1/workspaces/${ws.id}/terminals/${id}`);
    expect(missing.status).toBe(404);
  });

  it('refuses a socket without a valid token', async () => {
    await expect(
      StreamClient.open(berth, `/v1/workspaces/${ws.id}/terminals/stream`, { token: 'wrong-token-0000000' }),
    ).rejects.toThrow(/401/);
  });
});

describe('logs', () => {
  const logs = async (params: string) => {
    const res = await fetch(`${berth.url}/v1/workspaces/${ws.id}/logs?${params}`, {
      headers: { authorization: `Bearer ${berth.token}` },
    });
    expect(res.headers.get('content-type')).toMatch(/ndjson/);
    return (await res.text())
      .split('\n')
      .filter(Boolean)
      .map((l) => LogLineSchema.parse(JSON.parse(l)));
  };

  it('returns the last N lines with streams apart and timestamps on request', async () => {
    // The last two lines must be beats: wait for a third one, so both start-up lines are older.
    let all = await logs('');
    for (let i = 0; i < 100 && all.filter((l) => l.text.startsWith('beat')).length < 3; i++) {
      await new Promise((r) => setTimeout(r, 100));
      all = await logs('');
    }
    // Each stream keeps its order; two writes at the same moment may land in either order.
    expect(all.filter((l) => l.stream === 'stdout')[0]).toEqual({ stream: 'stdout', text: 'started-out' });
    expect(all.filter((l) => l.stream === 'stderr')).toEqual([{ stream: 'stderr', text: 'started-err' }]);
    const beats = all.filter((l) => l.text.startsWith('beat')).map((l) => Number(l.text.slice(4)));
    expect(beats).toEqual(beats.map((_, i) => i));
    const tail = await logs('tail=2&timestamps=true');
    expect(tail).toHaveLength(2);
    for (const line of tail) {
      expect(line.text).toMatch(/^beat\d+$/);
      expect(Date.parse(line.time!)).toBeGreaterThan(Date.now() - 120_000);
    }
  });

  it('follows new lines as they come', async () => {
    const abort = new AbortController();
    const res = await fetch(`${berth.url}/v1/workspaces/${ws.id}/logs?tail=0&follow=true`, {
      headers: { authorization: `Bearer ${berth.token}` },
      signal: abort.signal,
    });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!/beat\d+[\s\S]*beat\d+/.test(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    abort.abort();
    const lines = text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as LogLine);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.every((l) => /^beat\d+$/.test(l.text))).toBe(true);
  });

  it('stays readable after the process exited, until the workspace is deleted', async () => {
    await withBerth(
      {
        config: {
          runtimes: {
            brief: {
              image: 'berth-shell:0.1.0',
              command: ['sh', '-c', 'sleep 0.5; echo last words; exit 5'],
              restartPolicy: 'never',
            },
          },
        },
      },
      async (other) => {
        const created = (await other.api<Workspace>('POST', '/v1/workspaces', { body: { runtime: 'brief' } }))
          .body;
        let status = created.status;
        for (let i = 0; i < 100 && status !== 'failed'; i++) {
          await new Promise((r) => setTimeout(r, 100));
          status = (await other.api<Workspace>('GET', `/v1/workspaces/${created.id}`)).body.status;
        }
        expect(status).toBe('failed');
        const res = await fetch(`${other.url}/v1/workspaces/${created.id}/logs`, {
          headers: { authorization: `Bearer ${other.token}` },
        });
        expect(await res.text()).toContain('last words');
        const del = await other.api('DELETE', `/v1/workspaces/${created.id}?wait=true`);
        expect(del.status, JSON.stringify(del.body)).toBe(204);
        expect((await other.api('GET', `/v1/workspaces/${created.id}/logs`)).status).toBe(404);
      },
    );
  });
});
