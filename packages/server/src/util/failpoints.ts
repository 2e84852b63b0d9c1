/**
 * Env-gated crash points for fault tests (F1, F2): `BERTH_FAILPOINTS=create.after-insert,…` makes
 * the daemon SIGKILL itself when it reaches a named step, exactly as a power cut would. Unset (the
 * normal case), `failpoint()` is a set lookup that never fires.
 */
export const FAILPOINTS = [
  'create.after-insert',
  'create.after-volumes',
  'create.after-container',
  'create.after-start',
  'delete.after-containers',
  'delete.after-networks',
] as const;
export type Failpoint = (typeof FAILPOINTS)[number];

const armed = new Set(
  (process.env.BERTH_FAILPOINTS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== ''),
);

export function failpoint(name: Failpoint): void {
  if (armed.size > 0 && armed.has(name)) {
    process.stderr.write(`berth: failpoint ${name} reached; killing the process\n`);
    process.kill(process.pid, 'SIGKILL');
  }
}
