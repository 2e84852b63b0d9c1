import type { CommandResult } from '@berth/sdk';
import { UsageError } from '../../exit-codes.js';
import type { EnvFlag } from '../../parse.js';

/** Exit code of `berth exec` when the command's --timeout killed it, as `timeout(1)`. */
export const EXIT_TIMED_OUT = 124;

/** The exit code `berth exec` ends with: the command's own, or 124 when it timed out. */
export function commandExitCode(result: Pick<CommandResult, 'exitCode' | 'timedOut'>): number {
  if (result.timedOut) return EXIT_TIMED_OUT;
  if (Number.isInteger(result.exitCode) && result.exitCode >= 0 && result.exitCode <= 255)
    return result.exitCode;
  return 1;
}

/** `-e KEY=VALUE` and `-e KEY` (copied from `env`) as a map; a KEY that is not set is a usage error. */
export function resolveEnvFlags(
  flags: readonly EnvFlag[] | undefined,
  env: Record<string, string | undefined>,
): Record<string, string> | undefined {
  if (flags === undefined || flags.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const { key, value } of flags) {
    const resolved = value ?? env[key];
    if (resolved === undefined) throw new UsageError(`-e ${key}: ${key} is not set in this environment`);
    out[key] = resolved;
  }
  return out;
}

/** Listens to process signals until disposed. */
export function onSignals(handlers: Partial<Record<NodeJS.Signals, () => void>>): () => void {
  const entries = Object.entries(handlers) as [NodeJS.Signals, () => void][];
  for (const [signal, handler] of entries) process.on(signal, handler);
  return () => {
    for (const [signal, handler] of entries) process.off(signal, handler);
  };
}

/** Where an error thrown after the command ended can be ignored (e.g. stdin after exit). */
export function ignore(): void {
  // nothing to do
}
