import type { RuntimeInfo } from '@berth/protocol';
import type { Config, RuntimeConfig } from '../config/schema.js';
import { AppError } from '../errors.js';

export interface Runtime extends RuntimeConfig {
  name: string;
}

const builtIn = (shellImage: string): Record<string, RuntimeConfig> => ({
  shell: {
    description: 'A minimal POSIX shell workspace (busybox), built locally; works offline.',
    image: shellImage,
    port: 8000,
    user: '1000:1000',
    requiredFiles: [],
    env: {},
    template: null,
    shell: ['/bin/sh'],
    agent: false,
    provisionTimeoutMs: 120_000,
    restartPolicy: 'on-failure',
  },
});

/**
 * The runtime catalogue: built-in entries plus those of the server config, which add to or replace
 * them by name. Images Berth has a recipe for are built when missing; all others are pulled.
 */
export class RuntimeCatalogue {
  private readonly runtimes: Map<string, Runtime>;
  /** The tag of Berth's own image (built, never pulled). */
  readonly shellImage: string;

  constructor(config: Pick<Config, 'runtimes' | 'shellImage'>) {
    this.shellImage = config.shellImage;
    this.runtimes = new Map();
    for (const [name, rt] of Object.entries({ ...builtIn(config.shellImage), ...config.runtimes })) {
      this.runtimes.set(name, { ...rt, name });
    }
  }

  get(name: string): Runtime {
    const rt = this.runtimes.get(name);
    if (!rt) {
      throw new AppError(
        'runtime_not_found',
        `unknown runtime "${name}"; available: ${[...this.runtimes.keys()].sort().join(', ')} (GET /v1/runtimes)`,
      );
    }
    return rt;
  }

  list(): Runtime[] {
    return [...this.runtimes.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  info(rt: Runtime): RuntimeInfo {
    return {
      name: rt.name,
      description: rt.description,
      image: rt.image,
      port: rt.port,
      user: rt.user,
      requiredFiles: rt.requiredFiles,
      env: rt.env,
      template: rt.template,
      agent: rt.agent,
      provisionTimeoutMs: rt.provisionTimeoutMs,
      restartPolicy: rt.restartPolicy,
      source: rt.image === this.shellImage ? 'build' : 'pull',
    };
  }
}
