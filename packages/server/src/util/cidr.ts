import { isIP } from 'node:net';
/** IPv4 CIDR arithmetic for allocating per-workspace subnets. Pure. */
export interface Cidr {
  base: number;
  prefix: number;
}

export function parseCidr(text: string): Cidr {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text.trim());
  if (!m) throw new Error(`not an IPv4 CIDR: ${text}`);
  const octets = m.slice(1, 5).map(Number);
  const prefix = Number(m[5]);
  if (octets.some((o) => o > 255) || prefix > 32) throw new Error(`not an IPv4 CIDR: ${text}`);
  const ip = octets.reduce((acc, o) => acc * 256 + o, 0);
  const size = 2 ** (32 - prefix);
  return { base: ip - (ip % size), prefix };
}

export function formatCidr(c: Cidr): string {
  const o = [24, 16, 8, 0].map((shift) => Math.floor(c.base / 2 ** shift) % 256);
  return `${o.join('.')}/${c.prefix}`;
}

const size = (c: Cidr): number => 2 ** (32 - c.prefix);

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.base < b.base + size(b) && b.base < a.base + size(a);
}

/**
 * Picks a /`prefix` subnet inside `pool` that overlaps none of `used`, starting at slot `start`
 * (so concurrent allocators spread out) and wrapping around. Null when the pool is full.
 */
export function pickSubnet(
  pool: string,
  prefix: number,
  used: readonly string[],
  start: number,
): string | null {
  const p = parseCidr(pool);
  if (prefix < p.prefix) throw new Error(`subnet prefix /${prefix} is larger than the pool ${pool}`);
  const taken = used.flatMap((u) => {
    try {
      return [parseCidr(u)];
    } catch {
      return []; // IPv6 or malformed: cannot overlap an IPv4 pool
    }
  });
  const slots = 2 ** (prefix - p.prefix);
  const step = 2 ** (32 - prefix);
  for (let i = 0; i < slots; i++) {
    const slot = ((((start % slots) + slots) % slots) + i) % slots;
    const candidate = { base: p.base + slot * step, prefix };
    if (!taken.some((t) => overlaps(t, candidate))) return formatCidr(candidate);
  }
  return null;
}

/** `a.b.c.d/n`, `x::y/n` or a bare address. */
export function isCidr(text: string): boolean {
  const [net, bits, extra] = text.split('/');
  if (extra !== undefined || net === undefined || isIP(net) === 0) return false;
  if (bits === undefined) return true;
  const max = isIP(net) === 6 ? 128 : 32;
  return /^[0-9]{1,3}$/.test(bits) && Number(bits) <= max;
}
