import type { WorkspaceStats } from '@berth/protocol';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../cli/src/cli.js';
import { Berth, ConflictError } from '../../sdk/src/index.js';
import { ErrorBodySchema, WorkspaceStatsSchema } from '../src/api/schemas.js';
import { until, withBerth } from './harness.js';

const MB = 1024 * 1024;

/** `berth stats <ws> --json` in-process, as a user runs it. */
async function cliStats(url: string, token: string, ws: string): Promise<{ code: number; stdout: string }> {
  let stdout = '';
  const code = await runCli(['stats', ws, '--json'], {
    env: { BERTH_URL: url, BERTH_TOKEN: token },
    stdout: { write: (s: string | Uint8Array) => (stdout += String(s)) },
    stderr: { write: () => true },
  });
  return { code, stdout };
}

describe('workspace stats', () => {
  it('reports CPU, memory, pids and network that move with what runs inside; 409 unless running', async () => {
    await withBerth({}, async (berth) => {
      const client = new Berth({ url: berth.url, token: berth.token });
      const ws = await client.workspaces.create({
        name: 'stats-one',
        resources: { memoryMb: 256, cpus: 1, pidsLimit: 128 },
      });
      const stats = async (): Promise<WorkspaceStats> => {
        const res = await berth.api('GET', `/v1/workspaces/${ws.id}/stats`);
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        return WorkspaceStatsSchema.parse(res.body);
      };

      const idle = await stats();
      expect(idle.workspaceId).toBe(ws.id);
      expect(Math.abs(Date.parse(idle.at) - Date.now())).toBeLessThan(30_000);
      expect(idle.memory.limitBytes).toBe(256 * MB);
      expect(idle.memory.usageBytes).toBeGreaterThan(0);
      expect(idle.memory.usageBytes).toBeLessThan(48 * MB);
      expect(idle.pids.current).toBeGreaterThanOrEqual(1);
      expect([128, null]).toContain(idle.pids.limit); // Podman 4 reports no pids limit
      expect(idle.cpu.onlineCpus).toBeGreaterThanOrEqual(1);
      expect(idle.cpu.percent).toBeLessThan(50);

      // A CPU loop, and 64 MiB held by dd (its buffer stays allocated while it blocks on a pipe
      // nobody reads), started in the background; a connection attempt to the gateway sends packets.
      const busy = await ws.commands.run(
        'dd if=/dev/zero bs=64M count=1 2>/dev/null | sleep 600 & while :; do :; done',
        { background: true },
      );
      const loaded = await until(
        'CPU and memory use to rise',
        stats,
        (s) => s.cpu.percent > 40 && s.memory.usageBytes > idle.memory.usageBytes + 56 * MB,
        60_000,
      );
      expect(loaded.cpu.percent).toBeLessThanOrEqual(loaded.cpu.onlineCpus * 100);
      expect(loaded.pids.current).toBeGreaterThan(idle.pids.current);
      await ws.commands.run('nc -w 1 $(route -n | awk \'$1 == "0.0.0.0" { print $2 }\') 9 </dev/null; true');
      const sent = await stats();
      expect(sent.network.txBytes).toBeGreaterThan(idle.network.txBytes);
      expect(sent.network.rxBytes).toBeGreaterThanOrEqual(idle.network.rxBytes);

      // The SDK and the CLI read the same sample.
      expect(WorkspaceStatsSchema.parse(await ws.stats())).toMatchObject({ workspaceId: ws.id });
      expect((await client.workspaces.stats('stats-one')).memory.limitBytes).toBe(256 * MB);
      const cli = await cliStats(berth.url, berth.token, 'stats-one');
      expect(cli.code).toBe(0);
      expect(WorkspaceStatsSchema.parse(JSON.parse(cli.stdout)).workspaceId).toBe(ws.id);

      // Killing the tree gives the CPU and memory back.
      await busy.kill();
      await until(
        'CPU and memory use to fall',
        stats,
        (s) => s.cpu.percent < 20 && s.memory.usageBytes < idle.memory.usageBytes + 32 * MB,
        60_000,
      );

      // Stopped: 409 invalid_state, saying to start it (API, SDK and CLI exit code 4).
      await ws.stop();
      const refused = await berth.api('GET', `/v1/workspaces/${ws.id}/stats`);
      expect(refused.status).toBe(409);
      const body = ErrorBodySchema.parse(refused.body);
      expect(body.code).toBe('invalid_state');
      expect(body.message).toContain('start it');
      await expect(ws.stats()).rejects.toBeInstanceOf(ConflictError);
      expect((await cliStats(berth.url, berth.token, ws.id)).code).toBe(4);
      expect((await berth.api('GET', '/v1/workspaces/nope/stats')).status).toBe(404);
      await ws.delete();
    });
  });
});
