import { describe, expect, it } from 'vitest';
import {
  AddressPolicy,
  decide,
  normalizeHost,
  parseAuthority,
  parseRule,
  type CompiledPolicy,
} from './policy.js';
import { normalizeGrants, PLACEHOLDERS, placeholderEnv } from './grants.js';

const policy = (over: Partial<CompiledPolicy> = {}): CompiledPolicy => ({
  mode: 'allowlist',
  allow: ['api.github.com', '*.npmjs.org', 'git.example.com:22', '10.1.2.3:8080'].map(parseRule),
  deny: ['evil.npmjs.org'].map(parseRule),
  grantedHosts: ['api.anthropic.com'],
  ...over,
});
const target = (authority: string) => {
  const t = parseAuthority(authority, 443);
  if (!t) throw new Error(`unparsable ${authority}`);
  return t;
};

describe('host normalisation (B21)', () => {
  it('lowercases, strips one trailing dot, converts IDNA to punycode', () => {
    expect(normalizeHost('API.GITHUB.COM.')).toEqual({ host: 'api.github.com', ip: false });
    expect(normalizeHost('аpi.github.com')?.host).toBe('xn--pi-6kc.github.com'); // Cyrillic а
    expect(normalizeHost('bücher.example')?.host).toBe('xn--bcher-kva.example');
  });

  it('canonicalises every IPv4 spelling and IPv6', () => {
    for (const form of [
      '169.254.169.254',
      '2852039166',
      '0xa9fea9fe',
      '0251.0376.0251.0376',
      '0xA9.0xFE.0xA9.0xFE',
    ]) {
      expect(normalizeHost(form)).toEqual({ host: '169.254.169.254', ip: true });
    }
    expect(normalizeHost('127.1')).toEqual({ host: '127.0.0.1', ip: true });
    expect(normalizeHost('[fd00:ec2:0:0:0:0:0:254]')).toEqual({ host: 'fd00:ec2::254', ip: true });
    expect(normalizeHost('[::ffff:a9fe:a9fe]')?.ip).toBe(true);
  });

  it('refuses userinfo, paths, escapes and empty names', () => {
    for (const bad of ['', 'a@b', 'a/b', 'a\\b', 'a%2eb', 'a b', 'a..b', '.', '..']) {
      expect(normalizeHost(bad), bad).toBeNull();
    }
    expect(parseAuthority('api.github.com:443@evil.com', null)).toBeNull();
    expect(parseAuthority('api.github.com:99999', null)).toBeNull();
    expect(parseAuthority('api.github.com', null)).toBeNull(); // CONNECT needs a port
    expect(parseAuthority('::1:443', null)).toBeNull(); // IPv6 needs brackets
    expect(parseAuthority('[::1]:443', null)).toEqual({ host: '::1', port: 443, ip: true });
  });
});

describe('policy decision, before any resolution (X2)', () => {
  it('matches exact hosts and label-boundary wildcards only', () => {
    expect(decide(policy(), target('API.GITHUB.COM.:443'))).toMatchObject({
      allowed: true,
      rule: 'api.github.com',
    });
    expect(decide(policy(), target('registry.npmjs.org:443')).allowed).toBe(true);
    expect(decide(policy(), target('npmjs.org:443')).allowed).toBe(false); // wildcard: sub-domains only
    for (const host of [
      'github.com.evil.com',
      'evilgithub.com',
      'api.github.com.evil.com',
      'xn--pi-6kc.github.com',
    ]) {
      expect(decide(policy(), target(`${host}:443`)), host).toMatchObject({
        allowed: false,
        reason: 'not-allowed',
      });
    }
  });

  it('rules without a port allow 80 and 443 only; ports are exact otherwise', () => {
    expect(decide(policy(), target('api.github.com:22')).allowed).toBe(false);
    expect(decide(policy(), target('api.github.com:80')).allowed).toBe(true);
    expect(decide(policy(), target('git.example.com:22')).allowed).toBe(true);
    expect(decide(policy(), target('git.example.com:443')).allowed).toBe(false);
  });

  it('deny wins over allow; mode none denies everything; granted hosts are reachable on 443', () => {
    expect(decide(policy(), target('evil.npmjs.org:443'))).toMatchObject({
      allowed: false,
      reason: 'deny-rule',
    });
    expect(decide(policy({ mode: 'none' }), target('api.github.com:443')).reason).toBe('mode-none');
    expect(decide(policy(), target('api.anthropic.com:443'))).toMatchObject({
      allowed: true,
      reason: 'grant',
    });
    expect(decide(policy(), target('api.anthropic.com:80')).allowed).toBe(false);
  });

  it('IP literals match only rules naming that IP, whatever spelling was used', () => {
    expect(decide(policy(), target('10.1.2.3:8080')).allowed).toBe(true);
    expect(decide(policy(), target('0x0a010203:8080')).allowed).toBe(true);
    expect(decide(policy(), target('169.254.169.254:80')).allowed).toBe(false);
  });

  it('rules are validated', () => {
    expect(() => parseRule('*.com')).toThrow(/two labels/);
    expect(() => parseRule('*.10.0.0.1')).toThrow(/names, not IPs/);
    expect(() => parseRule('http://x.com')).toThrow(/not a host rule/);
    expect(parseRule('*.Example.COM.:8443')).toMatchObject({
      host: 'example.com',
      wildcard: true,
      port: 8443,
    });
  });
});

describe('dial-time address check (X3)', () => {
  const addresses = new AddressPolicy();
  it('refuses every X3 range, the metadata addresses and IPv4-mapped IPv6', () => {
    for (const a of [
      '0.0.0.0',
      '10.0.0.5',
      '100.64.1.1',
      '127.0.0.1',
      '169.254.169.254',
      '172.17.0.1',
      '192.168.1.1',
      '198.18.0.1',
      '224.0.0.1',
      '255.255.255.255',
      '::',
      '::1',
      '::ffff:169.254.169.254',
      '::ffff:a9fe:a9fe',
      'fc00::1',
      'fd12::1',
      'fe80::1',
      'fd00:ec2::254',
    ]) {
      expect(addresses.deniedAddress(a), a).not.toBeNull();
    }
    expect(addresses.deniedAddress('93.184.216.34')).toBeNull();
    expect(addresses.deniedAddress('2606:2800:220:1:248:1893:25c8:1946')).toBeNull();
  });

  it("an operator's exception opens a private range, never the metadata addresses", () => {
    const withException = new AddressPolicy(['93.184.0.0/16'], ['127.0.0.2/32', '169.254.0.0/16']);
    expect(withException.deniedAddress('127.0.0.2')).toBeNull();
    expect(withException.deniedAddress('127.0.0.1')).not.toBeNull();
    expect(withException.deniedAddress('169.254.169.254')).toMatch(/metadata/);
    expect(withException.deniedAddress('93.184.216.34')).not.toBeNull(); // extra deny
  });
});

describe('grants (X4)', () => {
  it('built-ins carry hosts, header and a format-valid placeholder; custom grants are validated', () => {
    const grants = normalizeGrants([
      'anthropic',
      'github',
      { name: 'internal', hosts: ['API.Internal.Example.'], header: 'X-Token', secret: 'INTERNAL_TOKEN' },
    ]);
    expect(grants.map((g) => g.name)).toEqual(['anthropic', 'github', 'internal']);
    expect(grants[2]).toMatchObject({ hosts: ['api.internal.example'], header: 'x-token', prefix: '' });
    expect(placeholderEnv(grants)).toEqual({
      ANTHROPIC_API_KEY: PLACEHOLDERS.anthropic,
      GH_TOKEN: PLACEHOLDERS.github,
    });
    expect(PLACEHOLDERS.anthropic).toMatch(/^sk-ant-api03-[A-Za-z0-9_-]{93}AA$/);
    expect(PLACEHOLDERS.github).toMatch(/^ghp_[A-Za-z0-9]{36}$/);
    expect(() => normalizeGrants(['anthropic', 'anthropic'])).toThrow(/twice/);
    expect(() => normalizeGrants([{ name: 'x', hosts: ['*.a.com'], header: 'x', secret: 'S' }])).toThrow(
      /exact/,
    );
    expect(() => normalizeGrants([{ name: 'x', hosts: ['1.2.3.4'], header: 'x', secret: 'S' }])).toThrow(
      /exact/,
    );
    expect(() => normalizeGrants([{ name: 'x', hosts: ['a.com'], header: 'Host', secret: 'S' }])).toThrow(
      /header/,
    );
    expect(() =>
      normalizeGrants([{ name: 'x', hosts: ['a.com'], header: 'x', secret: 'S', prefix: 'a\r\nb' }]),
    ).toThrow(/printable/);
    expect(() =>
      normalizeGrants(['openai', { name: 'y', hosts: ['api.openai.com'], header: 'x', secret: 'S' }]),
    ).toThrow(/same host/);
  });
});
