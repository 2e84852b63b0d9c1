import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';

/** Default key file in the data dir (`secrets.keyFile` overrides it, `BERTH_SECRETS_KEY` replaces it). */
export const SECRETS_KEY_FILE = 'secrets.key';
/** A key id: it is part of every sealed value, so no `.` (the separator) and no `:`. */
export const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

const VERSION = 'v1';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

export type SecretCipherFailure = 'malformed' | 'unknown_key' | 'auth_failed';

/** A sealed value that cannot be opened. The message names key ids, never key bytes or plaintext. */
export class SecretCipherError extends Error {
  override readonly name = 'SecretCipherError';
  constructor(
    readonly reason: SecretCipherFailure,
    message: string,
    readonly keyId: string | null = null,
  ) {
    super(message);
  }
}

export interface SecretKey {
  id: string;
  key: Buffer;
}

/**
 * AES-256-GCM with a random 96-bit nonce per seal, the key id authenticated as additional data.
 * A sealed value is `v1.<keyId>.<base64url nonce>.<base64url ciphertext+tag>`. The first key seals;
 * every key opens, which is what rotation needs (new key first, old one below until `rekey`).
 */
export class SecretCipher {
  readonly #keys = new Map<string, Buffer>();
  readonly activeKeyId: string;

  constructor(keys: readonly SecretKey[]) {
    const first = keys[0];
    if (!first) throw new Error('a secrets cipher needs at least one key');
    for (const { id, key } of keys) {
      if (!KEY_ID_PATTERN.test(id)) throw new Error(`secrets key id "${id}" must match ${KEY_ID_PATTERN}`);
      if (key.length !== KEY_BYTES) throw new Error(`secrets key "${id}" must be ${KEY_BYTES} bytes`);
      if (this.#keys.has(id)) throw new Error(`secrets key id "${id}" appears twice`);
      this.#keys.set(id, Buffer.from(key));
    }
    this.activeKeyId = first.id;
  }

  /** Every key id, the active one first. */
  get keyIds(): string[] {
    return [...this.#keys.keys()];
  }

  hasKey(keyId: string): boolean {
    return this.#keys.has(keyId);
  }

  seal(plain: Buffer | string): string {
    const keyId = this.activeKeyId;
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#keys.get(keyId) as Buffer, nonce, {
      authTagLength: TAG_BYTES,
    });
    cipher.setAAD(Buffer.from(keyId, 'utf8'));
    const data = typeof plain === 'string' ? Buffer.from(plain, 'utf8') : plain;
    const sealed = Buffer.concat([cipher.update(data), cipher.final(), cipher.getAuthTag()]);
    return `${VERSION}.${keyId}.${nonce.toString('base64url')}.${sealed.toString('base64url')}`;
  }

  /** The key id a sealed value names (without opening it); throws `malformed`. */
  keyIdOf(sealed: string): string {
    return parseSealed(sealed).keyId;
  }

  /** Opens a sealed value; `SecretCipherError` when it is malformed, its key is unknown, or it was altered. */
  open(sealed: string): Buffer {
    const { keyId, nonce, body } = parseSealed(sealed);
    const key = this.#keys.get(keyId);
    if (!key) {
      throw new SecretCipherError(
        'unknown_key',
        `sealed with key "${keyId}", which is not among the configured keys (${this.keyIds.join(', ')})`,
        keyId,
      );
    }
    const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(keyId, 'utf8'));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new SecretCipherError(
        'auth_failed',
        `does not authenticate with key "${keyId}": the configured key "${keyId}" is not the one that sealed it, or the value was altered`,
        keyId,
      );
    }
  }
}

function parseSealed(sealed: string): { keyId: string; nonce: Buffer; body: Buffer } {
  const parts = sealed.split('.');
  const [version, keyId, nonceText, bodyText] = parts;
  const malformed = (why: string) =>
    new SecretCipherError('malformed', `not a sealed secret (${why})`, keyId ?? null);
  if (parts.length !== 4 || version !== VERSION)
    throw malformed(`expected ${VERSION}.<keyId>.<nonce>.<data>`);
  if (!keyId || !KEY_ID_PATTERN.test(keyId)) throw malformed('bad key id');
  const nonce = decodeBase64url(nonceText ?? '');
  const body = decodeBase64url(bodyText ?? '');
  if (nonce?.length !== NONCE_BYTES) throw malformed('bad nonce');
  if (!body || body.length < TAG_BYTES) throw malformed('bad data');
  return { keyId, nonce, body };
}

function decodeBase64url(text: string): Buffer | null {
  if (!BASE64URL.test(text)) return null;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : null;
}

/**
 * Parses key material: `<keyId>:<base64 of 32 bytes>` entries, one per line (newlines, commas or
 * spaces separate them, `#` starts a comment). The first is the active key. Errors name the entry
 * and key id, never key bytes.
 */
export function parseKeyMaterial(text: string, source: string): SecretKey[] {
  const entries = text
    .split('\n')
    .map((line) => line.replace(/#.*$/, ''))
    .flatMap((line) => line.split(/[\s,]+/))
    .filter((entry) => entry !== '');
  if (entries.length === 0) {
    throw new Error(
      `${source} holds no key; write one line <keyId>:<base64 of 32 bytes>, e.g. "k1:$(openssl rand -base64 32)"`,
    );
  }
  const keys: SecretKey[] = [];
  entries.forEach((entry, i) => {
    const colon = entry.indexOf(':');
    const id = colon < 0 ? '' : entry.slice(0, colon);
    const encoded = colon < 0 ? '' : entry.slice(colon + 1);
    const where = `${source}, key ${i + 1}${id ? ` ("${id}")` : ''}`;
    if (!KEY_ID_PATTERN.test(id)) {
      throw new Error(`${where}: expected <keyId>:<base64>, the id 1-32 letters, digits, _ or -`);
    }
    const key = /^[A-Za-z0-9+/_-]+={0,2}$/.test(encoded) ? Buffer.from(encoded, 'base64') : Buffer.alloc(0);
    if (key.length !== KEY_BYTES) {
      throw new Error(`${where}: the key must be ${KEY_BYTES} bytes of base64 (openssl rand -base64 32)`);
    }
    if (keys.some((k) => k.id === id)) throw new Error(`${where}: the key id appears twice`);
    keys.push({ id, key });
  });
  return keys;
}

export interface LoadedSecretCipher {
  cipher: SecretCipher;
  /** Where the keys came from, for the start-up log (never the keys). */
  source: 'env' | 'file' | 'generated';
  file: string | null;
}

/**
 * The secrets keys: `BERTH_SECRETS_KEY` when set; otherwise the key file (`keyFile`, default
 * `<dataDir>/secrets.key`), created with one random key and mode 0600 at first start. A key file
 * that group or others may access is refused: it opens every secret.
 */
export function loadSecretCipher(
  dataDir: string,
  env: NodeJS.ProcessEnv = process.env,
  options: { keyFile?: string | undefined } = {},
): LoadedSecretCipher {
  const fromEnv = env.BERTH_SECRETS_KEY;
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    return {
      cipher: new SecretCipher(parseKeyMaterial(fromEnv, 'BERTH_SECRETS_KEY')),
      source: 'env',
      file: null,
    };
  }
  const file = options.keyFile ?? join(dataDir, SECRETS_KEY_FILE);
  let source: LoadedSecretCipher['source'] = 'file';
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  if (!existsSync(file)) {
    // Written whole under a temporary name, then linked into place, which fails if the file
    // appeared meanwhile: two servers starting on one data dir never read a half-written or
    // second, different key.
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      writeSync(fd, generatedKeyFile());
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(tmp, file);
      source = 'generated';
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      unlinkSync(tmp);
    }
  }
  const mode = statSync(file).mode;
  if ((mode & 0o077) !== 0) {
    throw new Error(
      `${file} is accessible by group or others (mode ${(mode & 0o777).toString(8).padStart(4, '0')}); it holds the keys that open every secret. Run: chmod 600 ${file} (and consider rotating the key if others could read it)`,
    );
  }
  return { cipher: new SecretCipher(parseKeyMaterial(readFileSync(file, 'utf8'), file)), source, file };
}

function generatedKeyFile(): string {
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '');
  const id = `k${day}${randomBytes(2).toString('hex')}`;
  return (
    '# Berth secrets keys, one per line: <keyId>:<base64 of 32 bytes>.\n' +
    '# The first line seals new values; every line opens. Rotation: README, "Secrets".\n' +
    `${id}:${randomBytes(KEY_BYTES).toString('base64')}\n`
  );
}
