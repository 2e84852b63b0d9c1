import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ALWAYS_DENIED,
  CLONE_NAMESPACE_FLAGS,
  CONTAINERS_SECCOMP_PATHS,
  hardenSeccompProfile,
  SYS_ADMIN_ONLY,
  writeHardenedProfile,
  type SeccompProfile,
  type SeccompRule,
} from './seccomp.js';

// A profile shaped like Podman's default: unshare, setns, clone, clone3, mount and keyctl allowed outright.
const podmanLike: SeccompProfile = {
  defaultAction: 'SCMP_ACT_ERRNO',
  defaultErrnoRet: 38,
  syscalls: [
    { names: ['kexec_load', 'swapon'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
    {
      names: ['read', 'write', 'unshare', 'setns', 'clone', 'clone3', 'mount', 'keyctl', 'openat'],
      action: 'SCMP_ACT_ALLOW',
    },
    { names: ['setns', 'bpf'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
    { names: ['setns', 'bpf'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, excludes: { caps: ['CAP_SYS_ADMIN'] } },
  ],
};

/** What a process without CAP_SYS_ADMIN on x86_64 may call: rules as runc would select them. */
function rulesFor(profile: SeccompProfile, name: string): SeccompRule[] {
  return profile.syscalls.filter(
    (r) =>
      r.names?.includes(name) &&
      !r.includes?.caps?.includes('CAP_SYS_ADMIN') &&
      !(r.includes?.arches && !r.includes.arches.includes('amd64')),
  );
}

describe('hardenSeccompProfile', () => {
  const hardened = hardenSeccompProfile(podmanLike);

  it('keeps the rest of the engine profile', () => {
    expect(hardened.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(hardened.defaultErrnoRet).toBe(38);
    expect(rulesFor(hardened, 'read')).toEqual([expect.objectContaining({ action: 'SCMP_ACT_ALLOW' })]);
    expect(rulesFor(hardened, 'kexec_load')[0]?.action).toBe('SCMP_ACT_ERRNO');
  });

  it('refuses namespace and mount syscalls without CAP_SYS_ADMIN', () => {
    for (const name of ['unshare', 'setns', 'mount', 'bpf']) {
      const rules = rulesFor(hardened, name);
      expect(
        rules.every((r) => r.action === 'SCMP_ACT_ERRNO'),
        name,
      ).toBe(true);
      expect(rules.length, name).toBeGreaterThan(0);
    }
    expect(SYS_ADMIN_ONLY).toEqual(
      expect.arrayContaining(['unshare', 'setns', 'mount', 'umount2', 'pivot_root']),
    );
  });

  it('allows clone only without namespace flags, and turns clone3 into ENOSYS', () => {
    const clone = rulesFor(hardened, 'clone');
    expect(clone).toEqual([
      expect.objectContaining({
        action: 'SCMP_ACT_ALLOW',
        args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
      }),
    ]);
    expect(rulesFor(hardened, 'clone3')).toEqual([
      expect.objectContaining({ action: 'SCMP_ACT_ERRNO', errnoRet: 38 }),
    ]);
  });

  it('never allows the kernel keyring', () => {
    for (const name of ALWAYS_DENIED) {
      expect(hardened.syscalls.some((r) => r.action === 'SCMP_ACT_ALLOW' && r.names?.includes(name))).toBe(
        false,
      );
    }
  });

  it('hardens the real engine default profile of this host when there is one', () => {
    const source = CONTAINERS_SECCOMP_PATHS.find((p) => existsSync(p));
    if (!source) return; // no containers-common here; the synthetic profile above covers the rules
    const dir = mkdtempSync(join(tmpdir(), 'berth-seccomp-'));
    try {
      const written = writeHardenedProfile(dir);
      expect(written).not.toBeNull();
      const profile = JSON.parse(readFileSync(written!, 'utf8')) as SeccompProfile;
      for (const name of ['unshare', 'mount', 'keyctl']) {
        expect(
          rulesFor(profile, name).every((r) => r.action === 'SCMP_ACT_ERRNO'),
          name,
        ).toBe(true);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
