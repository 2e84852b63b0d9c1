import { SECRET_MAX_VALUE_BYTES, SECRET_NAME_PATTERN, type SecretInfo } from '@berth/protocol';
import { AppError } from '../errors.js';
import type { Logger, SecretRegistry } from '../log/logger.js';
import type { SecretRepo, SecretRow } from '../store/secret-repo.js';
import { newSecretId } from '../util/ids.js';
import { SecretCipherError, type SecretCipher } from './cipher.js';

export interface SecretServiceDeps {
  repo: SecretRepo;
  cipher: SecretCipher;
  /** The log masker: every value put, resolved or opened is added, so no log line can carry it. */
  registry: SecretRegistry;
  logger: Logger;
  /** Where the keys come from, for error messages (`BERTH_SECRETS_KEY` or the key file's path). */
  keySource: string;
  /** Other values sealed with these keys (the egress gateway's CA keys), re-sealed by `rekey` too. */
  resealOthers?: () => Promise<number>;
}

export interface SecretScopeOptions {
  /** A workspace id (`ws_…`, already resolved and authorised by the caller); absent: global. */
  workspaceId?: string | undefined;
}

const toInfo = (row: SecretRow): SecretInfo => ({
  name: row.name,
  scope: row.workspaceId === null ? 'global' : 'workspace',
  workspaceId: row.workspaceId,
  createdAt: row.createdAt,
  updatedAt: row.updatedAt,
});

/**
 * Named secrets, global or per workspace, sealed at rest with the secrets key. Values go in and
 * come out only through `put` and `resolve` (the egress gateway's door); nothing here returns,
 * logs or puts a value into an error.
 */
export class SecretService {
  private readonly log: Logger;

  constructor(private readonly deps: SecretServiceDeps) {
    this.log = deps.logger.child({ component: 'secrets' });
  }

  /** Creates or replaces a secret; `created` tells which. */
  async put(
    name: string,
    value: unknown,
    options: SecretScopeOptions = {},
  ): Promise<{ secret: SecretInfo; created: boolean }> {
    checkName(name);
    const plain = checkValue(value);
    this.deps.registry.add(plain);
    const workspaceId = options.workspaceId ?? null;
    const result = await this.deps.repo.put({
      id: newSecretId(),
      name,
      workspaceId,
      sealedValue: this.deps.cipher.seal(plain),
      keyId: this.deps.cipher.activeKeyId,
    });
    if (result.kind === 'workspace_gone') {
      throw new AppError('workspace_not_found', `workspace ${workspaceId} was deleted; nothing was stored`);
    }
    this.log.info({ secretName: name, workspaceId, created: result.kind === 'created' }, 'secret stored');
    return { secret: toInfo(result.row), created: result.kind === 'created' };
  }

  /** Names and metadata of one scope's secrets (never values). */
  async list(options: SecretScopeOptions = {}): Promise<SecretInfo[]> {
    return (await this.deps.repo.list(options.workspaceId ?? null)).map(toInfo);
  }

  /** Deletes a secret from its scope; false when it was not there. */
  async delete(name: string, options: SecretScopeOptions = {}): Promise<boolean> {
    checkName(name);
    const workspaceId = options.workspaceId ?? null;
    const deleted = await this.deps.repo.delete(name, workspaceId);
    if (deleted) this.log.info({ secretName: name, workspaceId }, 'secret deleted');
    return deleted;
  }

  /**
   * The value the workspace gets for `name`: its own secret first, else the global one, else null.
   * `secret_unreadable` when the stored value does not open with the configured keys (never a
   * garbled value). This is what the egress gateway calls to inject credentials.
   */
  async resolve(
    workspaceId: string,
    name: string,
    options: { global?: boolean } = {},
  ): Promise<string | null> {
    if (!SECRET_NAME_PATTERN.test(name)) return null;
    const rows = await this.deps.repo.candidates(workspaceId, name);
    const row =
      rows.find((r) => r.workspaceId === workspaceId) ??
      (options.global === false ? undefined : rows.find((r) => r.workspaceId === null));
    if (!row) return null;
    return this.open(row);
  }

  /**
   * Re-seals every secret with the active key (after a new key was put first in the key file);
   * returns how many. Opens them all before writing any, so a secret no key opens changes nothing.
   */
  async rekey(): Promise<number> {
    const opened = (await this.deps.repo.all()).map((row) => ({ row, plain: this.open(row) }));
    let count = 0;
    for (const { row, plain } of opened) {
      const sealed = this.deps.cipher.seal(plain);
      // A put in between already sealed that row with the active key: it wins.
      if (await this.deps.repo.reseal(row.id, row.sealedValue, sealed, this.deps.cipher.activeKeyId)) count++;
    }
    const others = (await this.deps.resealOthers?.()) ?? 0;
    this.log.info(
      { count, others, keyId: this.deps.cipher.activeKeyId },
      'secrets re-sealed with the active key',
    );
    return count;
  }

  get activeKeyId(): string {
    return this.deps.cipher.activeKeyId;
  }

  /**
   * Start-up check: every stored secret opens with the configured keys (each value is added to the
   * log masker). Throws, naming key ids and secret names only, when one does not: a server with
   * the wrong key must not run, or it would seal new values with a key the old ones do not share.
   */
  async verify(): Promise<number> {
    const rows = await this.deps.repo.all();
    const failures: { row: SecretRow; err: SecretCipherError }[] = [];
    for (const row of rows) {
      try {
        this.deps.registry.add(this.deps.cipher.open(row.sealedValue).toString('utf8'));
      } catch (err) {
        if (!(err instanceof SecretCipherError)) throw err;
        failures.push({ row, err });
      }
    }
    const first = failures[0];
    if (first) {
      const names = failures.slice(0, 5).map(({ row }) => describe(row));
      throw new Error(
        `${failures.length} of ${rows.length} stored secrets cannot be opened with the keys in ${this.deps.keySource} ` +
          `(${this.deps.cipher.keyIds.join(', ')}): ${names.join(', ')}${failures.length > 5 ? ', …' : ''} — ${first.err.message}. ` +
          `Put the key that sealed them back into ${this.deps.keySource} (any line opens; the first seals new values). ` +
          'If that key is lost for good, those values cannot be recovered: delete their rows from the store’s `secrets` table and set them again.',
      );
    }
    return rows.length;
  }

  private open(row: SecretRow): string {
    try {
      const plain = this.deps.cipher.open(row.sealedValue).toString('utf8');
      this.deps.registry.add(plain);
      return plain;
    } catch (err) {
      if (!(err instanceof SecretCipherError)) throw err;
      this.log.error(
        { secretName: row.name, workspaceId: row.workspaceId, err: err.message },
        'secret unreadable',
      );
      throw new AppError(
        'secret_unreadable',
        `secret ${describe(row)} cannot be opened (${err.message}); put the key that sealed it back into ${this.deps.keySource} (any line opens), or set the secret again`,
      );
    }
  }
}

function describe(row: SecretRow): string {
  return row.workspaceId === null ? `"${row.name}" (global)` : `"${row.name}" (workspace ${row.workspaceId})`;
}

function checkName(name: string): void {
  if (!SECRET_NAME_PATTERN.test(name)) {
    throw new AppError(
      'invalid_secret_name',
      'a secret name is a letter or _, then up to 127 letters, digits, _, . or - (e.g. ANTHROPIC_API_KEY)',
    );
  }
}

/** The value as a string, or a 400 that never repeats it. */
function checkValue(value: unknown): string {
  const fix = `send {"value": "<UTF-8 text, 1 byte to ${SECRET_MAX_VALUE_BYTES / 1024} KiB>"}; base64-encode binary values`;
  if (typeof value !== 'string') {
    throw new AppError('invalid_secret_value', `the secret value must be a string: ${fix}`);
  }
  if (!value.isWellFormed()) {
    throw new AppError('invalid_secret_value', `the secret value has unpaired UTF-16 surrogates: ${fix}`);
  }
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes < 1 || bytes > SECRET_MAX_VALUE_BYTES) {
    throw new AppError('invalid_secret_value', `the secret value is ${bytes} bytes: ${fix}`);
  }
  return value;
}
