import type { RuntimeInfo, SystemInfo } from '@berth/protocol';
import type { HttpClient, RequestOptions } from './client.js';
import { decodeError } from './errors.js';

/** `GET /healthz`: answers without a token. */
export interface HealthStatus {
  status: 'ok' | 'degraded';
  version: string;
  engine: { healthy: boolean };
}

function isHealth(body: unknown): body is HealthStatus {
  return (
    typeof body === 'object' && body !== null && typeof (body as { status?: unknown }).status === 'string'
  );
}

/** `berth.system`: the server and its container engine. */
export class System {
  readonly #http: HttpClient;

  constructor(http: HttpClient) {
    this.#http = http;
  }

  /** Server version, engine facts (version, OS, OCI runtimes, capabilities) and tier policy. */
  async info(options: RequestOptions = {}): Promise<SystemInfo> {
    return (await this.#http.call<SystemInfo>('systemInfo', options)).body;
  }

  /**
   * Liveness and engine health. A degraded server is a result, not an error, even when it answers
   * 503 with a health document.
   */
  async health(options: RequestOptions = {}): Promise<HealthStatus> {
    const { status, headers, body } = await this.#http.call<unknown>('health', {
      ...options,
      acceptStatus: [503],
    });
    if (isHealth(body)) return body;
    // A 503 that is not a health document (e.g. an ErrorBody or a proxy page) is an error after all.
    throw decodeError(status, headers, JSON.stringify(body ?? null));
  }
}

/** `berth.runtimes`: the runtime catalogue (what `spec.runtime` may name). */
export class Runtimes {
  readonly #http: HttpClient;

  constructor(http: HttpClient) {
    this.#http = http;
  }

  async list(options: RequestOptions = {}): Promise<RuntimeInfo[]> {
    return (await this.#http.call<{ items: RuntimeInfo[] }>('listRuntimes', options)).body.items;
  }
}
