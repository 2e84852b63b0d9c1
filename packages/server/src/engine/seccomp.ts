import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The parts of an OCI/containers seccomp profile this module reads and writes. */
export interface SeccompRule {
  names?: string[];
  action: string;
  errnoRet?: number;
  args?: { index: number; value: number; valueTwo?: number; op: string }[] | null;
  includes?: { caps?: string[]; arches?: string[]; minKernel?: string } | null;
  excludes?: { caps?: string[]; arches?: string[] } | null;
  [key: string]: unknown;
}

export interface SeccompProfile {
  defaultAction: string;
  syscalls: SeccompRule[];
  [key: string]: unknown;
}

/** Syscalls a container may use only while holding CAP_SYS_ADMIN (tiers 1-2 never do). */
export const SYS_ADMIN_ONLY = [
  'unshare',
  'setns',
  'mount',
  'umount',
  'umount2',
  'pivot_root',
  'fsopen',
  'fsconfig',
  'fsmount',
  'fspick',
  'open_tree',
  'move_mount',
  'mount_setattr',
  'bpf',
  'perf_event_open',
  'quotactl',
  'quotactl_fd',
];

/** Kernel keyring calls: never allowed (keys are not namespaced). */
export const ALWAYS_DENIED = ['keyctl', 'add_key', 'request_key'];

/** clone() flags that create namespaces: NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET. */
export const CLONE_NAMESPACE_FLAGS = 0x7e020000;

const EPERM = 1;
const ENOSYS = 38;
const SYS_ADMIN = { caps: ['CAP_SYS_ADMIN'] };
const S390 = ['s390', 's390x'];

const unconditional = (r: SeccompRule): boolean => !r.includes?.caps?.length && !r.excludes?.caps?.length;

/**
 * Derives the profile Berth gives tiers 1-2 from an engine's default profile: it keeps every
 * other decision of the engine, but namespace creation, mounts, BPF and perf need CAP_SYS_ADMIN,
 * keyrings are refused, and clone3 answers ENOSYS (so libc falls back to clone, whose namespace
 * flags are then checked). These are the semantics Docker's default profile has; Podman's default
 * allows `unshare` and namespace flags outright, which would widen a workspace's kernel surface.
 */
export function hardenSeccompProfile(engineDefault: SeccompProfile): SeccompProfile {
  const restricted = new Set([...SYS_ADMIN_ONLY, ...ALWAYS_DENIED, 'clone', 'clone3']);
  const kept = engineDefault.syscalls
    .map((rule) =>
      rule.action === 'SCMP_ACT_ALLOW' && unconditional(rule) && !rule.args?.length
        ? { ...rule, names: (rule.names ?? []).filter((n) => !restricted.has(n)) }
        : rule.action === 'SCMP_ACT_ALLOW'
          ? { ...rule, names: (rule.names ?? []).filter((n) => !ALWAYS_DENIED.includes(n)) }
          : rule,
    )
    .filter((rule) => (rule.names?.length ?? 0) > 0);
  const added: SeccompRule[] = [
    { names: ALWAYS_DENIED, action: 'SCMP_ACT_ERRNO', errnoRet: EPERM },
    { names: SYS_ADMIN_ONLY, action: 'SCMP_ACT_ALLOW', includes: SYS_ADMIN },
    { names: SYS_ADMIN_ONLY, action: 'SCMP_ACT_ERRNO', errnoRet: EPERM, excludes: SYS_ADMIN },
    {
      names: ['clone'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
      excludes: { caps: ['CAP_SYS_ADMIN'], arches: S390 },
    },
    {
      names: ['clone'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 1, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
      includes: { arches: S390 }, // s390 passes the flags in the second argument
      excludes: SYS_ADMIN,
    },
    { names: ['clone', 'clone3'], action: 'SCMP_ACT_ALLOW', includes: SYS_ADMIN },
    { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS, excludes: SYS_ADMIN },
  ];
  return { ...engineDefault, syscalls: [...kept, ...added] };
}

/** Where Podman (containers-common) keeps its default profile; /etc overrides /usr/share. */
export const CONTAINERS_SECCOMP_PATHS = [
  '/etc/containers/seccomp.json',
  '/usr/share/containers/seccomp.json',
];

/**
 * Writes the hardened profile derived from the local engine's default into `dir` and returns its
 * path, or null when no engine default profile is found on this host.
 */
export function writeHardenedProfile(
  dir: string,
  sources: readonly string[] = CONTAINERS_SECCOMP_PATHS,
): string | null {
  const source = sources.find((p) => existsSync(p));
  if (!source) return null;
  const profile = JSON.parse(readFileSync(source, 'utf8')) as SeccompProfile;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const target = join(dir, 'berth-tiers-1-2.json');
  writeFileSync(target, `${JSON.stringify(hardenSeccompProfile(profile), null, 1)}\n`, { mode: 0o644 });
  return target;
}
