import { BlockList, isIP } from 'node:net';
import type { EgressMode } from '@berth/protocol';

/**
 * Egress policy decisions, pure: host normalisation (B21), rule matching, and the dial-time IP deny
 * list (X3). The gateway calls `decide` before it resolves anything (X2/E9) and `deniedAddress` on
 * every resolved address before it dials (E10, B19, B20).
 */

/** A host rule: exact host or `*.suffix` (sub-domains only, at a label boundary), optional port. */
export interface HostRule {
  host: string;
  wildcard: boolean;
  /** null: the web ports, 80 and 443. */
  port: number | null;
  /** As written, for events and errors. */
  text: string;
}

export interface Target {
  host: string;
  port: number;
  /** The host is an IP literal (canonical form, IPv6 without brackets). */
  ip: boolean;
}

export interface CompiledPolicy {
  mode: EgressMode;
  allow: HostRule[];
  deny: HostRule[];
  /** Hosts some grant injects a credential for: reachable on 443 without an allow rule. */
  grantedHosts: string[];
}

export type Decision =
  | { allowed: true; reason: 'allow-rule' | 'grant' | 'open'; rule: string | null }
  | { allowed: false; reason: 'mode-none' | 'deny-rule' | 'not-allowed'; rule: string | null };

const WEB_PORTS = [80, 443];
// Characters that never belong to a host and that parsers disagree on (userinfo, paths, escapes).
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const FORBIDDEN = /[@/\\?#%\s\u0000-\u001f\u007f]/;

/**
 * A host as it will be matched and dialled: lowercase, without a trailing dot, IDNA to punycode,
 * IPv4 in dotted form whatever way it was written (`0xa9fea9fe`, `2852039166`, `0251.0376.0251.0376`,
 * `127.1`), IPv6 compressed without brackets. null when it is not a host at all.
 */
export function normalizeHost(raw: string): { host: string; ip: boolean } | null {
  if (raw.length === 0 || raw.length > 253 + 2 || FORBIDDEN.test(raw)) return null;
  const bracketed = raw.startsWith('[') ? raw : isIP(raw) === 6 ? `[${raw}]` : raw;
  let hostname: string;
  try {
    hostname = new URL(`http://${bracketed}/`).hostname;
  } catch {
    return null;
  }
  if (hostname.startsWith('[')) {
    const v6 = hostname.slice(1, -1);
    return isIP(v6) === 6 ? { host: v6, ip: true } : null;
  }
  const host = hostname.endsWith('.') ? hostname.slice(0, -1) : hostname;
  if (host.length === 0 || host.endsWith('.')) return null;
  if (isIP(host) === 4) return { host, ip: true };
  if (!/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(host)) return null;
  return { host, ip: false };
}

/**
 * `host:port` of a CONNECT request or a Host header. Userinfo, paths and anything a URL parser
 * could read two ways are refused (B21: `api.github.com:443@evil.com`).
 */
export function parseAuthority(authority: string, defaultPort: number | null): Target | null {
  if (FORBIDDEN.test(authority)) return null;
  let hostPart = authority;
  let portText: string | null = null;
  if (authority.startsWith('[')) {
    const end = authority.indexOf(']');
    if (end < 0) return null;
    hostPart = authority.slice(0, end + 1);
    const rest = authority.slice(end + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return null;
      portText = rest.slice(1);
    }
  } else {
    const colon = authority.lastIndexOf(':');
    if (colon >= 0) {
      if (authority.indexOf(':') !== colon) return null; // bare IPv6 without brackets
      hostPart = authority.slice(0, colon);
      portText = authority.slice(colon + 1);
    }
  }
  let port = defaultPort;
  if (portText !== null) {
    if (!/^[0-9]{1,5}$/.test(portText)) return null;
    port = Number(portText);
  }
  if (port === null || port < 1 || port > 65535) return null;
  const normal = normalizeHost(hostPart);
  return normal ? { host: normal.host, port, ip: normal.ip } : null;
}

/** Parses `api.example.com`, `*.example.com`, `10.1.2.3`, each optionally `:port`; throws a message. */
export function parseRule(text: string): HostRule {
  const wildcard = text.startsWith('*.');
  const body = wildcard ? text.slice(2) : text;
  const hasPort = /^(\[[^\]]*\]|[^:]*):[0-9]+$/.test(body);
  const parsed = parseAuthority(body, 443);
  const target = parsed && { ...parsed, port: hasPort ? parsed.port : 0 };
  if (!target) {
    throw new Error(
      `${JSON.stringify(text)} is not a host rule: use "api.example.com", "*.example.com" or an IP, optionally with ":port"`,
    );
  }
  if (wildcard && target.ip) throw new Error(`${JSON.stringify(text)}: wildcards apply to names, not IPs`);
  if (wildcard && !target.host.includes('.')) {
    throw new Error(
      `${JSON.stringify(text)}: a wildcard needs at least two labels after "*." (e.g. *.example.com)`,
    );
  }
  return { host: target.host, wildcard, port: target.port === 0 ? null : target.port, text };
}

export function ruleMatches(rule: HostRule, target: Target): boolean {
  const portOk = rule.port === null ? WEB_PORTS.includes(target.port) : rule.port === target.port;
  if (!portOk) return false;
  if (rule.wildcard) return !target.ip && target.host.endsWith(`.${rule.host}`);
  return rule.host === target.host;
}

/** The policy decision, taken on the name before anything is resolved (X2). Deny wins. */
export function decide(policy: CompiledPolicy, target: Target): Decision {
  if (policy.mode === 'none') return { allowed: false, reason: 'mode-none', rule: null };
  const denied = policy.deny.find((r) => ruleMatches(r, target));
  if (denied) return { allowed: false, reason: 'deny-rule', rule: denied.text };
  if (policy.mode === 'open') return { allowed: true, reason: 'open', rule: null };
  const allowed = policy.allow.find((r) => ruleMatches(r, target));
  if (allowed) return { allowed: true, reason: 'allow-rule', rule: allowed.text };
  if (!target.ip && target.port === 443 && policy.grantedHosts.includes(target.host)) {
    return { allowed: true, reason: 'grant', rule: null };
  }
  return { allowed: false, reason: 'not-allowed', rule: null };
}

/** X3: never dialled, whatever a name resolves to. */
export const X3_DENY = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '224.0.0.0/4',
  '240.0.0.0/4',
  '::/128',
  '::1/128',
  // ::ffff:0:0/96 (IPv4-mapped) is refused by `deniedAddress` itself: Node's BlockList would match
  // every IPv4 address against it.
  'fc00::/7',
  'fe80::/10',
  'fd00:ec2::254/128',
];
/** Cloud metadata addresses: refused even inside an operator's exception. */
const METADATA = ['169.254.169.254', 'fd00:ec2::254', '169.254.170.2'];

function toBlockList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [net, bits] = cidr.split('/') as [string, string | undefined];
    const type = isIP(net) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(net, type);
    else list.addSubnet(net, Number(bits), type);
  }
  return list;
}

/**
 * The dial-time check (X3). `extraDeny` adds the operator's ranges (Berth's own service addresses);
 * `exceptions` lets an operator reach a private range on purpose (an internal registry; the tests'
 * upstream servers on 127.0.0.2) — never the metadata addresses.
 */
export class AddressPolicy {
  private readonly deny: BlockList;
  private readonly allow: BlockList;

  constructor(extraDeny: readonly string[] = [], exceptions: readonly string[] = []) {
    this.deny = toBlockList([...X3_DENY, ...extraDeny]);
    this.allow = toBlockList(exceptions);
  }

  /** Why an address must not be dialled, or null when it may. */
  deniedAddress(address: string): string | null {
    const family = isIP(address);
    if (family === 0) return 'not an IP address';
    const mapped = family === 6 ? /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1] : undefined;
    const v4 = mapped ?? (family === 4 ? address : null);
    if (METADATA.includes(address) || (v4 !== null && METADATA.includes(v4))) return 'cloud metadata address';
    if (mapped !== undefined || (family === 6 && address.toLowerCase().startsWith('::ffff:'))) {
      return 'IPv4-mapped IPv6 address';
    }
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (this.allow.check(address, type)) return null;
    return this.deny.check(address, type) ? 'private, loopback, link-local or reserved address (X3)' : null;
  }
}
