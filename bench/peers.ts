/**
 * Peer tools on the same image as Berth, for the time-to-interactive comparison (issue 8):
 *
 * - testcontainers: `new GenericContainer(image).start()` then `container.exec(['true'])`.
 * - devcontainers CLI: `devcontainer up` on a folder whose devcontainer.json names the image,
 *   then `devcontainer exec true`.
 *
 * Both are installed from the npm registry (devDependencies). No registry is reachable here, so
 * testcontainers' reaper (Ryuk, an image it would pull) is disabled and everything is removed by
 * label instead; the devcontainer keeps its host-UID update off (it would build an image).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import type Docker from 'dockerode';

const run = promisify(execFile);

export interface PeerSamples {
  testcontainers: number[];
  devcontainer: number[];
  /** Why a peer has no samples (not installed, failed on this machine). */
  skipped: Record<string, string>;
}

export async function measurePeers(options: {
  image: string;
  runs: number;
  label: Record<string, string>;
  devcontainerBin: string;
  docker: Docker;
}): Promise<PeerSamples> {
  const out: PeerSamples = { testcontainers: [], devcontainer: [], skipped: {} };
  const [labelKey, labelValue] = Object.entries(options.label)[0]!;

  process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
  try {
    const { GenericContainer } = await import('testcontainers');
    for (let i = 0; i < options.runs; i++) {
      const t0 = performance.now();
      const container = await new GenericContainer(options.image)
        .withCommand(['sleep', 'infinity'])
        .withLabels(options.label)
        .withUser('1000:1000')
        .start();
      const r = await container.exec(['true']);
      out.testcontainers.push(performance.now() - t0);
      if (r.exitCode !== 0) throw new Error(`exec true exited ${r.exitCode}`);
      await container.stop({ remove: true, timeout: 0 });
    }
  } catch (err) {
    out.skipped.testcontainers = err instanceof Error ? err.message : String(err);
  }

  const folder = mkdtempSync(join(tmpdir(), 'berth-bench-devc-'));
  try {
    mkdirSync(join(folder, '.devcontainer'));
    writeFileSync(
      join(folder, '.devcontainer', 'devcontainer.json'),
      JSON.stringify({
        image: options.image,
        overrideCommand: true,
        updateRemoteUserUID: false,
        runArgs: ['--label', `${labelKey}=${labelValue}`],
      }),
    );
    for (let i = 0; i < options.runs; i++) {
      const t0 = performance.now();
      await run(options.devcontainerBin, ['up', '--workspace-folder', folder, '--log-level', 'info']);
      await run(options.devcontainerBin, ['exec', '--workspace-folder', folder, 'true']);
      out.devcontainer.push(performance.now() - t0);
      // `devcontainer up` reuses a container for the folder: remove it so each run starts cold.
      const list = await options.docker.listContainers({
        all: true,
        filters: JSON.stringify({ label: [`devcontainer.local_folder=${folder}`] }),
      });
      for (const c of list) await options.docker.getContainer(c.Id).remove({ force: true });
    }
  } catch (err) {
    const e = err as { stderr?: string; message?: string };
    out.skipped.devcontainer = (e.stderr || e.message || String(err)).trim().split('\n').slice(-3).join(' ');
  } finally {
    const list = await options.docker.listContainers({
      all: true,
      filters: JSON.stringify({ label: [`devcontainer.local_folder=${folder}`] }),
    });
    for (const c of list)
      await options.docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => {});
    rmSync(folder, { recursive: true, force: true });
  }
  return out;
}
