import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  buildHelper,
  expectError,
  expectOk,
  frame,
  helper,
  HELPER,
  isAlive,
  removeDir,
  sleep,
  tempDir,
  waitFor,
} from './harness.js';

/** A running `berth-helper run`, its stdin kept open (closing it is a raw EOF). */
interface Running {
  child: ChildProcess;
  stdin: Writable;
  out: () => string;
  err: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running: Running[] = [];
const strays: number[] = [];
let dir: string;

beforeAll(buildHelper);
beforeEach(() => {
  dir = tempDir();
});
afterEach(async () => {
  for (const r of running.splice(0)) {
    if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    await r.exit;
  }
  for (const pid of strays.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  removeDir(dir);
});

function start(args: string[], extraFd = false): Running {
  const child = spawn(HELPER, ['run', ...args], {
    stdio: extraFd ? ['pipe', 'pipe', 'pipe', 'pipe'] : ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const stdin = child.stdin;
  stdin.on('error', () => {}); // EPIPE once the helper is gone
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const r: Running = { child, stdin, out: () => out, err: () => err, exit };
  running.push(r);
  return r;
}

/** Pids whose parent is `pid`. */
function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** Waits until the child printed `text` on stdout. */
const printed = (r: Running, text: string, timeoutMs = 5000) =>
  waitFor(() => r.out().includes(text), timeoutMs);

/** Starts a tree: a background child in the group, an orphan adopted by the helper (double fork),
 * and a daemon in its own session; prints "<label> <pid>" lines. */
const TREE = [
  'sleep 1000 >/dev/null 2>&1 & echo "bg $!"',
  '(sleep 1000 >/dev/null 2>&1 & echo "orphan $!")',
  'setsid sh -c \'echo "sessionsh $$"; sleep 1000 >/dev/null 2>&1 & echo "session $!"; wait\' &',
  'wait',
].join('\n');

function treePids(out: string): number[] {
  const pids = [...out.matchAll(/^(bg|orphan|sessionsh|session) (\d+)$/gm)].map((m) => Number(m[2]));
  expect(pids).toHaveLength(4);
  return pids;
}

async function startTree(args: string[] = []): Promise<[Running, number[]]> {
  const r = start([...args, '--', 'sh', '-c', TREE]);
  await waitFor(() => (r.out().match(/^(bg|orphan|sessionsh|session) \d+$/gm) ?? []).length === 4);
  const pids = treePids(r.out());
  strays.push(...pids);
  for (const pid of pids) expect(isAlive(pid)).toBe(true);
  return [r, pids];
}

describe('run: the control channel', () => {
  it('writes data frames to the child and closes its stdin on frame 1', async () => {
    const r = start(['--', 'sh', '-c', 'cat; echo "<eof>"']);
    r.stdin.write(frame(0, 'hello '));
    r.stdin.write(frame(0, 'world\n'));
    r.stdin.write(frame(1));
    r.stdin.write(frame(0, 'dropped after close\n'));
    expect(await r.exit).toEqual({ code: 0, signal: null });
    expect(r.out()).toBe('hello world\n<eof>\n');
    expect(r.err()).toBe('');
  });

  it('streams megabytes to a slow reader, whatever the write boundaries', async () => {
    const payload = Buffer.alloc(4 * 1024 * 1024, 'abcdefgh');
    const frames: Buffer[] = [];
    for (let i = 0; i < payload.length; i += 65_536) frames.push(frame(0, payload.subarray(i, i + 65_536)));
    frames.push(frame(9, 'unknown frame type: ignored'), frame(2, Buffer.from([15, 15])), frame(1));
    const all = Buffer.concat(frames);
    const r = start(['--', 'sh', '-c', 'sleep 0.3; wc -c']);
    for (let i = 0; i < all.length; i += 7777) r.stdin.write(all.subarray(i, i + 7777));
    expect(await r.exit).toEqual({ code: 0, signal: null });
    expect(r.out().trim()).toBe(String(payload.length));
  });

  it('sends frame 2 signals to the process group', async () => {
    const r = start([
      '--',
      'sh',
      '-c',
      'trap "echo got-term; exit 5" TERM; echo ready; while :; do sleep 0.02; done',
    ]);
    await printed(r, 'ready');
    r.stdin.write(frame(2, Buffer.from([15])));
    expect(await r.exit).toEqual({ code: 5, signal: null });
    expect(r.out()).toContain('got-term');
  });

  it('kills the whole tree on frame 3, a double-forked orphan and a new session included', async () => {
    const [r, pids] = await startTree();
    r.stdin.write(frame(3));
    expect((await r.exit).code).toBe(137);
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
  });

  it.each(['SIGTERM', 'SIGHUP', 'SIGUSR1'] as const)(
    'kills the whole tree when the helper gets %s',
    async (sig) => {
      const [r, pids] = await startTree();
      r.child.kill(sig);
      expect((await r.exit).code).toBe(137);
      for (const pid of pids) expect(isAlive(pid)).toBe(false);
    },
  );

  it('handles a kill while the child never reads its stdin', async () => {
    const r = start(['--', 'sleep', '1000']);
    r.stdin.write(frame(0, Buffer.alloc(300_000)));
    r.stdin.write(frame(3));
    expect((await r.exit).code).toBe(137);
  });

  it('acts as kill on a raw EOF without --background', async () => {
    const [r, pids] = await startTree();
    r.stdin.end();
    expect((await r.exit).code).toBe(137);
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
  });

  it('only closes the child stdin on a raw EOF with --background', async () => {
    const r = start(['--background', '--', 'sh', '-c', 'cat; echo "<eof>"; sleep 0.3; echo still-running']);
    r.stdin.write(frame(0, 'data\n'));
    r.stdin.end();
    expect(await r.exit).toEqual({ code: 0, signal: null });
    expect(r.out()).toBe('data\n<eof>\nstill-running\n');
  });

  it('buffers for a slow reader and, with --background, delivers everything after a hang-up', async () => {
    // `cat` feeds the helper through a pipe and exits while the helper, its 1 MiB buffer full
    // (the child sleeps), is not reading: the hang-up arrives with data still unread in the pipe,
    // all of which must reach the child.
    const payload = Buffer.alloc(1_100_000, 'z');
    const frames: Buffer[] = [];
    for (let i = 0; i < payload.length; i += 100_000) frames.push(frame(0, payload.subarray(i, i + 100_000)));
    writeFileSync(join(dir, 'frames'), Buffer.concat(frames));
    const child = spawn(
      'sh',
      ['-c', `cat frames | "${HELPER}" run --background -- sh -c 'sleep 0.5; wc -c'`],
      {
        cwd: dir,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    expect(out.trim()).toBe(String(payload.length));
  });

  it('keeps supervising a background tree after a raw EOF, and a kill still takes all of it', async () => {
    const pidfile = join(dir, 'bg.pid');
    const [r, pids] = await startTree(['--background', '--pidfile', pidfile]);
    r.stdin.end();
    await sleep(200);
    for (const pid of pids) expect(isAlive(pid)).toBe(true);
    expectOk(helper(['kill', '--pidfile', pidfile]));
    expect((await r.exit).code).toBe(137);
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
  });
});

describe('run: exit status', () => {
  it.each([
    ['exit 0', 0],
    ['exit 3', 3],
    ['exit 255', 255],
    ['kill -TERM $$', 143],
    ['kill -KILL $$', 137],
  ])('reports %j as %i', async (script, code) => {
    const r = start(['--', 'sh', '-c', script]);
    expect(await r.exit).toEqual({ code, signal: null });
  });

  it('exits 127 with not_found when the command does not exist', async () => {
    for (const cmd of ['no-such-command-berth', join(dir, 'missing')]) {
      const r = start(['--', cmd]);
      expect((await r.exit).code).toBe(127);
      const line = JSON.parse(r.err().trim()) as { error: string; message: string };
      expect(line.error).toBe('not_found');
    }
  });

  it('exits 126 with permission_denied when the file is not executable', async () => {
    writeFileSync(join(dir, 'script'), '#!/bin/sh\necho hi\n', { mode: 0o644 });
    mkdirSync(join(dir, 'adir'));
    for (const cmd of [join(dir, 'script'), join(dir, 'adir')]) {
      const r = start(['--', cmd]);
      expect((await r.exit).code).toBe(126);
      expect((JSON.parse(r.err().trim()) as { error: string }).error).toBe('permission_denied');
    }
  });

  it('leaves descendants running when the main child exits on its own', async () => {
    const r = start(['--', 'sh', '-c', 'sleep 1000 >/dev/null 2>&1 & echo $!']);
    expect((await r.exit).code).toBe(0);
    const pid = Number(r.out().trim());
    strays.push(pid);
    expect(isAlive(pid)).toBe(true);
  });
});

describe('run: the child environment', () => {
  it('leaks no descriptor into the child; its stdin is a pipe of its own', async () => {
    // The helper gets an extra fd 3; the child (an idle `sleep`, inspected from outside so no
    // shell's transient pipes are seen) must hold exactly 0, 1 and 2.
    const r = start(['--', 'sleep', '1000'], true);
    const helperPid = r.child.pid ?? 0;
    let childPid = 0;
    await waitFor(() => {
      childPid = childrenOf(helperPid)[0] ?? 0;
      return childPid !== 0 && readlinkSync(`/proc/${childPid}/exe`).endsWith('/sleep');
    });
    expect(readdirSync(`/proc/${helperPid}/fd`)).toContain('3');
    expect(readdirSync(`/proc/${childPid}/fd`).sort()).toEqual(['0', '1', '2']);
    const own = readlinkSync(`/proc/${childPid}/fd/0`);
    expect(own).toMatch(/^pipe:/);
    expect(own).not.toBe(readlinkSync(`/proc/${helperPid}/fd/0`));
    r.stdin.write(frame(3));
    expect((await r.exit).code).toBe(137);
  });

  const runWith = async (argv: string[]): Promise<{ code: number | null; out: string; err: string }> => {
    const child = spawn(HELPER, ['run', '--', ...argv], {
      cwd: dir,
      env: { ...process.env, BERTH_T: 'env-kept' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.stdin.write(frame(1));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    child.stdin.end();
    return { code, out, err };
  };

  it('starts the command with no signal blocked or ignored', async () => {
    // grep is exec'd by the helper itself and reads its own status (a shell would show its own
    // transient masks around fork).
    const r = await runWith(['grep', '-E', '^Sig(Blk|Ign)', '/proc/self/status']);
    expect(r).toEqual({ code: 0, out: 'SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n', err: '' });
  });

  it('keeps the environment and cwd, and does not leak its ignored SIGPIPE', async () => {
    const r = await runWith(['sh', '-c', 'pwd; echo "$BERTH_T"; yes | head -n 1']);
    // `yes` died of SIGPIPE quietly: with SIGPIPE ignored it would complain on stderr
    expect(r).toEqual({ code: 0, out: `${dir}\nenv-kept\ny\n`, err: '' });
  });
});

/** Fields 1 and 5-8 of /proc/<pid>/stat: pid, pgrp, session, tty_nr, tpgid (the terminal's
 * foreground group). */
const STAT = 'cut -d" " -f1,5-8 /proc/$$/stat';
const parseStat = (out: string, label: string) => {
  const m = new RegExp(`${label} (\\d+) (\\d+) (\\d+) (\\d+) (-?\\d+)`).exec(out);
  expect(m, `no "${label}" line in ${JSON.stringify(out)}`).not.toBeNull();
  const [pid, pgrp, session, tty, tpgid] = (m ?? []).slice(1).map(Number);
  return { pid, pgrp, session, tty, tpgid };
};

/** Runs `command` with /bin/sh on a fresh pseudo-terminal (util-linux `script`). */
function inPty(command: string): Running {
  const child = spawn('script', ['-qfec', command, '/dev/null'], {
    cwd: dir,
    env: { ...process.env, SHELL: '/bin/sh' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  child.stdin.on('error', () => {});
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const r: Running = { child, stdin: child.stdin, out: () => out, err: () => err, exit };
  running.push(r);
  return r;
}

const hasScript = spawnSync('script', ['--version']).status === 0;

describe.skipIf(!hasScript)('run --tty', () => {
  it('gives a session of its own the terminal when the helper leads the session (docker exec -t)', async () => {
    const pidfile = join(dir, 'tty.pid');
    const script = `trap "echo got-int" INT; echo "stat $(${STAT})"; sleep 1000 >/dev/null 2>&1 & echo "bg $!"; echo ready; while :; do sleep 0.05; done`;
    const r = inPty(`exec "${HELPER}" run --tty --pidfile ${pidfile} -- sh -c '${script}'`);
    await printed(r, 'ready');
    const st = parseStat(r.out(), 'stat');
    expect(st.session).toBe(st.pid); // its own session...
    expect(st.pgrp).toBe(st.pid);
    expect(st.tty).not.toBe(0); // ...with the terminal as its controlling terminal...
    expect(st.tpgid).toBe(st.pgrp); // ...and in the foreground
    const bg = Number(/^bg (\d+)/m.exec(r.out())?.[1]);
    strays.push(bg);
    r.stdin.write('\u0003'); // Ctrl-C reaches the child, not the helper
    await printed(r, 'got-int');
    expect(isAlive(bg)).toBe(true);
    expectOk(helper(['kill', '--pidfile', pidfile]));
    expect((await r.exit).code).toBe(137);
    expect(isAlive(bg)).toBe(false);
    expect(existsSync(pidfile)).toBe(false);
  });

  it('makes the child the foreground group, and gives the terminal back, under a shell', async () => {
    const r = inPty(
      `"${HELPER}" run --tty -- sh -c 'echo "stat $(${STAT})"; exit 4'; echo "after $? $(cut -d" " -f5,8 /proc/$$/stat)"`,
    );
    expect((await r.exit).code).toBe(0);
    const st = parseStat(r.out(), 'stat');
    expect(st.pgrp).toBe(st.pid);
    expect(st.session).not.toBe(st.pid); // the caller's session
    expect(st.tty).not.toBe(0);
    expect(st.tpgid).toBe(st.pgrp);
    const after = /after 4 (\d+) (\d+)/.exec(r.out());
    expect(after?.[1]).toBe(after?.[2]); // the calling shell is in the foreground again
  });

  it('passes stdin through untouched when it is no terminal: EOF means nothing special', async () => {
    const r = start([
      '--tty',
      '--',
      'sh',
      '-c',
      `echo "stat $(${STAT})"; read x; echo "read:$x"; read y || echo eof`,
    ]);
    r.stdin.end('hello\n');
    expect(await r.exit).toEqual({ code: 0, signal: null });
    const st = parseStat(r.out(), 'stat');
    expect(st.session).toBe(st.pid);
    expect(st.tty).toBe(0);
    expect(r.out()).toContain('read:hello\neof\n');
  });
});

describe('kill --pidfile', () => {
  it('writes the pidfile (0600) after the child started and removes it on exit', async () => {
    const pidfile = join(dir, 'run.pid');
    const r = start(['--pidfile', pidfile, '--', 'sh', '-c', 'echo ready; read line; echo "got $line"']);
    await printed(r, 'ready');
    await waitFor(() => existsSync(pidfile));
    expect(readFileSync(pidfile, 'utf8')).toBe(`${r.child.pid}\n`);
    expect(statSync(pidfile).mode & 0o777).toBe(0o600);
    r.stdin.write(frame(0, 'x\n'));
    expect((await r.exit).code).toBe(0);
    expect(r.out()).toBe('ready\ngot x\n');
    expect(existsSync(pidfile)).toBe(false);
  });

  it('kills the whole tree by default', async () => {
    const pidfile = join(dir, 'tree.pid');
    const [r, pids] = await startTree(['--pidfile', pidfile]);
    expectOk(helper(['kill', '--pidfile', pidfile]));
    expect((await r.exit).code).toBe(137);
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
    expect(existsSync(pidfile)).toBe(false);
  });

  it('sends --signal to the process group, like frame 2', async () => {
    const pidfile = join(dir, 'sig.pid');
    const r = start([
      '--pidfile',
      pidfile,
      '--',
      'sh',
      '-c',
      'trap "echo got-int" INT; trap "echo got-term; exit 7" TERM; echo ready; while :; do sleep 0.02; done',
    ]);
    await printed(r, 'ready');
    await waitFor(() => existsSync(pidfile));
    expectOk(helper(['kill', '--pidfile', pidfile, '--signal', '2']));
    await printed(r, 'got-int');
    expectOk(helper(['kill', '--pidfile', pidfile, '--signal', '15']));
    expect((await r.exit).code).toBe(7);
  });

  it('reports not_found, and signals nothing, when no helper runs for the pidfile', async () => {
    expectError(helper(['kill', '--pidfile', join(dir, 'absent.pid')]), 'not_found');
    writeFileSync(join(dir, 'garbage.pid'), 'not a pid\n');
    expectError(helper(['kill', '--pidfile', join(dir, 'garbage.pid')]), 'not_found');
    // a stale pidfile whose pid now belongs to some other process: it must survive
    const other = spawn('sleep', ['1000'], { stdio: 'ignore' });
    strays.push(other.pid ?? 0);
    writeFileSync(join(dir, 'stale.pid'), `${other.pid}\n`);
    expectError(helper(['kill', '--pidfile', join(dir, 'stale.pid')]), 'not_found');
    await sleep(100);
    expect(isAlive(other.pid ?? 0)).toBe(true);
    // a helper that is not a `run`
    const dead = spawn(HELPER, ['version']);
    await new Promise((resolve) => dead.on('exit', resolve));
    writeFileSync(join(dir, 'dead.pid'), `${dead.pid}\n`);
    expectError(helper(['kill', '--pidfile', join(dir, 'dead.pid')]), 'not_found');
  });

  it('fails the run (exit 2) and kills the child when the pidfile cannot be written', async () => {
    const r = start(['--pidfile', join(dir, 'no', 'such', 'dir', 'x.pid'), '--', 'sleep', '1000']);
    expect((await r.exit).code).toBe(2);
    expect((JSON.parse(r.err().trim()) as { error: string }).error).toBe('not_found');
  });
});
