import type { RuntimeInfo } from '@berth/protocol';
import type { Config, RuntimeConfig } from '../config/schema.js';
import { AppError } from '../errors.js';
import { BERTH_VERSION } from '../version.js';

export interface Runtime extends RuntimeConfig {
  name: string;
}

/** The image Berth builds offline from a static busybox; also Berth's helper image. */
export const SHELL_IMAGE = `berth-shell:${BERTH_VERSION}`;

const BUILT_IN: Record<string, RuntimeConfig> = {
  shell: {
    description: 'A minimal POSIX shell workspace (busybox), built locally; works offline.',
    image: SHELL_IMAGE,
    port: 8000,
    user: '1000:1000',
    requiredFiles: [],
    env: {},
    template: null,
  },
};

/**
 * The runtime catalogue: built-in entries plus those of the server config, which add to or replace
 * them by name. Images Berth has a recipe for are built when missing; all others are pulled.
 */
export class RuntimeCatalogue {
  private readonly runtimes: Map<string, Runtime>;

  constructor(config: Pick<Config, 'runtimes'>) {
    this.runtimes = new Map();
    for (const [name, rt] of Object.entries({ ...BUILT_IN, ...config.runtimes })) {
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

  static toInfo(rt: Runtime): RuntimeInfo {
    return {
      name: rt.name,
      description: rt.description,
      image: rt.image,
      port: rt.port,
      user: rt.user,
      requiredFiles: rt.requiredFiles,
      env: rt.env,
      template: rt.template,
      source: rt.image === SHELL_IMAGE ? 'build' : 'pull',
    };
  }
}
