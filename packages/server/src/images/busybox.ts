import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

const PT_INTERP = 3;

/** True when `path` is a 64-bit little-endian ELF executable without an interpreter (static). */
export function isStaticElf(path: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const header = Buffer.alloc(64);
    if (readSync(fd, header, 0, 64, 0) < 64) return false;
    if (header.readUInt32BE(0) !== 0x7f454c46 || header[4] !== 2 || header[5] !== 1) return false;
    const phoff = Number(header.readBigUInt64LE(32));
    const phentsize = header.readUInt16LE(54);
    const phnum = header.readUInt16LE(56);
    const table = Buffer.alloc(phentsize * phnum);
    readSync(fd, table, 0, table.length, phoff);
    for (let i = 0; i < phnum; i++) {
      if (table.readUInt32LE(i * phentsize) === PT_INTERP) return false;
    }
    return true;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Finds a statically linked busybox (Debian's busybox-static installs one at /bin/busybox):
 * `BERTH_BUSYBOX`, then PATH, then the usual places. Returns null when there is none.
 */
export function findStaticBusybox(env: NodeJS.ProcessEnv = process.env): string | null {
  const candidates = [
    env.BERTH_BUSYBOX,
    ...(env.PATH ?? '').split(delimiter).map((dir) => join(dir, 'busybox')),
    '/bin/busybox',
    '/usr/bin/busybox',
    '/usr/lib/initramfs-tools/bin/busybox',
  ].filter((p): p is string => !!p);
  for (const candidate of candidates) {
    try {
      if (statSync(candidate).isFile() && isStaticElf(candidate)) return candidate;
    } catch {
      // not there
    }
  }
  return null;
}
