import type { SecretInfo, SecretRekeyResult } from '@berth/protocol';
import type { HttpClient, RequestOptions } from './client.js';
import { NotFoundError } from './errors.js';

export interface SecretOptions extends RequestOptions {
  /** A workspace id (`ws_…`) or name: the secret belongs to that workspace only. Absent: global. */
  workspace?: string;
}

/** The outcome of a put: the secret's metadata (never its value) and whether it is new. */
export interface PutSecretResult {
  secret: SecretInfo;
  created: boolean;
}

/**
 * `berth.secrets`: named values that workspaces use by name (grants, `secretEnv`), sealed at rest
 * by the server. Write-only: `list` gives names and metadata, nothing returns a value. Global
 * secrets and `rekey` need an admin token; a workspace's secrets, a token that may manage it.
 */
export class Secrets {
  readonly #http: HttpClient;

  constructor(http: HttpClient) {
    this.#http = http;
  }

  /** Creates or replaces a secret (UTF-8 text, 1 byte to 64 KiB). */
  async put(name: string, value: string, options: SecretOptions = {}): Promise<PutSecretResult> {
    const { workspace, ...request } = options;
    const response =
      workspace === undefined
        ? await this.#http.call<SecretInfo>('putSecret', { ...request, params: { name }, body: { value } })
        : await this.#http.call<SecretInfo>('putWorkspaceSecret', {
            ...request,
            params: { id: workspace, name },
            body: { value },
          });
    return { secret: response.body, created: response.status === 201 };
  }

  /** The secrets of one scope (global by default), by name. */
  async list(options: SecretOptions = {}): Promise<SecretInfo[]> {
    const { workspace, ...request } = options;
    const response =
      workspace === undefined
        ? await this.#http.call<{ items: SecretInfo[] }>('listSecrets', request)
        : await this.#http.call<{ items: SecretInfo[] }>('listWorkspaceSecrets', {
            ...request,
            params: { id: workspace },
          });
    return response.body.items;
  }

  /** Deletes a secret; `false` when there was none of that name in that scope. */
  async delete(name: string, options: SecretOptions = {}): Promise<boolean> {
    const { workspace, ...request } = options;
    try {
      if (workspace === undefined) {
        await this.#http.call<undefined>('deleteSecret', { ...request, params: { name } });
      } else {
        await this.#http.call<undefined>('deleteWorkspaceSecret', {
          ...request,
          params: { id: workspace, name },
        });
      }
      return true;
    } catch (err) {
      if (err instanceof NotFoundError && err.code === 'secret_not_found') return false;
      throw err;
    }
  }

  /** Re-seals every secret with the server's active key (the last step of a key rotation; admin). */
  async rekey(options: RequestOptions = {}): Promise<SecretRekeyResult> {
    return (await this.#http.call<SecretRekeyResult>('rekeySecrets', options)).body;
  }
}

/** `ws.secrets`: the secrets of one workspace (`berth.secrets` with `workspace` set). */
export class WorkspaceSecrets {
  readonly #secrets: Secrets;
  readonly #workspace: string;

  /** @internal */
  constructor(http: HttpClient, workspace: string) {
    this.#secrets = new Secrets(http);
    this.#workspace = workspace;
  }

  put(name: string, value: string, options: RequestOptions = {}): Promise<PutSecretResult> {
    return this.#secrets.put(name, value, { ...options, workspace: this.#workspace });
  }

  list(options: RequestOptions = {}): Promise<SecretInfo[]> {
    return this.#secrets.list({ ...options, workspace: this.#workspace });
  }

  delete(name: string, options: RequestOptions = {}): Promise<boolean> {
    return this.#secrets.delete(name, { ...options, workspace: this.#workspace });
  }
}
