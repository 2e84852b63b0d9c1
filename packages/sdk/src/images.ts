import type { ImageInfo } from '@berth/protocol';
import { DEFAULT_WAIT_TIMEOUT_MS, type HttpClient, type RequestOptions } from './client.js';

/** `berth.images`: the image of each runtime, and building the built-in ones. */
export class Images {
  readonly #http: HttpClient;

  constructor(http: HttpClient) {
    this.#http = http;
  }

  /** One entry per runtime: its image and whether the engine has it. */
  async list(options: RequestOptions = {}): Promise<ImageInfo[]> {
    return (await this.#http.call<{ items: ImageInfo[] }>('listImages', options)).body.items;
  }

  /** Builds (or pulls) a runtime's image now; may take minutes (default deadline 10 minutes). */
  async build(runtime: string, options: RequestOptions = {}): Promise<ImageInfo> {
    const { body } = await this.#http.call<ImageInfo>('buildImage', {
      params: { runtime },
      timeoutMs: options.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS,
      signal: options.signal,
    });
    return body;
  }
}
