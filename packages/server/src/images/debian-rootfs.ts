import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { AppError } from '../errors.js';
import type { EngineDriver } from '../engine/types.js';
import type { Logger } from '../log/logger.js';

export interface DebootstrapOptions {
  mirror: string;
  suite: string;
  /** Where the root filesystem is made (and removed afterwards). */
  workDir: string;
  /** The image it becomes (see debianTag). */
  target: { repo: string; tag: string };
}

/** The tag of the Debian image Berth makes itself when no registry answers. */
export const debianTag = (suite: string, repository = 'berth'): { repo: string; tag: string } => ({
  repo: `${repository}-debian`,
  tag: suite,
});

export function findDebootstrap(env: NodeJS.ProcessEnv = process.env): string | null {
  const dirs = [...(env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    const candidate = join(dir, 'debootstrap');
    if (dir && existsSync(candidate)) return candidate;
  }
  return null;
}

/**
 * The apt sources of the image: the suite, its updates and its security updates, so the `base`
 * recipe's `apt-get install` gets fixed packages as the official images do.
 */
export function sourcesList(mirror: string, suite: string): string {
  const security = mirror.replace(/\/debian\/?$/, '/debian-security');
  return [
    `deb ${mirror} ${suite} main`,
    `deb ${mirror} ${suite}-updates main`,
    ...(security !== mirror ? [`deb ${security} ${suite}-security main`] : []),
    '',
  ].join('\n');
}

/** Mount points under `dir` (debootstrap mounts /proc and /sys in its target; a failure may leave them). */
export function mountsUnder(dir: string, mountinfo: string): string[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return mountinfo
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((m): m is string => !!m && (m === dir || m.startsWith(prefix)))
    .map((m) => m.replace(/\\040/g, ' '))
    .sort((a, b) => b.length - a.length);
}

/**
 * Makes a minimal Debian root filesystem from Debian's packages (debootstrap --variant=minbase),
 * trims apt's caches as the official slim images do, and imports it as `options.target`.
 * Needs root and debootstrap on the Berth host; resolves to the new image's id.
 */
export async function debootstrapImage(
  engine: EngineDriver,
  options: DebootstrapOptions,
  onLine: (line: string) => void,
  log: Logger,
): Promise<string> {
  const debootstrap = findDebootstrap();
  if (!debootstrap || process.getuid?.() !== 0) {
    throw new AppError(
      'image_build_failed',
      `no registry answered for Debian and Berth cannot make a Debian image itself: ${
        debootstrap
          ? 'debootstrap needs root, and Berth runs as a normal user'
          : 'debootstrap is not installed'
      }; install it (apt-get install debootstrap) and run Berth as root once, or load a Debian image (docker load -i debian.tar) and set images.baseImage to it`,
    );
  }
  mkdirSync(options.workDir, { recursive: true });
  const root = join(options.workDir, `rootfs-${randomBytes(4).toString('hex')}`);
  try {
    const tail: string[] = [];
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn(debootstrap, ['--variant=minbase', options.suite, root, options.mirror], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let partial = '';
      const onData = (chunk: Buffer): void => {
        const lines = (partial + chunk.toString('utf8')).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines.filter((l) => l.trim())) {
          tail.push(line);
          if (tail.length > 20) tail.shift();
          onLine(line);
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.on('error', reject);
      child.on('close', (c) => resolve(c ?? 1));
    });
    if (code !== 0) {
      throw new AppError(
        'image_build_failed',
        `debootstrap ${options.suite} from ${options.mirror} failed (exit ${code}): ${tail.slice(-5).join(' | ')}`,
      );
    }
    for (const dir of ['var/cache/apt/archives', 'var/lib/apt/lists']) {
      for (const entry of readdirSync(join(root, dir))) {
        if (entry !== 'partial' && entry !== 'lock')
          rmSync(join(root, dir, entry), { recursive: true, force: true });
      }
    }
    writeFileSync(join(root, 'etc/apt/sources.list'), sourcesList(options.mirror, options.suite));
    onLine('importing the root filesystem');
    const { repo, tag } = options.target;
    const tarProc = spawn('tar', ['-C', root, '--numeric-owner', '-c', '.'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let tarErr = '';
    tarProc.stderr.on('data', (c: Buffer) => (tarErr = (tarErr + c.toString()).slice(-2000)));
    const tarDone = new Promise<number>((resolve) => tarProc.on('close', (c) => resolve(c ?? 1)));
    const id = await engine.images.importRootfs(tarProc.stdout, { repo, tag });
    if ((await tarDone) !== 0) {
      throw new AppError('image_build_failed', `packing the Debian root filesystem failed: ${tarErr.trim()}`);
    }
    log.info({ image: `${repo}:${tag}`, id }, 'made a Debian image with debootstrap');
    return id;
  } finally {
    await removeRootfs(root, log);
  }
}

async function removeRootfs(root: string, log: Logger): Promise<void> {
  if (!existsSync(root)) return;
  let mountinfo = '';
  try {
    mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    // not Linux: nothing is mounted by debootstrap there
  }
  const mounts = mountsUnder(root, mountinfo);
  for (const mount of mounts) {
    await new Promise<void>((resolve) => {
      spawn('umount', ['-l', mount], { stdio: 'ignore' })
        .on('close', () => resolve())
        .on('error', () => resolve());
    });
  }
  if (mountsUnder(root, readFileSync('/proc/self/mountinfo', 'utf8')).length > 0) {
    // Never recurse into a mounted /proc or /sys: leave the directory for the operator.
    log.warn({ root }, 'a debootstrap mount could not be removed; leaving the directory');
    return;
  }
  rmSync(root, { recursive: true, force: true });
}
