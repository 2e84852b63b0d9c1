import type { ImageInfo, Progress } from '@berth/protocol';
import { deadline, sleep } from './abort.js';
import { DEFAULT_WAIT_TIMEOUT_MS, type HttpClient, type RequestOptions } from './client.js';
import { errorFromCode } from './errors.js';

export interface BuildOptions extends RequestOptions {
  /**
   * Called with each new progress report. With it, the build is started without holding a request
   * open (`wait=false`) and followed through `GET /v1/images`, so builds longer than an HTTP
   * client's header timeout still end well.
   */
  onProgress?: (progress: Progress) => void;
  /** How often the image list is read while following a build (default 250 ms). */
  pollIntervalMs?: number;
}

/** `berth.images`: the image of each runtime, and building (or pulling) it now. */
export class Images {
  readonly #http: HttpClient;

  constructor(http: HttpClient) {
    this.#http = http;
  }

  /** One entry per runtime: its image and whether the engine has it. */
  async list(options: RequestOptions = {}): Promise<ImageInfo[]> {
    return (await this.#http.call<{ items: ImageInfo[] }>('listImages', options)).body.items;
  }

  /**
   * Builds (or pulls) a runtime's image now; may take minutes (default deadline 10 minutes).
   * Throws the server's error (e.g. `image_build_failed` naming the step and its last output).
   */
  async build(runtime: string, options: BuildOptions = {}): Promise<ImageInfo> {
    const totalMs = options.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS;
    if (!options.onProgress) {
      const { body } = await this.#http.call<ImageInfo>('buildImage', {
        params: { runtime },
        timeoutMs: totalMs,
        signal: options.signal,
      });
      return body;
    }
    const signal = deadline(totalMs, options.signal);
    const started = await this.#http.call<ImageInfo>('buildImage', {
      params: { runtime },
      query: { wait: false },
      signal,
    });
    let last = '';
    let current = started.body;
    for (;;) {
      if (current.progress) {
        const key = JSON.stringify(current.progress);
        if (key !== last) options.onProgress(current.progress);
        last = key;
      } else {
        if (current.lastError) throw errorFromCode(current.lastError.code, current.lastError.message, 500);
        return current;
      }
      await sleep(options.pollIntervalMs ?? 250, signal);
      const found = (await this.list({ signal })).find((i) => i.runtime === runtime);
      if (!found)
        throw errorFromCode('runtime_not_found', `runtime "${runtime}" is no longer in the catalogue`);
      current = found;
    }
  }
}
