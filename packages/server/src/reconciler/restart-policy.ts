import type { RestartPolicy } from '@berth/protocol';

/** How a workspace's main process ended, when Berth did not ask it to. */
export type ExitKind = 'completed' | 'error' | 'oom' | 'killed';

export function classifyExit(state: { exitCode: number | null; oomKilled: boolean }): ExitKind {
  if (state.oomKilled) return 'oom';
  if (state.exitCode === 0) return 'completed';
  // 128+9 / 128+15: a signal from outside (someone ran `docker kill` or `docker stop`).
  if (state.exitCode === 137 || state.exitCode === 143) return 'killed';
  return 'error';
}

export interface RestartSettings {
  maxFailures: number;
  windowMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
}

export type RestartDecision =
  /** Start the same container again after `delayMs`; `failureTimes` is the new window. */
  | { action: 'restart'; delayMs: number; failureTimes: string[]; attempt: number }
  /** The process finished and the policy does not restart it: the workspace is stopped. */
  | { action: 'stop' }
  /** No restart: `container_exited` (policy never) or `crash_loop` (too many failures). */
  | { action: 'fail'; code: 'container_exited' | 'crash_loop'; failureTimes: string[] };

/**
 * What happens after an exit Berth did not cause (seed 002 restart policies, F6/F7): `never`
 * restarts nothing; `on-failure` restarts unless the exit code is 0; `always` restarts every exit.
 * Restarts back off exponentially; `maxFailures` restarts within `windowMs` make it a crash loop.
 */
export function decideRestart(
  policy: RestartPolicy,
  exit: ExitKind,
  previousFailures: readonly string[],
  nowMs: number,
  settings: RestartSettings,
): RestartDecision {
  const recent = previousFailures.filter((t) => nowMs - Date.parse(t) < settings.windowMs);
  const failureTimes = [...recent, new Date(nowMs).toISOString()];
  if (policy === 'never') {
    return exit === 'completed'
      ? { action: 'stop' }
      : { action: 'fail', code: 'container_exited', failureTimes };
  }
  if (policy === 'on-failure' && exit === 'completed') return { action: 'stop' };
  if (failureTimes.length >= settings.maxFailures)
    return { action: 'fail', code: 'crash_loop', failureTimes };
  const delayMs = Math.min(
    settings.backoffMaxMs,
    settings.backoffBaseMs * 2 ** Math.min(failureTimes.length - 1, 30),
  );
  return { action: 'restart', delayMs, failureTimes, attempt: failureTimes.length };
}
