import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseKeyMaterial, SecretCipher, SecretCipherError } from './cipher.js';

const line = (id: string, key = randomBytes(32)) => `${id}:${key.toString('base64')}`;
const cipherOf = (text: string) => new SecretCipher(parseKeyMaterial(text, 'test'));

function failure(fn: () => unknown): SecretCipherError {
  try {
    fn();
  } catch (err) {
    if (err instanceof SecretCipherError) return err;
    throw err;
  }
  throw new Error('expected a SecretCipherError');
}

/** Flips one bit of the decoded base64url part `index` of a sealed value. */
function flip(sealed: string, index: number, byte = 0): string {
  const parts = sealed.split('.');
  const bytes = Buffer.from(parts[index] as string, 'base64url');
  bytes[byte] = (bytes[byte] as number) ^ 1;
  parts[index] = bytes.toString('base64url');
  return parts.join('.');
}

describe('SecretCipher', () => {
  const a = line('a');

  it('round-trips strings and bytes in the v1 format, with a fresh nonce each time', () => {
    const cipher = cipherOf(a);
    const sealed = cipher.seal('sk-live-ünïcode');
    expect(sealed).toMatch(/^v1\.a\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(cipher.open(sealed).toString('utf8')).toBe('sk-live-ünïcode');
    const bytes = randomBytes(1000);
    expect(cipher.open(cipher.seal(bytes)).equals(bytes)).toBe(true);
    expect(cipher.seal('same')).not.toBe(cipher.seal('same'));
    expect(cipher.keyIdOf(sealed)).toBe('a');
    expect(cipher.activeKeyId).toBe('a');
  });

  it('detects tampering with the nonce, the ciphertext or the tag', () => {
    const cipher = cipherOf(a);
    const sealed = cipher.seal('a secret value');
    const body = Buffer.from(sealed.split('.')[3] as string, 'base64url');
    for (const tampered of [flip(sealed, 2), flip(sealed, 3, 0), flip(sealed, 3, body.length - 1)]) {
      expect(failure(() => cipher.open(tampered)).reason).toBe('auth_failed');
    }
    const truncated = sealed.slice(0, -4);
    expect(() => cipher.open(truncated)).toThrow(SecretCipherError);
  });

  it('refuses malformed values', () => {
    const cipher = cipherOf(a);
    for (const bad of [
      '',
      'plain text',
      'v2.a.AAAA.BBBB',
      'v1.a.!!.BBBB',
      'v1..AAAAAAAAAAAAAAAA.B',
      'v1.a.b.c.d',
    ]) {
      expect(failure(() => cipher.open(bad)).reason).toBe('malformed');
    }
  });

  it('authenticates the key id: a value relabelled with another configured key id does not open', () => {
    const shared = randomBytes(32);
    const cipher = cipherOf(`${line('a', shared)}\n${line('b', shared)}`);
    const sealed = cipher.seal('value');
    // Same key bytes under both ids: only the AAD (the key id) tells them apart.
    const relabelled = sealed.replace(/^v1\.a\./, 'v1.b.');
    expect(failure(() => cipher.open(relabelled)).reason).toBe('auth_failed');
  });

  it('names an unknown key id, and refuses a different key under the same id, never returning garbage', () => {
    const sealed = cipherOf(a).seal('value');
    const other = failure(() => cipherOf(line('z')).open(sealed));
    expect(other.reason).toBe('unknown_key');
    expect(other.keyId).toBe('a');
    expect(other.message).toContain('"a"');
    const sameIdOtherKey = failure(() => cipherOf(line('a')).open(sealed));
    expect(sameIdOtherKey.reason).toBe('auth_failed');
  });

  it('rotates: sealed with A, key file becomes "B\\nA": opens, and re-sealing uses B', () => {
    const b = line('b');
    const before = cipherOf(a);
    const old = before.seal('rotate me');
    const after = cipherOf(`${b}\n${a}\n`);
    expect(after.activeKeyId).toBe('b');
    expect(after.keyIds).toEqual(['b', 'a']);
    expect(after.open(old).toString()).toBe('rotate me');
    const resealed = after.seal(after.open(old));
    expect(after.keyIdOf(resealed)).toBe('b');
    // Once A is removed, B alone opens what was re-sealed, and not what was not.
    const onlyB = cipherOf(b);
    expect(onlyB.open(resealed).toString()).toBe('rotate me');
    expect(failure(() => onlyB.open(old)).reason).toBe('unknown_key');
  });
});

describe('parseKeyMaterial', () => {
  it('reads lines, comments, and comma or space separated keys (the env var form)', () => {
    const k1 = randomBytes(32);
    const k2 = randomBytes(32);
    const text = `# comment\n\nk1:${k1.toString('base64')}  # active\nk2:${k2.toString('base64url')}\n`;
    const keys = parseKeyMaterial(text, 'file');
    expect(keys.map((k) => k.id)).toEqual(['k1', 'k2']);
    expect(keys[1]?.key.equals(k2)).toBe(true);
    expect(parseKeyMaterial(`k1:${k1.toString('base64')},k2:${k2.toString('base64')}`, 'env')).toHaveLength(
      2,
    );
  });

  it('refuses empty material, bad ids, short keys and duplicates without echoing key bytes', () => {
    const short = randomBytes(16).toString('base64');
    const cases: [string, RegExp][] = [
      ['# nothing\n', /holds no key/],
      [`bad.id:${randomBytes(32).toString('base64')}`, /expected <keyId>:<base64>/],
      [randomBytes(32).toString('base64'), /expected <keyId>:<base64>/],
      [`k1:${short}`, /must be 32 bytes/],
      [`${line('k1')}\n${line('k1')}`, /appears twice/],
    ];
    for (const [text, message] of cases) {
      let error: Error | undefined;
      try {
        parseKeyMaterial(text, 'src');
      } catch (err) {
        error = err as Error;
      }
      expect(error?.message).toMatch(message);
      expect(error?.message).not.toContain(short);
      for (const part of text.split(/[\n:]/))
        if (part.length > 20) expect(error?.message).not.toContain(part);
    }
  });
});
