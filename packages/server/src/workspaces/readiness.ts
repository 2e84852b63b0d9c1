import { connect } from 'node:net';
import type { Endpoint } from '@berth/protocol';
import type { Readiness } from '../domain/readiness.js';

export const DEFAULT_READINESS_TIMEOUT_MS = 60_000;
export const DEFAULT_READINESS_INTERVAL_MS = 500;

export type ProbeResult = { ok: true; attempts: number } | { ok: false; attempts: number; last: string };

/**
 * Where a container port can be probed from Berth: the container's own address on its network.
 * Not the published loopback port: Docker's userland proxy accepts connections there even when
 * nothing listens inside, so a TCP probe through it would always pass.
 */
export type ProbeTarget = (containerPort: number) => { host: string; port: number } | null;

/** Where to probe a workspace's port: its container address, or the host for tier 4. */
export function probeTarget(tier: number, containerIp: string | null, endpoints: Endpoint[]): ProbeTarget {
  return (port) => {
    if (tier === 4) return { host: '127.0.0.1', port };
    if (containerIp) return { host: containerIp, port };
    const endpoint = endpoints.find((e) => e.containerPort === port);
    return endpoint ? { host: endpoint.hostIp, port: endpoint.hostPort } : null;
  };
}

/** Runs a command in the workspace for a command probe: exit 0 means ready. */
export type ProbeCommand = (
  cmd: string[],
  timeoutMs: number,
) => Promise<{ exitCode: number; output: string }>;

/**
 * Probes until the workspace is ready or the probe's timeout passes. HTTP and TCP probes reach the
 * port where Berth published it (127.0.0.1); a command probe runs inside the workspace. The result
 * names the last failure, which becomes the message of a `readiness_failed` workspace.
 */
export async function waitUntilReady(
  probe: Readiness,
  target: ProbeTarget,
  runCommand: ProbeCommand,
  signal: AbortSignal,
  /** Why the workspace can no longer become ready (its process exited), or null while it runs. */
  gone: () => Promise<string | null> = () => Promise.resolve(null),
): Promise<ProbeResult> {
  const timeoutMs = probe.timeoutMs ?? DEFAULT_READINESS_TIMEOUT_MS;
  const intervalMs = probe.intervalMs ?? DEFAULT_READINESS_INTERVAL_MS;
  const deadline = performance.now() + timeoutMs;
  let attempts = 0;
  let last = 'not probed yet';
  while (!signal.aborted) {
    attempts += 1;
    const remaining = Math.max(deadline - performance.now(), 1);
    const attemptMs = Math.min(remaining, 5_000);
    const outcome = await probeOnce(probe, target, runCommand, attemptMs);
    if (outcome === true) return { ok: true, attempts };
    last = outcome;
    const why = await gone();
    if (why)
      return { ok: false, attempts, last: `${describe(probe)} cannot pass: ${why}; last result: ${last}` };
    if (performance.now() + intervalMs >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  return {
    ok: false,
    attempts,
    last: `${describe(probe)} did not pass within ${timeoutMs} ms (${attempts} attempts); last result: ${last}`,
  };
}

export function describe(probe: Readiness): string {
  if (probe.http) return `HTTP GET :${probe.http.port}${probe.http.path ?? '/'}`;
  if (probe.tcp) return `TCP connect :${probe.tcp.port}`;
  return `command ${JSON.stringify(probe.command)}`;
}

async function probeOnce(
  probe: Readiness,
  target: ProbeTarget,
  runCommand: ProbeCommand,
  timeoutMs: number,
): Promise<true | string> {
  if (probe.command) {
    try {
      const { exitCode, output } = await runCommand(probe.command, timeoutMs);
      return exitCode === 0 ? true : `exit ${exitCode}${output ? `: ${output.trim().slice(-500)}` : ''}`;
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
  }
  const port = (probe.http?.port ?? probe.tcp?.port) as number;
  const address = target(port);
  if (!address) return `port ${port} is not reachable from Berth`;
  if (probe.tcp) return tcpConnect(address.host, address.port, timeoutMs);
  try {
    const res = await fetch(`http://${address.host}:${address.port}${probe.http?.path ?? '/'}`, {
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.body?.cancel();
    return res.status >= 200 && res.status < 400 ? true : `HTTP ${res.status}`;
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    return cause ?? (err instanceof Error ? err.message : String(err));
  }
}

function tcpConnect(host: string, port: number, timeoutMs: number): Promise<true | string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (result: true | string) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done('connect timed out'));
    socket.once('connect', () => done(true));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
  });
}
