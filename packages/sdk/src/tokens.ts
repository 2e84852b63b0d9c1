import type { ApiToken, CreatedApiToken, TokenScope } from '@berth/protocol';
import type { HttpClient, RequestOptions } from './client.js';

export interface CreateTokenInput {
  name: string;
  /** `user` (default) sees only its own workspaces and tiers 1-2; `admin` may do everything. */
  scope?: TokenScope;
}

/** `berth.tokens`: API tokens (admin only). */
export class Tokens {
  readonly #http: HttpClient;

  constructor(http: HttpClient) {
    this.#http = http;
  }

  /** Creates a token; the returned `secret` is shown only this once. */
  async create(input: CreateTokenInput, options: RequestOptions = {}): Promise<CreatedApiToken> {
    const body = { name: input.name, scope: input.scope ?? 'user' };
    return (await this.#http.call<CreatedApiToken>('createToken', { ...options, body })).body;
  }

  async list(options: RequestOptions = {}): Promise<ApiToken[]> {
    return (await this.#http.call<{ items: ApiToken[] }>('listTokens', options)).body.items;
  }

  /** Revokes a token; `NotFoundError` (`token_not_found`) when there is no such token. */
  async revoke(id: string, options: RequestOptions = {}): Promise<void> {
    await this.#http.call<undefined>('revokeToken', { ...options, params: { id } });
  }
}
