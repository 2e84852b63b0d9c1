import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecResult, FileInfo, LogLine } from '@berth/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { removeLabeled, RUN_LABEL } from '../../server/test/harness.js';
import { BIN, startServe, stopServe } from './serve.js';

const runId = `t-cli-in-${randomUUID().slice(0, 8)}`;
const WS = 'cli-inside';
let dataDir: string;
let work: string;
let serve: ChildProcess;
let url: string;

const args = (...rest: string[]) => ['--url', url, '--data-dir', dataDir, ...rest];
const cliEnv = () => ({ ...process.env, BERTH_TOKEN: '', BERTH_URL: '' });

/** Runs the real `berth` binary with optional stdin; output as bytes and text. */
function berth(
  rest: string[],
  input?: string | Buffer,
): { code: number; stdout: string; stderr: string; bytes: Buffer; json: () => unknown } {
  const res = spawnSync(BIN, args(...rest), {
    env: cliEnv(),
    input: input ?? '',
    timeout: 120_000,
    cwd: work,
  });
  const stdout = res.stdout.toString('utf8');
  return {
    code: res.status ?? -1,
    stdout,
    stderr: res.stderr.toString('utf8'),
    bytes: res.stdout,
    json: () => JSON.parse(stdout) as unknown,
  };
}

/** Starts `berth` in the background and collects its output. */
function background(rest: string[]): {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exit: Promise<number | null>;
} {
  const child = spawn(BIN, args(...rest), { env: cliEnv(), stdio: ['pipe', 'pipe', 'pipe'], cwd: work });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, out: () => out, err: () => err, exit };
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'berth-cli-in-'));
  work = mkdtempSync(join(tmpdir(), 'berth-cli-work-'));
  writeFileSync(join(dataDir, 'berth.yaml'), stringify({ engine: { labels: { [RUN_LABEL]: runId } } }));
  ({ child: serve, url } = await startServe(dataDir));
  const created = berth(['create', WS, '-p', '3000', '--json']);
  expect(created.code, created.stderr).toBe(0);
});

afterAll(async () => {
  try {
    if (serve) await stopServe(serve);
  } finally {
    await removeLabeled(runId);
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
});

describe('berth exec', () => {
  it("streams stdout and stderr apart and exits with the command's code", () => {
    const res = berth(['exec', WS, '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(res.code).toBe(3);
    expect(res.stdout).toBe('out\n');
    expect(res.stderr).toBe('err\n');
    const shell = berth([
      'exec',
      WS,
      '--shell',
      '-e',
      'A=1',
      '-e',
      'HOME',
      '--cwd',
      '/tmp',
      'echo $A $HOME; pwd',
    ]);
    expect(shell.code).toBe(0);
    expect(shell.stdout).toBe(`1 ${process.env.HOME ?? ''}\n/tmp\n`);
  });

  it('forwards piped stdin byte for byte and closes it at its end', () => {
    const bytes = Buffer.from(Array.from({ length: 200_000 }, (_v, i) => (i * 13) % 256));
    const res = berth(['exec', WS, '--', 'cat'], bytes);
    expect(res.code).toBe(0);
    expect(res.bytes.equals(bytes)).toBe(true);
    expect(berth(['exec', WS, '--no-stdin', '--', 'wc', '-c'], 'ignored').stdout.trim()).toBe('0');
  });

  it('exits 124 when --timeout kills the command', () => {
    const started = Date.now();
    const res = berth(['exec', WS, '--timeout', '500ms', '--', 'sleep', '30']);
    expect(res.code).toBe(124);
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('prints one result document with --json, keeping the exit code', () => {
    const res = berth(['exec', WS, '--json', '--', 'sh', '-c', 'cat; echo oops >&2; exit 2'], 'in');
    expect(res.code).toBe(2);
    expect(res.json()).toMatchObject({ exitCode: 2, stdout: 'in', stderr: 'oops\n', timedOut: false });
    const timedOut = berth(['exec', WS, '--json', '--timeout', '300', '--', 'sleep', '10']);
    expect(timedOut.code).toBe(124);
    expect((timedOut.json() as ExecResult).timedOut).toBe(true);
  });

  it('forwards Ctrl-C to the command, and a second Ctrl-C kills it', async () => {
    const trapped = background([
      'exec',
      WS,
      '--',
      'sh',
      '-c',
      'trap "echo caught; exit 9" INT; echo ready; while true; do sleep 0.1; done',
    ]);
    await waitFor(() => trapped.out().includes('ready'), 'ready');
    trapped.child.kill('SIGINT');
    expect(await trapped.exit).toBe(9);
    expect(trapped.out()).toContain('caught');

    const stubborn = background(['exec', WS, '--', 'sh', '-c', 'trap "" INT; echo ready; sleep 60']);
    await waitFor(() => stubborn.out().includes('ready'), 'ready');
    stubborn.child.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 500));
    expect(stubborn.child.exitCode).toBeNull();
    stubborn.child.kill('SIGINT');
    expect(await stubborn.exit).toBe(137);
  });

  it('exits 3 for an unknown workspace', () => {
    const res = berth(['exec', 'no-such-ws', '--', 'true']);
    expect(res.code).toBe(3);
    expect(res.stderr).toContain('workspace_not_found');
  });
});

describe('berth shell', () => {
  it('refuses to run without a terminal, pointing at berth exec', () => {
    const res = berth(['shell', WS]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('berth exec');
  });

  const script = spawnSync('script', ['--version'], { encoding: 'utf8' });
  it.skipIf(script.status !== 0)(
    'runs an interactive shell in a terminal and exits with its code',
    async () => {
      // `script` gives berth a real terminal; the keystrokes arrive after raw mode is on.
      const command = [BIN, ...args('shell', WS)].map((a) => `'${a}'`).join(' ');
      const child = spawn(
        'sh',
        [
          '-c',
          `(sleep 3; printf 'stty size\\r'; sleep 1; printf 'exit 5\\r'; sleep 5) | script -qefc "${command}" /dev/null`,
        ],
        { env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      expect(out).toMatch(/\d+ \d+/);
      expect(code).toBe(5);
    },
  );

  it.skipIf(script.status !== 0)(
    'forwards window-size changes and delivers Ctrl-C to the workspace',
    async () => {
      const command = [BIN, ...args('shell', WS)].map((a) => `'${a}'`).join(' ');
      // `script` runs berth on a terminal whose master it feeds from our pipe.
      const child = spawn('script', ['-qefc', command, '/dev/null'], {
        env: cliEnv(),
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      const until = async (what: string, ok: () => boolean) => {
        for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 50));
        expect(ok(), `${what}; output so far: ${JSON.stringify(out)}`).toBe(true);
      };
      try {
        const type = (keys: string) => child.stdin.write(keys);
        type('echo mark-$((20+22))\r');
        await until('the shell answers', () => out.includes('mark-42'));
        // Resize berth's own terminal, as a window manager would: the kernel sends it SIGWINCH.
        const berthTty = terminalOf(child.pid!);
        expect(spawnSync('stty', ['-F', berthTty, 'rows', '33', 'cols', '111']).status).toBe(0);
        await new Promise((r) => setTimeout(r, 500));
        type('stty size\r');
        await until('the workspace terminal has the new size', () => out.includes('33 111'));
        // Ctrl-C interrupts the foreground command inside the workspace; the shell stays.
        type('sleep 600\r');
        await new Promise((r) => setTimeout(r, 700));
        type('\x03');
        type('echo after-$((1+1))\r');
        await until('Ctrl-C ended sleep and the shell went on', () => out.includes('after-2'));
        type('exit 4\r');
        expect(await exited).toBe(4);
      } finally {
        child.kill('SIGKILL');
      }
    },
  );
});

/** The terminal (e.g. /dev/pts/3) that the `berth` process under `scriptPid` has as its stdin. */
function terminalOf(scriptPid: number): string {
  const rows = readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .flatMap((d) => {
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        const args = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
        return [{ pid: Number(d), ppid, args }];
      } catch {
        return []; // gone meanwhile
      }
    });
  const under = new Set([scriptPid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const r of rows) {
      if (!under.has(r.pid) && under.has(r.ppid)) {
        under.add(r.pid);
        grew = true;
      }
    }
  }
  const cli = rows.find((r) => under.has(r.pid) && r.args.includes('shell') && r.args.includes(WS));
  expect(cli, `no berth shell under ${scriptPid}`).toBeDefined();
  return readlinkSync(`/proc/${cli!.pid}/fd/0`);
}

describe('berth logs', () => {
  it('prints stdout and stderr lines apart, as NDJSON with --json, and follows', async () => {
    berth(['exec', WS, '--shell', 'echo cli-out > /proc/1/fd/1; sleep 0.3; echo cli-err > /proc/1/fd/2']);
    await waitFor(() => berth(['logs', WS]).stdout.includes('cli-out'), 'the log line');
    const plain = berth(['logs', WS]);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain('cli-out\n');
    expect(plain.stdout).not.toContain('cli-err');
    expect(plain.stderr).toContain('cli-err\n');

    const json = berth(['logs', WS, '--json', '-t']);
    const lines = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as LogLine);
    expect(lines.find((l) => l.text === 'cli-err')).toMatchObject({ stream: 'stderr' });
    expect(lines.every((l) => typeof l.time === 'string')).toBe(true);
    expect(berth(['logs', WS, '-t']).stdout).toMatch(/^\d{4}-\d\d-\d\dT\S+ cli-out$/m);

    const follow = background(['logs', WS, '-f', '-n', '0']);
    await new Promise((r) => setTimeout(r, 1000));
    berth(['exec', WS, '--shell', 'echo cli-later > /proc/1/fd/1']);
    await waitFor(() => follow.out().includes('cli-later'), 'the followed line');
    follow.child.kill('SIGINT');
    expect(await follow.exit).toBe(0);
    expect(follow.out()).toBe('cli-later\n');
  });
});

describe('berth files', () => {
  it('puts and cats binary files byte for byte, from a file or stdin', () => {
    const bytes = Buffer.from(Array.from({ length: 150_000 }, (_v, i) => (i * 31 + 7) % 256));
    writeFileSync(join(work, 'blob.bin'), bytes, { mode: 0o640 });
    const put = berth(['files', 'put', WS, 'blob.bin', 'data/', '--json']);
    expect(put.code, put.stderr).toBe(0);
    expect(put.json()).toMatchObject({ path: 'data/blob.bin', size: bytes.length, mode: 0o640 });
    expect(berth(['files', 'cat', WS, '/workspace/data/blob.bin']).bytes.equals(bytes)).toBe(true);

    expect(berth(['files', 'put', WS, '-', 'notes/stdin.txt', '--mode', '600'], 'from stdin\n').code).toBe(0);
    expect(berth(['files', 'cat', WS, 'notes/stdin.txt']).stdout).toBe('from stdin\n');
    expect((berth(['files', 'stat', WS, 'notes/stdin.txt', '--json']).json() as FileInfo).mode).toBe(0o600);
    expect(berth(['files', 'put', WS, '-', 'cfg.yaml', '--root', 'configs'], 'a: 1\n').code).toBe(0);
    expect(berth(['files', 'cat', WS, '/configs/cfg.yaml']).stdout).toBe('a: 1\n');
  });

  it('lists, makes, moves and removes, with the documented exit codes', () => {
    expect(berth(['files', 'mkdir', WS, 'm/a/b']).code).toBe(0);
    expect(berth(['files', 'put', WS, '-', 'm/a/b/f.txt'], 'f').code).toBe(0);
    const ls = berth(['files', 'ls', WS, 'm', '-d', '3', '--json']);
    expect((ls.json() as { items: FileInfo[] }).items.map((f) => f.path)).toEqual([
      'm/a',
      'm/a/b',
      'm/a/b/f.txt',
    ]);
    const table = berth(['files', 'ls', WS, 'm/a/b']);
    expect(table.stdout).toMatch(/^MODE\s+SIZE\s+MODIFIED\s+NAME$/m);
    expect(table.stdout).toMatch(/-rw-r--r--\s+1 B\s+\S+\s+f\.txt/);
    expect(berth(['files', 'stat', WS, 'm/a']).stdout).toMatch(/Type:\s+dir/);

    expect(berth(['files', 'mv', WS, 'm/a/b/f.txt', 'm/g.txt']).code).toBe(0);
    expect(berth(['files', 'put', WS, '-', 'm/h.txt'], 'h').code).toBe(0);
    expect(berth(['files', 'mv', WS, 'm/h.txt', 'm/g.txt']).code).toBe(4);
    expect(berth(['files', 'mv', WS, 'm/h.txt', 'm/g.txt', '-f']).code).toBe(0);
    expect(berth(['files', 'cat', WS, 'm/g.txt']).stdout).toBe('h');
    expect(berth(['files', 'rm', WS, 'm']).code).toBe(4);
    expect(berth(['files', 'rm', WS, 'm', '-r', '--json']).json()).toEqual({ removed: '/workspace/m' });
    const missing = berth(['files', 'cat', WS, 'm/g.txt']);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('file_not_found');
    expect(berth(['files', 'cat', WS, '../x']).code).toBe(5);
  });
});

describe('berth cp', () => {
  it('copies directories up and down as docker cp does, byte for byte', () => {
    const src = join(work, 'proj');
    mkdirSync(join(src, 'nested/empty'), { recursive: true });
    const bytes = Buffer.from(Array.from({ length: 80_000 }, (_v, i) => (i * 17) % 256));
    writeFileSync(join(src, 'nested/data.bin'), bytes);
    writeFileSync(join(src, 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
    symlinkSync('run.sh', join(src, 'link'));

    const up = berth(['cp', './proj', `${WS}:/workspace/up`, '--json']);
    expect(up.code, up.stderr).toBe(0);
    expect(berth(['exec', WS, '--', '/workspace/up/run.sh']).stdout).toBe('hi\n');
    // An existing directory receives the copy under its own name.
    expect(berth(['cp', 'proj', `${WS}:up`]).code).toBe(0);
    expect(berth(['files', 'stat', WS, 'up/proj/nested/data.bin']).code).toBe(0);

    expect(berth(['cp', `${WS}:up`, './down']).code).toBe(0);
    expect(readFileSync(join(work, 'down/nested/data.bin')).equals(bytes)).toBe(true);
    expect(statSync(join(work, 'down/run.sh')).mode & 0o777).toBe(0o755);
    expect(readlinkSync(join(work, 'down/link'))).toBe('run.sh');
    expect(statSync(join(work, 'down/nested/empty')).isDirectory()).toBe(true);
    expect(readFileSync(join(work, 'down/proj/nested/data.bin')).equals(bytes)).toBe(true);

    mkdirSync(join(work, 'into'));
    expect(berth(['cp', `${WS}:up/run.sh`, './into']).code).toBe(0);
    expect(readFileSync(join(work, 'into/run.sh'), 'utf8')).toBe('#!/bin/sh\necho hi\n');
    expect(berth(['cp', `${WS}:up/nested/.`, './contents']).code).toBe(0);
    expect(readFileSync(join(work, 'contents/data.bin')).equals(bytes)).toBe(true);
    expect(berth(['cp', './proj/run.sh', `${WS}:single.sh`]).code).toBe(0);
    expect(berth(['files', 'cat', WS, 'single.sh']).stdout).toBe('#!/bin/sh\necho hi\n');

    const tarOut = berth(['cp', `${WS}:up/run.sh`, '-']);
    expect(tarOut.code).toBe(0);
    expect(tarOut.bytes.subarray(257, 262).toString()).toBe('ustar');
  });

  it('refuses a downloaded symlink that points outside the destination', () => {
    berth(['exec', WS, '--shell', 'mkdir -p /workspace/evil && ln -sf /etc/passwd /workspace/evil/passwd']);
    const res = berth(['cp', `${WS}:evil`, './evil-copy']);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('invalid_archive');
    expect(
      existsSync(join(work, 'evil-copy/passwd')) &&
        lstatSync(join(work, 'evil-copy/passwd')).isSymbolicLink(),
    ).toBe(false);
  });
});

describe('berth preview', () => {
  it('prints a URL that reaches an HTTP server in the workspace', async () => {
    berth([
      'exec',
      WS,
      '--shell',
      'mkdir -p /workspace/www && echo "preview ok" > /workspace/www/index.html',
    ]);
    expect(berth(['exec', WS, '--', 'httpd', '-p', '3000', '-h', '/workspace/www']).code).toBe(0);
    const res = berth(['preview', WS, '3000', '--ttl', '10m']);
    expect(res.code).toBe(0);
    const link = res.stdout.trim();
    expect(link.startsWith(`${url}/v1/workspaces/`)).toBe(true);
    const first = await fetch(link, { redirect: 'manual' });
    expect(first.status).toBe(302);
    const cookie = (first.headers.get('set-cookie') ?? '').split(';')[0]!;
    const page = await fetch(new URL(first.headers.get('location')!, url), { headers: { cookie } });
    expect(await page.text()).toBe('preview ok\n');
    const json = berth(['preview', WS, '3000', '--json']).json() as { url: string; expiresAt: string };
    expect(json.url.startsWith(url)).toBe(true);
    expect(berth(['preview', WS, '3999']).code).toBe(3);
  });
});
