import type { RuntimeInfo } from '@berth/protocol';
import { RuntimeConfigSchema, type Config, type RuntimeConfig } from '../config/schema.js';
import { RECIPES, recipeTag } from '../images/recipes.js';
import { AGENT_CONFIG_DIRS, type AgentConfigFormat } from './agent-configs.js';
import { AppError } from '../errors.js';

export interface Runtime extends RuntimeConfig {
  name: string;
}

const SLEEP = ['sleep', 'infinity'];
/** The file each agent CLI cannot start without (the others are generated alongside it). */
const PRIMARY_CONFIG_FILE: Record<AgentConfigFormat, string> = {
  'claude-code': 'claude/settings.json',
  codex: 'codex/config.toml',
  gemini: 'gemini/settings.json',
};
const BASH = ['/bin/bash'];

/** A runtime whose image Berth builds from one of its recipes (images/<recipe>). */
function recipeRuntime(recipe: string, rt: Partial<RuntimeConfig> & { description: string }): RuntimeConfig {
  return RuntimeConfigSchema.parse({
    image: recipeTag(recipe),
    recipe,
    shell: BASH,
    provisionTimeoutMs: 180_000,
    ...rt,
  });
}

/** An agent CLI installed from the npm registry: the shim heartbeats, the CLI answers --version when ready. */
function cliRuntime(
  recipe: string,
  format: AgentConfigFormat,
  bin: string,
  requiredEnv: string[],
  description: string,
  env: Record<string, string> = {},
): RuntimeConfig {
  return recipeRuntime(recipe, {
    description,
    agent: true,
    configFormat: format,
    requiredFiles: [PRIMARY_CONFIG_FILE[format]],
    requiredEnv,
    env: { ...AGENT_CONFIG_DIRS[format].env, ...env },
    readiness: { command: [bin, '--version'], timeoutMs: 60_000, intervalMs: 500 },
  });
}

/** A Python framework in /opt/venv: the shim heartbeats; the agent's code runs through commands. */
function pythonRuntime(recipe: string, module: string, description: string): RuntimeConfig {
  return recipeRuntime(recipe, {
    description,
    agent: true,
    readiness: { command: ['python', '-c', `import ${module}`], timeoutMs: 60_000, intervalMs: 500 },
  });
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
    requiredEnv: [],
    configFormat: null,
    recipe: null, // Berth's own busybox image, made by the image service (see recipeOf)
  },
  debian: recipeRuntime('base', {
    description: 'Debian bookworm with bash, git, curl and tini: the base of every agent image.',
    command: SLEEP,
  }),
  node: recipeRuntime('node', { description: 'Node.js 24 and npm on the Debian base.', command: SLEEP }),
  python: recipeRuntime('python', {
    description: 'Python 3 with a virtual environment the agent user owns (/opt/venv).',
    command: SLEEP,
  }),
  'claude-code': cliRuntime(
    'claude-code',
    'claude-code',
    'claude',
    ['ANTHROPIC_API_KEY|ANTHROPIC_AUTH_TOKEN|CLAUDE_CODE_OAUTH_TOKEN'],
    "Anthropic's Claude Code CLI; settings and MCP servers generated into /configs/claude.",
    { DISABLE_AUTOUPDATER: '1', CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1' },
  ),
  codex: cliRuntime(
    'codex',
    'codex',
    'codex',
    ['OPENAI_API_KEY|CODEX_API_KEY'],
    "OpenAI's Codex CLI; config.toml generated into /configs/codex.",
  ),
  gemini: cliRuntime(
    'gemini',
    'gemini',
    'gemini',
    ['GEMINI_API_KEY|GOOGLE_API_KEY'],
    "Google's Gemini CLI; settings generated into /configs/gemini.",
  ),
  openclaw: recipeRuntime('openclaw', {
    description: 'OpenClaw (npm); its state lives in /configs/openclaw.',
    agent: true,
    readiness: { command: ['openclaw', '--version'], timeoutMs: 60_000, intervalMs: 500 },
  }),
  langgraph: pythonRuntime(
    'langgraph',
    'langgraph',
    'LangGraph and LangChain (Python, needs PyPI to build).',
  ),
  crewai: pythonRuntime('crewai', 'crewai', 'CrewAI (Python, needs PyPI to build).'),
  autogen: pythonRuntime('autogen', 'autogen_agentchat', 'AutoGen AgentChat (Python, needs PyPI to build).'),
  deepagents: pythonRuntime(
    'deepagents',
    'deepagents',
    "LangChain's deepagents (Python, needs PyPI to build).",
  ),
  hermes: pythonRuntime('hermes', 'hermes', 'Hermes Agent by Nous Research (Python, needs PyPI and GitHub).'),
  openhands: pythonRuntime('openhands', 'openhands', 'OpenHands (Python 3.12 via uv, needs PyPI to build).'),
});

/**
 * The runtime catalogue: built-in entries plus those of the server config, which add to or replace
 * them by name. Images Berth has a recipe for are built when missing; all others are pulled.
 */
export class RuntimeCatalogue {
  private readonly runtimes: Map<string, Runtime>;
  /** The tag of Berth's own image (built, never pulled). */
  readonly shellImage: string;

  /** Prefix of the tags of the images Berth builds from its recipes (`images.repository`). */
  readonly repository: string;

  constructor(config: Pick<Config, 'runtimes' | 'shellImage'> & { images?: { repository: string } }) {
    this.shellImage = config.shellImage;
    this.repository = config.images?.repository ?? 'berth';
    this.runtimes = new Map();
    const builtIns = Object.entries(builtIn(config.shellImage)).map(([name, rt]): [string, RuntimeConfig] => [
      name,
      rt.recipe ? { ...rt, image: recipeTag(rt.recipe, this.repository) } : rt,
    ]);
    for (const [name, rt] of Object.entries({ ...Object.fromEntries(builtIns), ...config.runtimes })) {
      if (rt.recipe && !RECIPES.some((r) => r.name === rt.recipe)) {
        throw new AppError(
          'validation_failed',
          `runtimes.${name}.recipe: Berth has no recipe "${rt.recipe}"; recipes: ${RECIPES.map((r) => r.name).join(', ')}`,
        );
      }
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

  /** The recipe that builds a runtime's image (`shell`: Berth's busybox image), or null: pulled. */
  recipeOf(rt: Runtime): string | null {
    if (rt.image === this.shellImage) return 'shell';
    return rt.recipe && rt.image === recipeTag(rt.recipe, this.repository) ? rt.recipe : null;
  }

  list(): Runtime[] {
    return [...this.runtimes.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  info(rt: Runtime, imagePresent: boolean): RuntimeInfo {
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
      source: this.recipeOf(rt) ? 'build' : 'pull',
      requiredEnv: rt.requiredEnv,
      readiness: rt.readiness ?? null,
      configFormat: rt.configFormat,
      imagePresent,
    };
  }
}
