/**
 * Berth's benchmarks, each next to a baseline measured in the same run on the same machine:
 *
 *   node bench/run.ts [--runs 50] [--burst 20,50] [--workspaces 100] [--cycles 1000] [--only tti,exec,...]
 *                     [--concurrency n]   (the daemon's reconciler.concurrency)
 *
 * - tti:    create → first `exec true` returns. Berth cold (SDK), raw dockerode create+start+exec
 *           with the same security options, and `docker run -d` + `docker exec` via the CLI.
 * - peers:  the same create → first exec with testcontainers (GenericContainer.start + exec) and the
 *           devcontainers CLI (devcontainer up + exec), on the same image (bench/peers.ts).
 * - burst:  N concurrent creates, wall time and p95: Berth vs raw dockerode.
 * - exec:   round trip of `true`: Berth `commands.run` vs raw `docker exec` through the API.
 * - files:  write then read 1 MB and 100 MB: Berth `files` vs the raw archive API.
 * - memory: the daemon's RSS idle, with `--workspaces` running, and after `--cycles` create/delete.
 *
 * Berth runs as `berth serve` in a child process on a fresh data dir (its RSS is the daemon's
 * alone). Prints a table and writes bench/results/<time>.json. Everything it creates carries the
 * label berth.bench=<run id> and is removed at the end, also on failure.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import tar from 'tar-stream';
import { Berth } from '../packages/sdk/dist/index.js';
import { measurePeers } from './peers.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'packages/cli/bin/berth');
const IMAGE = 'berth-shell:0.1.0';
const run = promisify(execFile);

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2)
  args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
const num = (name: string, def: number) => Number(args.get(name) ?? def);
const RUNS = num('runs', 50);
const BURSTS = (args.get('burst') ?? '20,50').split(',').map(Number);
const WORKSPACES = num('workspaces', 100);
const CYCLES = num('cycles', 1000);
const ONLY = new Set((args.get('only') ?? 'tti,peers,burst,exec,files,memory').split(','));

const runId = `b-${randomUUID().slice(0, 8)}`;
const LABEL = { 'berth.bench': runId };
const docker = new Docker(
  process.env.DOCKER_HOST?.startsWith('unix://')
    ? { socketPath: process.env.DOCKER_HOST.slice(7) }
    : undefined,
);

interface Row {
  name: string;
  samples: number[];
  /** Which row this one is compared with. */
  baseline?: string;
  unit?: 'ms' | 'MB';
}
const rows: Row[] = [];

function pct(samples: number[], p: number): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

async function time<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const value = await fn();
  return [performance.now() - t0, value];
}

// ---------------------------------------------------------------------------------------------
// Berth as a child process

interface Serve {
  child: ChildProcess;
  url: string;
  token: string;
  dataDir: string;
}

async function startBerth(): Promise<Serve> {
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-bench-'));
  writeFileSync(
    join(dataDir, 'berth.yaml'),
    `logLevel: warn\nengine:\n  labels:\n    berth.bench: ${runId}\n` +
      (args.has('concurrency') ? `reconciler:\n  concurrency: ${num('concurrency', 4)}\n` : ''),
  );
  const token = `bench-${randomUUID()}`;
  const child = spawn(BIN, ['serve', '--port', '0', '--data-dir', dataDir], {
    env: { ...process.env, BERTH_ADMIN_TOKEN: token },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening on (http:\/\/[0-9.:]+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`berth serve exited (${code}): ${out}`)));
  });
  return { child, url, token, dataDir };
}

/** RSS of the daemon (the node process the launcher execs), MB. */
function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024;
}

// ---------------------------------------------------------------------------------------------
// The raw baseline: what Berth asks the engine for a tier-2 workspace, without Berth.

let securityTemplate: { User: string; HostConfig: Docker.HostConfig } | undefined;

async function rawCreate(name: string): Promise<Docker.Container> {
  const t = securityTemplate!;
  const c = await docker.createContainer({
    name,
    Image: IMAGE,
    User: t.User,
    Cmd: ['sleep', 'infinity'],
    Labels: LABEL,
    ExposedPorts: { '8000/tcp': {} },
    HostConfig: {
      CapDrop: t.HostConfig.CapDrop as string[],
      CapAdd: t.HostConfig.CapAdd as string[],
      SecurityOpt: t.HostConfig.SecurityOpt as string[],
      Memory: t.HostConfig.Memory,
      MemorySwap: t.HostConfig.MemorySwap,
      NanoCpus: t.HostConfig.NanoCpus,
      PidsLimit: t.HostConfig.PidsLimit,
      Ulimits: t.HostConfig.Ulimits,
      Init: t.HostConfig.Init,
      PortBindings: { '8000/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] },
    },
  });
  await c.start();
  return c;
}

async function rawExec(c: Docker.Container, cmd: string[]): Promise<number> {
  const exec = await c.exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  await new Promise<void>((resolve, reject) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', reject);
    stream.resume();
  });
  return (await exec.inspect()).ExitCode ?? -1;
}

async function cleanupRaw(): Promise<void> {
  const filters = JSON.stringify({ label: [`berth.bench=${runId}`] });
  for (const c of await docker.listContainers({ all: true, filters }))
    await docker
      .getContainer(c.Id)
      .remove({ force: true, v: true })
      .catch(() => undefined);
  for (const n of await docker.listNetworks({ filters }))
    await docker
      .getNetwork(n.Id)
      .remove()
      .catch(() => undefined);
  for (const v of (await docker.listVolumes({ filters })).Volumes ?? [])
    await docker
      .getVolume(v.Name)
      .remove({ force: true })
      .catch(() => undefined);
}

function tarOf(name: string, data: Buffer): Promise<Buffer> {
  const pack = tar.pack();
  pack.entry({ name, uid: 1000, gid: 1000, mode: 0o644 }, data);
  pack.finalize();
  return (async () => {
    const chunks: Buffer[] = [];
    for await (const c of pack) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  })();
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const serve = await startBerth();
  const berth = new Berth({ url: serve.url, token: serve.token });
  const pid = serve.child.pid!;
  const results: Record<string, unknown> = { runId, at: new Date().toISOString() };
  try {
    // Warm up: Berth builds its image and tools volume once; take its security options.
    const warm = await berth.workspaces.create({});
    const inspected = await docker.getContainer(warm.containerId!).inspect();
    securityTemplate = { User: inspected.Config.User, HostConfig: inspected.HostConfig };
    await warm.commands.run('true');
    await warm.delete();
    const idle = rssMb(pid);

    if (ONLY.has('tti')) {
      const berthCold: number[] = [];
      const raw: number[] = [];
      const cli: number[] = [];
      const hasCli = await run('docker', ['version', '--format', '{{.Client.Version}}']).then(
        () => true,
        () => false,
      );
      for (let i = 0; i < RUNS; i++) {
        const [ms, ws] = await time(async () => {
          const w = await berth.workspaces.create({});
          await w.commands.run('true');
          return w;
        });
        berthCold.push(ms);
        await ws.delete();
        const name = `bench-${runId}-${i}`;
        const [rawMs, c] = await time(async () => {
          const created = await rawCreate(name);
          await rawExec(created, ['true']);
          return created;
        });
        raw.push(rawMs);
        await c.remove({ force: true });
        if (hasCli) {
          const [cliMs, id] = await time(async () => {
            const { stdout } = await run('docker', [
              'run',
              '-d',
              '--label',
              `berth.bench=${runId}`,
              '--user',
              securityTemplate!.User,
              '--cap-drop',
              'ALL',
              '--security-opt',
              'no-new-privileges',
              '--memory',
              String(securityTemplate!.HostConfig.Memory),
              '--pids-limit',
              String(securityTemplate!.HostConfig.PidsLimit),
              '--init',
              '-p',
              '127.0.0.1::8000',
              IMAGE,
              'sleep',
              'infinity',
            ]);
            const cid = stdout.trim();
            await run('docker', ['exec', cid, 'true']);
            return cid;
          });
          cli.push(cliMs);
          await run('docker', ['rm', '-f', id]);
        }
      }
      rows.push({ name: 'tti: raw dockerode create+start+exec', samples: raw });
      rows.push({
        name: 'tti: Berth cold (SDK create + commands.run)',
        samples: berthCold,
        baseline: 'tti: raw dockerode create+start+exec',
      });
      if (cli.length)
        rows.push({
          name: 'tti: docker CLI run -d + exec',
          samples: cli,
          baseline: 'tti: raw dockerode create+start+exec',
        });
    }

    if (ONLY.has('peers')) {
      const peers = await measurePeers({
        image: IMAGE,
        runs: RUNS,
        label: LABEL,
        devcontainerBin: join(ROOT, 'node_modules/.bin/devcontainer'),
        docker,
      });
      const base = 'tti: raw dockerode create+start+exec';
      const baseline = rows.some((r) => r.name === base) ? base : undefined;
      if (peers.testcontainers.length)
        rows.push({ name: 'tti: testcontainers start + exec', samples: peers.testcontainers, baseline });
      if (peers.devcontainer.length)
        rows.push({ name: 'tti: devcontainer up + exec', samples: peers.devcontainer, baseline });
      for (const [peer, why] of Object.entries(peers.skipped)) console.error(`peer ${peer} skipped: ${why}`);
      results.peersSkipped = peers.skipped;
    }

    for (const BURST of ONLY.has('burst') ? BURSTS : []) {
      const [berthWall, berthEach] = await time(() =>
        Promise.all(
          Array.from({ length: BURST }, async () => {
            const [ms, w] = await time(() => berth.workspaces.create({}));
            return { ms, w };
          }),
        ),
      );
      const [rawWall, rawEach] = await time(() =>
        Promise.all(
          Array.from({ length: BURST }, async (_, i) => {
            const [ms, c] = await time(() => rawCreate(`bench-${runId}-burst${BURST}-${i}`));
            return { ms, c };
          }),
        ),
      );
      rows.push({ name: `burst ${BURST}: raw dockerode, each`, samples: rawEach.map((x) => x.ms) });
      rows.push({ name: `burst ${BURST}: raw dockerode, wall`, samples: [rawWall] });
      rows.push({
        name: `burst ${BURST}: Berth, each`,
        samples: berthEach.map((x) => x.ms),
        baseline: `burst ${BURST}: raw dockerode, each`,
      });
      rows.push({
        name: `burst ${BURST}: Berth, wall`,
        samples: [berthWall],
        baseline: `burst ${BURST}: raw dockerode, wall`,
      });
      await Promise.all(berthEach.map((x) => x.w.delete()));
      await Promise.all(rawEach.map((x) => x.c.remove({ force: true })));
    }

    if (ONLY.has('exec') || ONLY.has('files')) {
      const ws = await berth.workspaces.create({});
      const c = await rawCreate(`bench-${runId}-exec`);
      try {
        if (ONLY.has('exec')) {
          const b: number[] = [];
          const r: number[] = [];
          for (let i = 0; i < RUNS * 2; i++) {
            b.push((await time(() => ws.commands.run('true')))[0]);
            r.push((await time(() => rawExec(c, ['true'])))[0]);
          }
          rows.push({ name: 'exec true: raw docker exec (API)', samples: r });
          rows.push({
            name: 'exec true: Berth commands.run',
            samples: b,
            baseline: 'exec true: raw docker exec (API)',
          });
        }
        if (ONLY.has('files')) {
          for (const mb of [1, 100]) {
            const data = Buffer.alloc(mb * 1024 * 1024, 7);
            const n = mb === 1 ? 20 : 3;
            const b: number[] = [];
            const r: number[] = [];
            for (let i = 0; i < n; i++) {
              b.push(
                (
                  await time(async () => {
                    await ws.files.write('/workspace/blob', data);
                    const back = await ws.files.read('/workspace/blob', { format: 'bytes' });
                    if (back.length !== data.length) throw new Error('short read');
                  })
                )[0],
              );
              r.push(
                (
                  await time(async () => {
                    await c.putArchive(await tarOf('blob', data), { path: '/tmp' });
                    const stream = await c.getArchive({ path: '/tmp/blob' });
                    let bytes = 0;
                    for await (const chunk of stream) bytes += (chunk as Buffer).length;
                    if (bytes < data.length) throw new Error('short archive');
                  })
                )[0],
              );
            }
            rows.push({ name: `files ${mb} MB write+read: raw archive API`, samples: r });
            rows.push({
              name: `files ${mb} MB write+read: Berth files`,
              samples: b,
              baseline: `files ${mb} MB write+read: raw archive API`,
            });
          }
        }
      } finally {
        await ws.delete();
        await c.remove({ force: true });
      }
    }

    if (ONLY.has('memory')) {
      const many = [];
      for (let i = 0; i < WORKSPACES; i++) many.push(await berth.workspaces.create({}));
      const loaded = rssMb(pid);
      await Promise.all(many.map((w) => w.delete()));
      const before = rssMb(pid);
      for (let i = 0; i < CYCLES; i++) {
        const w = await berth.workspaces.create({});
        await w.delete();
      }
      const after = rssMb(pid);
      rows.push({ name: 'daemon RSS idle (MB)', samples: [idle], unit: 'MB' });
      rows.push({ name: `daemon RSS with ${WORKSPACES} running (MB)`, samples: [loaded], unit: 'MB' });
      rows.push({
        name: `daemon RSS before ${CYCLES} create/delete cycles (MB)`,
        samples: [before],
        unit: 'MB',
      });
      rows.push({
        name: `daemon RSS after ${CYCLES} create/delete cycles (MB)`,
        samples: [after],
        unit: 'MB',
      });
    }
  } finally {
    serve.child.kill('SIGTERM');
    await new Promise((r) => serve.child.once('exit', r));
    await cleanupRaw();
    rmSync(serve.dataDir, { recursive: true, force: true });
  }

  // Report
  const byName = new Map(rows.map((r) => [r.name, r]));
  const table = rows.map((r) => {
    const p50 = pct(r.samples, 50);
    const base = r.baseline ? byName.get(r.baseline) : undefined;
    return {
      name: r.name,
      n: r.samples.length,
      p50: p50,
      p95: pct(r.samples, 95),
      p99: pct(r.samples, 99),
      ratio: base ? p50 / pct(base.samples, 50) : null,
      unit: r.unit ?? 'ms',
    };
  });
  const w = Math.max(...table.map((t) => t.name.length));
  console.log(`${'benchmark'.padEnd(w)}      n       p50       p95       p99   vs baseline (p50)`);
  for (const t of table) {
    const f = (v: number) => v.toFixed(t.unit === 'MB' ? 1 : 1).padStart(9);
    console.log(
      `${t.name.padEnd(w)}  ${String(t.n).padStart(5)} ${f(t.p50)} ${f(t.p95)} ${f(t.p99)}   ${t.ratio === null ? '' : `${t.ratio.toFixed(2)}×`}`,
    );
  }
  results.rows = table;
  results.samples = Object.fromEntries(rows.map((r) => [r.name, r.samples]));
  const out = join(ROOT, 'bench/results');
  mkdirSync(out, { recursive: true });
  const file = join(out, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(results, null, 2));
  console.log(`\nwrote ${file}`);
}

await main();
