import { HttpClient, type BerthOptions } from './client.js';
import { Events } from './events.js';
import { Images } from './images.js';
import { Secrets } from './secrets.js';
import { Runtimes, System } from './system.js';
import { Tokens } from './tokens.js';
import { Workspaces } from './workspaces.js';

/**
 * The Berth client.
 *
 * ```ts
 * const berth = new Berth({ url: 'http://127.0.0.1:7420', token });
 * await using ws = await berth.workspaces.create({ runtime: 'shell' });
 * console.log(ws.status, ws.endpoint()?.url);
 * ```
 */
export class Berth {
  /** The API base URL in use. */
  readonly url: string;
  readonly workspaces: Workspaces;
  /** Events of every workspace the token may see: pages, or a live stream. */
  readonly events: Events;
  readonly system: System;
  readonly runtimes: Runtimes;
  readonly images: Images;
  readonly tokens: Tokens;
  /** Secrets: write-only named values, global or per workspace. */
  readonly secrets: Secrets;

  constructor(options: BerthOptions = {}) {
    const http = new HttpClient(options);
    this.url = http.url;
    this.workspaces = new Workspaces(http);
    this.events = new Events(http);
    this.system = new System(http);
    this.runtimes = new Runtimes(http);
    this.images = new Images(http);
    this.tokens = new Tokens(http);
    this.secrets = new Secrets(http);
  }
}
